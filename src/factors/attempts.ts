// Failure counting shared by every code-based factor: per challenge (5 wrong codes end it) and per
// account across sign-ins (10 in a row lock the second factor for 15 minutes, doubling on each
// further lockout within a day). A success clears the account's count.
import type { Config } from '../config/schema.js';
import { keys, type AcceptOutcome, type FailureOutcome, type SessionStore } from '../store/session-store.js';
import type { AttemptContext, VerifyOutcome } from './factor.js';

export const malformedCodeMessage = (digits = 6): string => `Enter the ${digits}-digit code`;

/** Exactly `digits` ASCII digits, nothing else; anything else never reaches the verifier. */
export function parseCode(input: unknown, digits = 6): string | null {
  return typeof input === 'string' && input.length === digits && /^[0-9]+$/.test(input) ? input : null;
}

export class Attempts {
  constructor(
    private readonly store: SessionStore,
    private readonly config: Pick<Config, 'mfa' | 'ttl'>,
  ) {}

  private get policy() {
    return { threshold: this.config.mfa.lockoutThreshold, lockSeconds: this.config.mfa.lockoutMinutes * 60 };
  }

  accountKeys(ctx: AttemptContext) {
    return keys.account(ctx.account.id);
  }

  /** Counts a failed (or malformed) attempt and says what it means for the user. */
  fail(ctx: AttemptContext, reason: 'malformed' | 'invalid'): Promise<VerifyOutcome> {
    return this.failFor(ctx.account.id, ctx.bindingId, reason);
  }

  async failFor(accountId: string, bindingId: string, reason: 'malformed' | 'invalid'): Promise<VerifyOutcome> {
    const outcome = await this.store.recordSecondFactorFailure(
      keys.account(accountId),
      keys.challengeFailures(accountId, bindingId),
      this.policy,
      this.config.ttl.interaction,
    );
    return this.interpret(outcome, reason);
  }

  /** What a counted failure means for the user: locked, challenge over, or try again. */
  interpret(outcome: FailureOutcome, reason: 'malformed' | 'invalid'): VerifyOutcome {
    return {
      ok: false,
      reason: outcome.lockedFor > 0 ? 'locked' : reason,
      lockedFor: outcome.lockedFor,
      challengeOver: outcome.challengeFailures >= this.config.mfa.challengeMaxFailures,
    } as VerifyOutcome;
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
