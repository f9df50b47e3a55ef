// In-memory session store for one development instance. Each method does all of its reading and
// writing synchronously, with no `await` in between, so no other call can interleave: that gives
// the same atomicity the Redis scripts give. (An `await` inside a method would let parallel calls
// act on stale reads; the contract's parallel tests catch that.)
import {
  FAILURE_MEMORY_SECONDS,
  GRANT_BOUND_MODELS,
  type AcceptOutcome,
  type AccountKeys,
  type CodeOutcome,
  type CounterState,
  type FailureOutcome,
  type FailurePolicy,
  type OidcPayload,
  type SessionStore,
} from './session-store.js';

interface Entry {
  value: unknown;
  expiresAt: number;
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private sweep(): void {
    const t = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= t) this.entries.delete(key);
  }

  private read<T>(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value as T;
  }

  private write(key: string, value: unknown, ttlSeconds: number): void {
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  private ttlOf(key: string): number {
    const entry = this.entries.get(key);
    return entry ? Math.max(0, Math.ceil((entry.expiresAt - this.now()) / 1000)) : 0;
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    const raw = this.read<string>(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  async setJson(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    // Stored as text so callers never share an object with the store (as with Redis).
    this.write(key, JSON.stringify(value), ttlSeconds);
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  // --- oidc-provider persistence

  private oidcKey = (model: string, id: string) => `tf:oidc:${model}:${id}`;

  async oidcUpsert(model: string, id: string, payload: OidcPayload, ttlSeconds: number): Promise<void> {
    const key = this.oidcKey(model, id);
    this.write(key, JSON.stringify(payload), ttlSeconds);
    if (payload.grantId && GRANT_BOUND_MODELS.has(model)) {
      const grantKey = `tf:oidc:grant:${payload.grantId}`;
      const members = this.read<Set<string>>(grantKey) ?? new Set<string>();
      members.add(key);
      this.write(grantKey, members, Math.max(ttlSeconds, this.ttlOf(grantKey)));
    }
    if (payload.userCode) this.write(`tf:oidc:userCode:${payload.userCode}`, id, ttlSeconds);
    if (payload.uid) this.write(`tf:oidc:uid:${payload.uid}`, id, ttlSeconds);
  }

  async oidcFind(model: string, id: string): Promise<OidcPayload | undefined> {
    const raw = this.read<string>(this.oidcKey(model, id));
    return raw === undefined ? undefined : (JSON.parse(raw) as OidcPayload);
  }

  async oidcFindByUid(uid: string): Promise<OidcPayload | undefined> {
    const id = this.read<string>(`tf:oidc:uid:${uid}`);
    return id === undefined ? undefined : this.oidcFind('Session', id);
  }

  async oidcFindByUserCode(userCode: string): Promise<OidcPayload | undefined> {
    const id = this.read<string>(`tf:oidc:userCode:${userCode}`);
    return id === undefined ? undefined : this.oidcFind('DeviceCode', id);
  }

  async oidcConsume(model: string, id: string): Promise<void> {
    const key = this.oidcKey(model, id);
    const raw = this.read<string>(key);
    const entry = this.entries.get(key);
    if (raw === undefined || !entry) return;
    entry.value = JSON.stringify({ ...(JSON.parse(raw) as OidcPayload), consumed: Math.floor(this.now() / 1000) });
  }

  async oidcDestroy(model: string, id: string): Promise<void> {
    this.entries.delete(this.oidcKey(model, id));
  }

  async oidcRevokeByGrantId(grantId: string): Promise<void> {
    const grantKey = `tf:oidc:grant:${grantId}`;
    for (const key of this.read<Set<string>>(grantKey) ?? []) this.entries.delete(key);
    this.entries.delete(grantKey);
  }

  // --- counters

  private incrementNow(key: string, windowSeconds: number, by: number): CounterState {
    const count = (this.read<number>(key) ?? 0) + by;
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) entry.value = count;
    else this.write(key, count, windowSeconds);
    return { count, ttl: this.ttlOf(key) };
  }

  async increment(key: string, windowSeconds: number, by = 1): Promise<CounterState> {
    return this.incrementNow(key, windowSeconds, by);
  }

  async peek(key: string): Promise<CounterState> {
    const count = this.read<number>(key) ?? 0;
    return { count, ttl: count ? this.ttlOf(key) : 0 };
  }

  // --- second-factor attempts

  private lockedForNow(account: AccountKeys): number {
    return this.read(account.lock) === undefined ? 0 : this.ttlOf(account.lock);
  }

  async acceptTotpStep(account: AccountKeys, stepKey: string, step: number, stepTtlSeconds: number): Promise<AcceptOutcome> {
    const lockedFor = this.lockedForNow(account);
    if (lockedFor > 0) return { ok: false, reason: 'locked', lockedFor };
    const last = this.read<number>(stepKey);
    if (last !== undefined && step <= last) return { ok: false, reason: 'replayed' };
    this.write(stepKey, step, stepTtlSeconds);
    this.entries.delete(account.failures);
    this.entries.delete(account.lockouts);
    return { ok: true };
  }

  async acceptSecondFactor(account: AccountKeys): Promise<AcceptOutcome> {
    const lockedFor = this.lockedForNow(account);
    if (lockedFor > 0) return { ok: false, reason: 'locked', lockedFor };
    this.entries.delete(account.failures);
    this.entries.delete(account.lockouts);
    return { ok: true };
  }

  async recordSecondFactorFailure(account: AccountKeys, challengeKey: string, policy: FailurePolicy, challengeTtlSeconds: number): Promise<FailureOutcome> {
    return this.failureNow(account, challengeKey, policy, challengeTtlSeconds);
  }

  private failureNow(account: AccountKeys, challengeKey: string, policy: FailurePolicy, challengeTtlSeconds: number): FailureOutcome {
    const challengeFailures = this.incrementNow(challengeKey, challengeTtlSeconds, 1).count;
    const accountFailures = (this.read<number>(account.failures) ?? 0) + 1;
    this.write(account.failures, accountFailures, FAILURE_MEMORY_SECONDS);
    let lockedFor = this.lockedForNow(account);
    if (lockedFor === 0 && accountFailures >= policy.threshold) {
      const lockouts = this.read<number>(account.lockouts) ?? 0;
      lockedFor = policy.lockSeconds * 2 ** Math.min(lockouts, 10);
      this.write(account.lock, 1, lockedFor);
      this.write(account.lockouts, lockouts + 1, FAILURE_MEMORY_SECONDS);
      this.write(account.failures, 0, FAILURE_MEMORY_SECONDS);
    }
    return { accountFailures, challengeFailures, lockedFor };
  }

  async reserveAttempt(account: AccountKeys, slotKey: string, slotTtlSeconds: number): Promise<{ lockedFor: number; slots: number }> {
    const lockedFor = this.lockedForNow(account);
    if (lockedFor > 0) return { lockedFor, slots: 0 };
    return { lockedFor: 0, slots: this.incrementNow(slotKey, slotTtlSeconds, 1).count };
  }

  async putCode(codeKey: string, digest: string, expiresAtMs: number, ttlSeconds: number): Promise<void> {
    this.write(codeKey, { digest, expiresAtMs, attempts: 0 }, ttlSeconds);
  }

  async verifyCode(
    account: AccountKeys,
    codeKey: string,
    challengeKey: string,
    digest: string,
    nowMs: number,
    maxAttempts: number,
    policy: FailurePolicy,
    challengeTtlSeconds: number,
  ): Promise<CodeOutcome> {
    const lockedFor = this.lockedForNow(account);
    if (lockedFor > 0) return { ok: false, reason: 'locked', lockedFor };
    const stored = this.read<{ digest: string; expiresAtMs: number; attempts: number }>(codeKey);
    if (stored && stored.expiresAtMs > nowMs && stored.digest === digest) {
      this.entries.delete(codeKey);
      this.entries.delete(account.failures);
      this.entries.delete(account.lockouts);
      return { ok: true };
    }
    let spent = false;
    if (stored) {
      stored.attempts += 1;
      if (stored.attempts >= maxAttempts || stored.expiresAtMs <= nowMs) {
        this.entries.delete(codeKey);
        spent = true;
      }
    }
    const failure = this.failureNow(account, challengeKey, policy, challengeTtlSeconds);
    return { ok: false, reason: 'invalid', spent, failure };
  }

  async lockedFor(account: AccountKeys): Promise<number> {
    return this.lockedForNow(account);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }
}
