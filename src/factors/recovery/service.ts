// Recovery codes for the day a phone is lost: a set of 10 is made when the first factor is set up
// (and on request from the account page, which voids the old set). Using one is throttled like
// any other code and counts as the second factor.
import type { Account } from '../../db/repos/accounts.js';
import type { RecoveryCodeRepo } from '../../db/repos/recovery-codes.js';
import type { FactorRepo } from '../../db/repos/factors.js';
import { newFactorId } from '../../db/repos/factors.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { Attempts } from '../attempts.js';
import type { AttemptContext, VerifyOutcome } from '../factor.js';
import { factorSealContext } from '../service.js';
import { generateRecoveryCode, normaliseRecoveryCode, RECOVERY_CODE_COUNT } from './codes.js';

export const RECOVERY_TYPE = 'recovery';
export const LOW_RECOVERY_CODES = 3;

export class RecoveryCodes {
  constructor(
    private readonly repo: RecoveryCodeRepo,
    private readonly factors: FactorRepo,
    private readonly keyring: Keyring,
    private readonly attempts: Attempts,
  ) {}

  private digest = (accountId: string, normalised: string) => this.keyring.digest(normalised, `recovery|${accountId}`);
  /** Codes are kept until used, so one made under an earlier TWOFOLD_SECRET must still match. */
  private digests = (accountId: string, normalised: string) => this.keyring.digests(normalised, `recovery|${accountId}`);

  /** A fresh set of codes (the old set stops working), returned once for display. */
  async generate(account: Account): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, generateRecoveryCode);
    await this.repo.replace(account.id, codes.map((c) => this.digest(account.id, normaliseRecoveryCode(c)!)));
    const existing = (await this.factors.listForAccount(account.id)).find((f) => f.type === RECOVERY_TYPE);
    if (!existing) {
      // A factor row, so the challenge can offer "Use a recovery code"; it holds no secret itself.
      const id = newFactorId();
      await this.factors.add({ id, accountId: account.id, type: RECOVERY_TYPE, name: 'Recovery codes', secretSealed: this.keyring.seal('recovery-codes', factorSealContext(id)) });
    }
    return codes;
  }

  remaining(accountId: string): Promise<number> {
    return this.repo.remaining(accountId);
  }

  async has(accountId: string): Promise<boolean> {
    return (await this.factors.listForAccount(accountId)).some((f) => f.type === RECOVERY_TYPE);
  }

  /**
   * Uses a code once; a wrong code counts as a failure. The caller has taken an attempt first
   * (Attempts.reserve), which refuses a locked account before any code is looked at.
   */
  async verify(ctx: AttemptContext, input: string): Promise<VerifyOutcome> {
    const normalised = normaliseRecoveryCode(input);
    if (!normalised) return this.attempts.fail(ctx, { malformed: 'Enter a recovery code: 16 letters and digits, like xxxx-xxxx-xxxx-xxxx' });
    if (!(await this.repo.consume(ctx.account.id, this.digests(ctx.account.id, normalised)))) return this.attempts.fail(ctx, 'invalid');
    return this.attempts.settle(ctx, await this.attempts.acceptCorrect(ctx));
  }
}
