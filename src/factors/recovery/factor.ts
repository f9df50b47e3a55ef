// "Use a recovery code": the way in when the phone is lost. Not enrolled like the others (the
// codes are made after the first factor), never preferred, always offered last. RFC 8176 has no
// method value for a printed single-use code; "otp" (one-time password) is the honest nearest.
import type { StoredFactor } from '../../db/repos/factors.js';
import type { SecurityEvents } from '../../events.js';
import type { ActionOutcome, AttemptContext, ChallengeFactor, FactorState, VerifyOutcome } from '../factor.js';
import { LOW_RECOVERY_CODES, RECOVERY_TYPE, type RecoveryCodes } from './service.js';

export class RecoveryFactor implements ChallengeFactor {
  readonly type = RECOVERY_TYPE;
  readonly amr = 'otp';
  readonly label = 'Recovery code';
  readonly description = 'One of the codes you saved when you set up your second factor';
  readonly views = { challenge: 'factors/recovery-challenge' };

  constructor(
    private readonly codes: RecoveryCodes,
    private readonly events: SecurityEvents,
  ) {}

  async startChallenge(): Promise<ActionOutcome> {
    return { state: {} };
  }

  async challengeView(ctx: AttemptContext): Promise<Record<string, unknown>> {
    const remaining = await this.codes.remaining(ctx.account.id);
    return { remaining, inputmode: 'text', maxlength: 40, autocomplete: 'off', hint: 'Like abcd-efgh-jkmn-pqrs. Each code works once.' };
  }

  async verifyChallenge(ctx: AttemptContext, _factor: StoredFactor, _state: FactorState, code: string): Promise<VerifyOutcome> {
    const outcome = await this.codes.verify(ctx, code);
    if (outcome.ok) {
      const remaining = await this.codes.remaining(ctx.account.id);
      this.events.emit({
        type: 'recovery.used',
        outcome: 'success',
        accountId: ctx.account.id,
        username: ctx.account.username,
        clientId: ctx.clientId ?? null,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        details: { remaining, low: remaining <= LOW_RECOVERY_CODES },
      });
    }
    return outcome;
  }

  challengeAmr(): string {
    return this.amr;
  }
}
