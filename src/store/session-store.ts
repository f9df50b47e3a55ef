// The session store: everything short-lived. Redis in production (many instances share it), an
// in-memory map for a single development instance. Both implement this interface with the same
// guarantees (every key expires; each operation below is atomic), and one contract suite
// (test/store/session-store.contract.ts) runs against both.

/** oidc-provider's models (sessions, interactions, codes, tokens, grants) as its adapter sees them. */
export interface OidcPayload {
  [key: string]: unknown;
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
}

export interface CounterState {
  count: number;
  /** Seconds until the window resets (0 when the counter does not exist). */
  ttl: number;
}

/** The per-account second-factor failure state after a failed attempt. */
export interface FailureOutcome {
  /** Consecutive failures on the account (across sign-ins). */
  accountFailures: number;
  /** Failures within this challenge. */
  challengeFailures: number;
  /** Seconds the account's second factor stays locked (0: not locked). */
  lockedFor: number;
}

export type AcceptOutcome = { ok: true } | { ok: false; reason: 'locked'; lockedFor: number } | { ok: false; reason: 'replayed' };

/** What verifying a one-time code did. */
export type CodeOutcome =
  | { ok: true }
  | { ok: false; reason: 'locked'; lockedFor: number }
  /** Wrong, expired, used up or never issued: one answer for all. `spent`: the code is void now. */
  | { ok: false; reason: 'invalid'; spent: boolean; failure: FailureOutcome };

export interface FailurePolicy {
  /** Consecutive account failures that trigger a lockout. */
  threshold: number;
  /** First lockout in seconds; each further lockout within a day doubles it. */
  lockSeconds: number;
}

/** Keys for one account's second-factor state; all share the account's hash tag (one cluster slot). */
export interface AccountKeys {
  failures: string;
  lock: string;
  lockouts: string;
}

export interface SessionStore {
  readonly kind: 'redis' | 'memory';

  // --- JSON documents with a lifetime
  getJson<T>(key: string): Promise<T | undefined>;
  setJson(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  delete(...keys: string[]): Promise<void>;

  // --- oidc-provider persistence
  oidcUpsert(model: string, id: string, payload: OidcPayload, ttlSeconds: number): Promise<void>;
  oidcFind(model: string, id: string): Promise<OidcPayload | undefined>;
  oidcFindByUid(uid: string): Promise<OidcPayload | undefined>;
  oidcFindByUserCode(userCode: string): Promise<OidcPayload | undefined>;
  oidcConsume(model: string, id: string): Promise<void>;
  oidcDestroy(model: string, id: string): Promise<void>;
  /** Deletes every token and code that belongs to the grant, and the grant itself. */
  oidcRevokeByGrantId(grantId: string): Promise<void>;

  // --- counters in fixed windows (throttling, send limits)
  /** Adds `by` to the counter, starting its window if it is new; returns the new state. */
  increment(key: string, windowSeconds: number, by?: number): Promise<CounterState>;
  peek(key: string): Promise<CounterState>;

  // --- second-factor attempts, each one atomic step
  /**
   * A correct authenticator-app code for time step `step`: refused when the account is locked or
   * when this or a later step was already accepted for the factor (replay); otherwise records the
   * step and clears the account's failures.
   */
  acceptTotpStep(account: AccountKeys, stepKey: string, step: number, stepTtlSeconds: number): Promise<AcceptOutcome>;
  /** A correct code of another kind: refused when locked, otherwise clears the failures. */
  acceptSecondFactor(account: AccountKeys): Promise<AcceptOutcome>;
  /** Counts a failed attempt on the account and the challenge, locking the account at the threshold. */
  recordSecondFactorFailure(account: AccountKeys, challengeKey: string, policy: FailurePolicy, challengeTtlSeconds: number): Promise<FailureOutcome>;
  /** Seconds the account's second factor is still locked (0 when it is not). */
  lockedFor(account: AccountKeys): Promise<number>;
  /**
   * One atomic step before a code is checked: when the account is locked, says so and takes
   * nothing; otherwise takes one of the challenge's attempt slots and says how many are taken.
   */
  reserveAttempt(account: AccountKeys, slotKey: string, slotTtlSeconds: number): Promise<{ lockedFor: number; slots: number }>;

  // --- one-time codes (SMS, voice): stored as a digest, single use, attempt-limited
  /** Stores a code's digest under `codeKey`, replacing an earlier one (a resend voids the old code). */
  putCode(codeKey: string, digest: string, expiresAtMs: number, ttlSeconds: number): Promise<void>;
  /**
   * One atomic step: refuse while the account is locked; compare the digest; on a match delete the
   * code and clear the account's failures; otherwise count the attempt on the code (voiding it at
   * `maxAttempts` or when expired) and count a failure on the account and the challenge.
   */
  verifyCode(
    account: AccountKeys,
    codeKey: string,
    challengeKey: string,
    digest: string,
    nowMs: number,
    maxAttempts: number,
    policy: FailurePolicy,
    challengeTtlSeconds: number,
  ): Promise<CodeOutcome>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * oidc-provider models that belong to a grant and die with it (the tokens and codes of its
 * reference Redis adapter's `grantable` set, and the grant). An Interaction also carries a grantId
 * but must outlive a revocation: switching accounts revokes the old session's grants while the
 * new sign-in's interaction is still needed to finish it.
 */
export const GRANT_BOUND_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
  'Grant',
]);

/** How long failure history is remembered without new failures. */
export const FAILURE_MEMORY_SECONDS = 24 * 3600;

/** Key names. Per-account keys carry the hash tag {a:<id>} so a script's keys share a slot. */
export const keys = {
  account: (accountId: string): AccountKeys => ({
    failures: `tf:{a:${accountId}}:mfa:failures`,
    lock: `tf:{a:${accountId}}:mfa:lock`,
    lockouts: `tf:{a:${accountId}}:mfa:lockouts`,
  }),
  totpStep: (accountId: string, factorId: string) => `tf:{a:${accountId}}:totp:${factorId}`,
  challengeFailures: (accountId: string, interactionUid: string) => `tf:{a:${accountId}}:challenge:${interactionUid}`,
  /** A code is bound to the account, the interaction (or account-page operation) and the factor. */
  code: (accountId: string, bindingId: string, factorId: string) => `tf:{a:${accountId}}:code:${bindingId}:${factorId}`,
  loginTransaction: (interactionUid: string) => `tf:ix:${interactionUid}`,
  signInFailuresAccount: (usernameKey: string) => `tf:signin:u:${usernameKey}`,
  signInFailuresIp: (ip: string) => `tf:signin:ip:${ip}`,
};
