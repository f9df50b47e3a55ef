// One-time codes for text messages and voice calls (and any later channel): 6 digits from the
// CSPRNG, uniform; stored only as an HMAC under the server pepper, bound to the account, the
// interaction, the factor and the destination it was sent to; expiring (5 minutes by default,
// never over 10); single use; attempt-limited; verified in one atomic step (src/store: a Lua
// script in Redis). A code is stored only once it went out, so a failed send leaves the code
// delivered before it working.
import { randomInt } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Keyring } from '../crypto/keyring.js';
import { keys, type SessionStore } from '../store/session-store.js';
import { Attempts, malformedCodeMessage, parseCode } from '../factors/attempts.js';
import type { VerifyOutcome } from '../factors/factor.js';

export const CODE_DIGITS = 6;

export interface CodeBinding {
  accountId: string;
  /** The interaction (or account-page operation) the code belongs to. */
  bindingId: string;
  factorId: string;
  /**
   * Where the code went (an E.164 number). It is part of the HMAC, not of the key: a code sent to
   * one number never verifies a request that binds another (enter number A, then B: A's code fails).
   */
  destination?: string;
}

/** A uniformly distributed 6-digit code (crypto.randomInt rejects modulo bias). */
export const generateCode = (): string => randomInt(0, 10 ** CODE_DIGITS).toString().padStart(CODE_DIGITS, '0');

export class Codes {
  constructor(
    private readonly store: SessionStore,
    private readonly keyring: Keyring,
    private readonly attempts: Attempts,
    private readonly config: Pick<Config, 'codes' | 'mfa' | 'ttl'>,
    private readonly now: () => number = Date.now,
  ) {}

  private digest(code: string, b: CodeBinding): string {
    return this.keyring.digest(code, `code|${b.accountId}|${b.bindingId}|${b.factorId}|${b.destination ?? ''}`);
  }

  private key = (b: CodeBinding) => keys.code(b.accountId, b.bindingId, b.factorId);

  /**
   * Makes a new code and hands it to `deliver`. Only when that succeeds is the code stored,
   * replacing (voiding) the binding's previous one; a failed send changes nothing.
   */
  async issue<T extends { ok: boolean }>(binding: CodeBinding, deliver: (code: string) => Promise<T>): Promise<T> {
    const code = generateCode();
    const result = await deliver(code);
    if (!result.ok) return result;
    const ttl = this.config.codes.ttlSeconds;
    await this.store.putCode(this.key(binding), this.digest(code, binding), this.now() + ttl * 1000, ttl);
    return result;
  }

  async verify(binding: CodeBinding, input: string): Promise<VerifyOutcome> {
    const code = parseCode(input, CODE_DIGITS);
    if (code === null) return this.attempts.failFor(binding.accountId, binding.bindingId, { malformed: malformedCodeMessage(CODE_DIGITS) });
    const outcome = await this.store.verifyCode(
      keys.account(binding.accountId),
      this.key(binding),
      keys.challengeFailures(binding.accountId, binding.bindingId),
      this.digest(code, binding),
      this.now(),
      this.config.codes.maxAttempts,
      { threshold: this.config.mfa.lockoutThreshold, lockSeconds: this.config.mfa.lockoutMinutes * 60 },
      this.config.ttl.interaction,
    );
    if (outcome.ok) return { ok: true };
    if (outcome.reason === 'locked') return { ok: false, reason: 'locked', lockedFor: outcome.lockedFor, challengeOver: false };
    return this.attempts.interpret(outcome.failure, 'invalid');
  }
}
