// Failure counting shared by every code-based factor: per challenge (5 wrong codes end it) and per
// account across sign-ins (10 in a row lock the second factor for 15 minutes, doubling on each
// further lockout within a day). A success clears the account's count.
//
// The sign-in flow takes a slot (`reserve`) before any code is checked. Counting a failure only
// after checking it let parallel submissions all pass a "challenge over?" test and get ~30 of 50
// codes checked in one sign-in; the slot is one atomic increment, so exactly
// challengeMaxFailures codes per sign-in are ever checked. The account-wide cap needs no slot:
// a correct code is accepted only while the account is not locked, checked atomically with the
// acceptance, so only codes the store sees before the 10th failure can ever succeed.
import type { Config } from '../config/schema.js';
import { keys, type AcceptOutcome, type FailureOutcome, type SessionStore } from '../store/session-store.js';
import type { AttemptContext, VerifyOutcome } from './factor.js';

export const malformedCodeMessage = (digits = 6): string => `Enter the ${digits}-digit code`;

/** Exactly `digits` ASCII digits, nothing else; anything else never reaches the verifier. */
export function parseCode(input: unknown, digits = 6): string | null {
  return typeof input === 'string' && input.length === digits && /^[0-9]+$/.test(input) ? input : null;
}

/** A wrong code, or input not shaped like a code at all (with what to type instead). */
export type Failure = 'invalid' | { malformed: string };

/** Attempts taken in one challenge (next to its failure count, under the account's hash tag). */
const challengeSlotsKey = (accountId: string, bindingId: string): string => `${keys.challengeFailures(accountId, bindingId)}:slots`;

export class Attempts {
  constructor(
    private readonly store: SessionStore,
    private readonly config: Pick<Config, 'mfa' | 'ttl'>,
  ) {}

  private get policy() {
    return { threshold: this.config.mfa.lockoutThreshold, lockSeconds: this.config.mfa.lockoutMinutes * 60 };
  }

  /**
   * Takes one of this challenge's attempts before a code is checked. Returns the refusal (locked,
   * or no attempts left in this sign-in), unchecked and uncounted, or null to go ahead.
   */
  async reserve(accountId: string, bindingId: string): Promise<Exclude<VerifyOutcome, { ok: true }> | null> {
    const { lockedFor, slots } = await this.store.reserveAttempt(keys.account(accountId), challengeSlotsKey(accountId, bindingId), this.config.ttl.interaction);
    if (lockedFor > 0) return { ok: false, reason: 'locked', lockedFor, challengeOver: false };
    if (slots > this.config.mfa.challengeMaxFailures) return { ok: false, reason: 'invalid', lockedFor: 0, challengeOver: true };
    return null;
  }

  /**
   * Gives back the attempt a correct code took: the limit is on wrong codes, so setting up three
   * methods in one sign-in does not use up its attempts (the sign-in goes on after an enrolment).
   */
  async release(accountId: string, bindingId: string): Promise<void> {
    await this.store.increment(challengeSlotsKey(accountId, bindingId), this.config.ttl.interaction, -1);
  }

  accountKeys(ctx: AttemptContext) {
    return keys.account(ctx.account.id);
  }

  /** Counts a failed attempt (a wrong code, or with `malformed` the hint of what to type) and says what it means for the user. */
  fail(ctx: AttemptContext, failure: Failure): Promise<VerifyOutcome> {
    return this.failFor(ctx.account.id, ctx.bindingId, failure);
  }

  async failFor(accountId: string, bindingId: string, failure: Failure): Promise<VerifyOutcome> {
    const outcome = await this.store.recordSecondFactorFailure(
      keys.account(accountId),
      keys.challengeFailures(accountId, bindingId),
      this.policy,
      this.config.ttl.interaction,
    );
    return this.interpret(outcome, failure);
  }

  /** What a counted failure means for the user: locked, challenge over, or try again. */
  interpret(outcome: FailureOutcome, failure: Failure): VerifyOutcome {
    const counted = { ok: false as const, lockedFor: outcome.lockedFor, challengeOver: outcome.challengeFailures >= this.config.mfa.challengeMaxFailures };
    if (outcome.lockedFor > 0) return { ...counted, reason: 'locked' };
    return failure === 'invalid' ? { ...counted, reason: 'invalid' } : { ...counted, reason: 'malformed', hint: failure.malformed };
  }

  /** Turns the store's answer to a correct code into an outcome; a replayed step is a failure. */
  async settle(ctx: AttemptContext, accepted: AcceptOutcome): Promise<VerifyOutcome> {
    if (accepted.ok) return { ok: true };
    if (accepted.reason === 'locked') return { ok: false, reason: 'locked', lockedFor: accepted.lockedFor, challengeOver: false };
    return this.fail(ctx, 'invalid');
  }

  acceptCorrect(ctx: AttemptContext): Promise<AcceptOutcome> {
    return this.store.acceptSecondFactor(this.accountKeys(ctx));
  }

  lockedFor(accountId: string): Promise<number> {
    return this.store.lockedFor(keys.account(accountId));
  }

  /** Failures so far in this challenge (to show the challenge as over after a reload). */
  async challengeFailures(accountId: string, bindingId: string): Promise<number> {
    return (await this.store.peek(keys.challengeFailures(accountId, bindingId))).count;
  }
}
