// The one interface every second factor implements. The sign-in flow (src/flow/login.ts) and
// the account page talk only to this; a new factor is a new folder that implements it.
// Factors know nothing of HTTP: they get plain input and return plain outcomes and view data.
import type { Account } from '../db/repos/accounts.js';
import type { StoredFactor } from '../db/repos/factors.js';
import type { FactorType } from '../policy/service.js';

/** Who is verifying, from where, and within which sign-in (binds codes and counts attempts). */
export interface AttemptContext {
  account: Account;
  /** The interaction (or account-page operation) the attempt belongs to. */
  bindingId: string;
  ip: string;
  userAgent: string;
  locale: string;
  /** The relying party the sign-in is for (for the audit trail); none on the account page. */
  clientId?: string;
}

/** Factor-owned state kept in the login transaction between requests (JSON; secrets sealed). */
export type FactorState = Record<string, unknown>;

export type VerifyOutcome =
  | { ok: true; state?: FactorState }
  /** `invalid` covers wrong, expired, reused and other users' codes alike (one answer for all). */
  | { ok: false; reason: 'invalid'; challengeOver: boolean; lockedFor: number }
  /** Input not even shaped like this factor's code; `hint` says what to type ("Enter the 6-digit code"). */
  | { ok: false; reason: 'malformed'; hint: string; challengeOver: boolean; lockedFor: number }
  | { ok: false; reason: 'locked'; lockedFor: number; challengeOver: boolean };

/** A factor verified during enrolment, ready to be saved. */
export interface EnrolledSecret {
  /** The secret to seal and store (TOTP seed, E.164 number). */
  secret: string;
  /** A name the user sees on the account page, e.g. "Authenticator app" or "Phone ••• 0123". */
  name: string;
}

/** An action a factor's screen offers besides Verify (send a code, call again...). */
export interface ActionOutcome {
  state: FactorState;
  /** A sentence for the user, e.g. "We sent a code to +1 ••• ••• 0123." */
  notice?: string;
  /** A sentence saying what went wrong and what to do next. */
  error?: string;
}

/**
 * What every way of passing the second step can do at sign-in. Recovery codes are only this: they
 * are generated, not enrolled, and never preferred.
 */
export interface ChallengeFactor {
  readonly type: string;
  /** RFC 8176 method reference for the ID token: otp, sms or tel. */
  readonly amr: string;
  /** What the method chooser and lists say, e.g. "Authenticator app". */
  readonly label: string;
  readonly description: string;
  /** Views (under views/factors/) for its screens. */
  readonly views: { challenge: string; enrol?: string };

  /** Called once when the challenge begins (SMS sends here); must not act again on a reload. */
  startChallenge(ctx: AttemptContext, factor: StoredFactor): Promise<ActionOutcome>;
  challengeAction?(ctx: AttemptContext, factor: StoredFactor, state: FactorState, action: string): Promise<ActionOutcome>;
  challengeView(ctx: AttemptContext, factor: StoredFactor, state: FactorState): Promise<Record<string, unknown>>;
  verifyChallenge(ctx: AttemptContext, factor: StoredFactor, state: FactorState, code: string): Promise<VerifyOutcome>;
  /** The amr the verified challenge earns (a phone factor may deliver by the other channel). */
  challengeAmr(state: FactorState): string;
}

/** A factor users set up themselves (authenticator app, SMS, voice). */
export interface Factor extends ChallengeFactor {
  readonly type: FactorType;
  /**
   * A RESTRICTED authenticator (NIST 800-63B 5.2.10: codes over the phone network). The chooser
   * lists these after the others, with a note on the same screen that they are weaker.
   * Defaults to true for the amr values sms and tel.
   */
  readonly restricted?: boolean;
  readonly views: { enrol: string; challenge: string };

  // --- enrolment: start, optional actions (send code), then verify a code
  startEnrolment(ctx: AttemptContext): Promise<FactorState>;
  enrolmentAction?(ctx: AttemptContext, state: FactorState, action: string, form: Record<string, string>): Promise<ActionOutcome>;
  enrolmentView(ctx: AttemptContext, state: FactorState): Promise<Record<string, unknown>>;
  verifyEnrolment(ctx: AttemptContext, state: FactorState, code: string): Promise<VerifyOutcome & { enrolled?: EnrolledSecret }>;
  /** The factor id that verifyEnrolment's secret must be saved under (chosen at start, so replay state binds to it). */
  enrolmentFactorId(state: FactorState): string;
}

/** Whether a factor is RESTRICTED (see Factor.restricted). */
export const isRestricted = (factor: Pick<Factor, 'restricted' | 'amr'>): boolean => factor.restricted ?? (factor.amr === 'sms' || factor.amr === 'tel');
