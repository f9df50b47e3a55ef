// Authenticator app (TOTP, RFC 6238): Google Authenticator, Okta Verify or any TOTP app.
// The seed is 20 CSPRNG bytes, sealed in the login transaction until a code from the app proves
// it was scanned, then sealed at rest under the factor's id, together with the period, digits and
// algorithm the app was set up with. A time step, once accepted, is never
// accepted again for the factor (checked atomically in the session store).
import QRCode from 'qrcode';
import type { Config } from '../../config/schema.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { StoredFactor } from '../../db/repos/factors.js';
import { newFactorId } from '../../db/repos/factors.js';
import { keys, type SessionStore } from '../../store/session-store.js';
import { Attempts, malformedCodeMessage, parseCode } from '../attempts.js';
import { openFactorSecret } from '../service.js';
import type { ActionOutcome, AttemptContext, EnrolledSecret, Factor, FactorState, VerifyOutcome } from '../factor.js';
import { matchTotp, newTotpSecret, otpauthUri, type TotpParams } from './otp.js';

interface TotpEnrolment extends FactorState {
  factorId: string;
  sealedSecret: string;
  /** The parameters the QR code was drawn with (the instance's at the time enrolment started). */
  params?: TotpParams;
}

/**
 * What is sealed at rest: the seed and the parameters the app was set up with, so changing the
 * instance's period, digits or algorithm affects only factors enrolled afterwards. A bare Base32
 * seed (stored before the parameters were kept) uses the instance's current ones.
 */
export function encodeTotpSecret(secret: string, params: TotpParams): string {
  return JSON.stringify({ secret, period: params.period, digits: params.digits, algorithm: params.algorithm });
}

export function decodeTotpSecret(stored: string, fallback: TotpParams): { secret: string; params: TotpParams } {
  if (!stored.startsWith('{')) return { secret: stored, params: fallback };
  const { secret, period, digits, algorithm } = JSON.parse(stored) as { secret: string } & TotpParams;
  return { secret, params: { period, digits, algorithm } };
}

export class TotpFactor implements Factor {
  readonly type = 'totp' as const;
  readonly amr = 'otp';
  readonly label = 'Authenticator app';
  readonly description = 'Google Authenticator, Okta Verify or any authenticator app';
  readonly views = { enrol: 'factors/totp-enrol', challenge: 'factors/totp-challenge' };

  constructor(
    private readonly store: SessionStore,
    private readonly keyring: Keyring,
    private readonly attempts: Attempts,
    private readonly config: Pick<Config, 'totp'>,
    private readonly now: () => number = Date.now,
    /** The administrator's current overrides (policy), for apps set up from now on. */
    private readonly overrides: () => Promise<Partial<TotpParams>> = async () => ({}),
  ) {}

  private get params(): TotpParams {
    const { period, digits, algorithm } = this.config.totp;
    return { period, digits, algorithm };
  }

  /** Replay state lives as long as a code can still be valid: the window plus a step. */
  private stepTtl(params: TotpParams): number {
    return params.period * 4;
  }

  private enrolmentContext = (ctx: AttemptContext, factorId: string) => `totp-enrolment:${ctx.account.id}:${factorId}`;

  async startEnrolment(ctx: AttemptContext): Promise<FactorState> {
    const factorId = newFactorId();
    const params = { ...this.params, ...(await this.overrides()) };
    return { factorId, sealedSecret: this.keyring.seal(newTotpSecret(), this.enrolmentContext(ctx, factorId)), params } satisfies TotpEnrolment;
  }

  enrolmentFactorId(state: FactorState): string {
    return (state as TotpEnrolment).factorId;
  }

  async enrolmentView(ctx: AttemptContext, state: FactorState): Promise<Record<string, unknown>> {
    const { factorId, sealedSecret, params = this.params } = state as TotpEnrolment;
    const secret = this.keyring.open(sealedSecret, this.enrolmentContext(ctx, factorId));
    const uri = otpauthUri(secret, this.config.totp.issuerLabel, ctx.account.username, params);
    return {
      uri,
      qrSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 }),
      keyGroups: secret.match(/.{1,4}/g) ?? [],
      issuer: this.config.totp.issuerLabel,
      label: ctx.account.username,
      digits: params.digits,
      period: params.period,
      algorithm: params.algorithm.toUpperCase(),
    };
  }

  async verifyEnrolment(ctx: AttemptContext, state: FactorState, input: string): Promise<VerifyOutcome & { enrolled?: EnrolledSecret }> {
    const { factorId, sealedSecret, params = this.params } = state as TotpEnrolment;
    const secret = this.keyring.open(sealedSecret, this.enrolmentContext(ctx, factorId));
    const outcome = await this.check(ctx, factorId, secret, params, input);
    return outcome.ok ? { ...outcome, enrolled: { secret: encodeTotpSecret(secret, params), name: this.label } } : outcome;
  }

  async startChallenge(): Promise<ActionOutcome> {
    return { state: {} };
  }

  async challengeView(_ctx: AttemptContext, factor: StoredFactor): Promise<Record<string, unknown>> {
    return { digits: this.stored(factor).params.digits };
  }

  async verifyChallenge(ctx: AttemptContext, factor: StoredFactor, _state: FactorState, input: string): Promise<VerifyOutcome> {
    const { secret, params } = this.stored(factor);
    return this.check(ctx, factor.id, secret, params, input);
  }

  private stored(factor: StoredFactor) {
    return decodeTotpSecret(openFactorSecret(this.keyring, factor), this.params);
  }

  challengeAmr(): string {
    return this.amr;
  }

  private async check(ctx: AttemptContext, factorId: string, secret: string, params: TotpParams, input: string): Promise<VerifyOutcome> {
    const code = parseCode(input, params.digits);
    if (code === null) return this.attempts.fail(ctx, { malformed: malformedCodeMessage(params.digits) });
    const step = await matchTotp(secret, code, Math.floor(this.now() / 1000), params);
    if (step === null) return this.attempts.fail(ctx, 'invalid');
    const accepted = await this.store.acceptTotpStep(keys.account(ctx.account.id), keys.totpStep(ctx.account.id, factorId), step, this.stepTtl(params));
    return this.attempts.settle(ctx, accepted);
  }
}
