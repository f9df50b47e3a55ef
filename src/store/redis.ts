// Redis session store. Every key gets a TTL. Each multi-step operation is one Lua script
// (registered with defineCommand, which re-sends the script after NOSCRIPT, e.g. when Redis
// restarted), so it is atomic and costs one round trip. The keys one script touches share a
// hash tag, so the scripts also work on Redis Cluster.
import type { Cluster, Redis } from 'ioredis';
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
import type { RedisClient } from './redis-connection.js';

/**
 * Counts a second-factor failure (KEYS failures, lock, lockouts, challenge; ARGV threshold, lock
 * seconds, memory seconds, challenge ttl) and locks the account at the threshold, each further
 * lockout within the memory window lasting twice as long. Shared by the scripts below.
 */
const FAILURE_LUA = `
  local function countFailure(by)
    local challenge = redis.call('INCRBY', KEYS[4], by)
    if redis.call('TTL', KEYS[4]) < 0 then redis.call('EXPIRE', KEYS[4], tonumber(ARGV[4])) end
    local failures = redis.call('INCRBY', KEYS[1], by)
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
    local locked = redis.call('TTL', KEYS[2])
    if locked < 0 then locked = 0 end
    if locked == 0 and failures >= tonumber(ARGV[1]) then
      local lockouts = tonumber(redis.call('GET', KEYS[3]) or '0')
      locked = tonumber(ARGV[2]) * (2 ^ math.min(lockouts, 10))
      redis.call('SET', KEYS[2], '1', 'EX', locked)
      redis.call('SET', KEYS[3], lockouts + 1, 'EX', tonumber(ARGV[3]))
      redis.call('SET', KEYS[1], '0', 'EX', tonumber(ARGV[3]))
    end
    return {failures, challenge, locked}
  end`;

const SCRIPTS = {
  // KEYS[1] counter: its value and seconds left, in one round trip
  tfPeek: {
    numberOfKeys: 1,
    lua: `return {redis.call('GET', KEYS[1]) or '0', redis.call('TTL', KEYS[1])}`,
  },
  // KEYS lock, slots; ARGV slot ttl. Locked: the seconds left, no slot taken. Else: slots taken.
  tfReserve: {
    numberOfKeys: 2,
    lua: `
      local locked = redis.call('TTL', KEYS[1])
      if locked > 0 then return {locked, 0} end
      local n = redis.call('INCR', KEYS[2])
      if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1])) end
      return {0, n}`,
  },
  // KEYS[1] a grant's index set; ARGV member, ttl. The index lives as long as its longest member.
  tfIndex: {
    numberOfKeys: 1,
    lua: `
      redis.call('SADD', KEYS[1], ARGV[1])
      if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
      return 1`,
  },
  // KEYS[1] counter; ARGV window seconds, increment
  tfIncrement: {
    numberOfKeys: 1,
    lua: `
      local n = redis.call('INCRBY', KEYS[1], tonumber(ARGV[2]))
      local ttl = redis.call('TTL', KEYS[1])
      if ttl < 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])); ttl = tonumber(ARGV[1]) end
      return {n, ttl}`,
  },
  // KEYS[1] model key; ARGV consumed epoch seconds. Only an existing (unexpired) entry is marked.
  // The stored text is JSON.stringify of an object, so the field is appended before its closing
  // brace (JSON.parse keeps the last of duplicate names). Decoding and re-encoding with cjson
  // would turn [] into {} and round big integers to 14 digits.
  tfConsume: {
    numberOfKeys: 1,
    lua: `
      local raw = redis.call('GET', KEYS[1])
      if not raw then return 0 end
      local body = string.sub(raw, 1, -2)
      local sep = ','
      if body == '{' then sep = '' end
      redis.call('SET', KEYS[1], body .. sep .. '"consumed":' .. ARGV[1] .. '}', 'KEEPTTL')
      return 1`,
  },
  // KEYS failures, lock, lockouts, step; ARGV step, step ttl
  tfAcceptTotp: {
    numberOfKeys: 4,
    lua: `
      local locked = redis.call('TTL', KEYS[2])
      if locked > 0 then return {0, locked} end
      local last = tonumber(redis.call('GET', KEYS[4]) or '-1')
      if tonumber(ARGV[1]) <= last then return {0, -1} end
      redis.call('SET', KEYS[4], ARGV[1], 'EX', tonumber(ARGV[2]))
      redis.call('DEL', KEYS[1], KEYS[3])
      return {1, 0}`,
  },
  // KEYS failures, lock, lockouts
  tfAcceptFactor: {
    numberOfKeys: 3,
    lua: `
      local locked = redis.call('TTL', KEYS[2])
      if locked > 0 then return {0, locked} end
      redis.call('DEL', KEYS[1], KEYS[3])
      return {1, 0}`,
  },
  // KEYS failures, lock, lockouts, challenge; ARGV threshold, lock seconds, memory seconds, challenge ttl
  tfFailure: {
    numberOfKeys: 4,
    lua: `${FAILURE_LUA}
      return countFailure(1)`,
  },
  // KEYS failures, lock, lockouts, challenge, code
  // ARGV threshold, lock seconds, memory seconds, challenge ttl, digest, now ms, max attempts
  tfVerifyCode: {
    numberOfKeys: 5,
    lua: `${FAILURE_LUA}
      local locked = redis.call('TTL', KEYS[2])
      if locked > 0 then return {2, locked, 0, 0, 0} end
      local stored = redis.call('HMGET', KEYS[5], 'd', 'x')
      local live = stored[1] and tonumber(stored[2]) > tonumber(ARGV[6])
      if live and stored[1] == ARGV[5] then
        redis.call('DEL', KEYS[5], KEYS[1], KEYS[3])
        return {1, 0, 0, 0, 0}
      end
      local spent = 0
      if stored[1] then
        local n = redis.call('HINCRBY', KEYS[5], 'n', 1)
        if n >= tonumber(ARGV[7]) or not live then
          redis.call('DEL', KEYS[5])
          spent = 1
        end
      end
      local outcome = countFailure(1)
      return {0, outcome[3], outcome[1], outcome[2], spent}`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Scripted = { [K in ScriptName]: (...args: Array<string | number>) => Promise<unknown> };

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis' as const;
  private readonly redis: RedisClient & Scripted;

  constructor(client: RedisClient) {
    for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS)) {
      (client as Redis).defineCommand(name, { numberOfKeys, lua });
    }
    this.redis = client as RedisClient & Scripted;
  }

  get client(): Redis | Cluster {
    return this.redis;
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async setJson(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, JSON.stringify(value), 'EX', ttlSeconds);
  }

  async delete(...keys: string[]): Promise<void> {
    // One DEL per key: on a cluster the keys may live in different slots.
    await Promise.all(keys.map((k) => this.redis.del(k)));
  }

  // --- oidc-provider persistence

  private oidcKey = (model: string, id: string) => `tf:oidc:${model}:${id}`;

  async oidcUpsert(model: string, id: string, payload: OidcPayload, ttlSeconds: number): Promise<void> {
    const key = this.oidcKey(model, id);
    const ops: Array<Promise<unknown>> = [this.redis.set(key, JSON.stringify(payload), 'EX', ttlSeconds)];
    if (payload.grantId && GRANT_BOUND_MODELS.has(model)) {
      ops.push(this.redis.tfIndex(`tf:oidc:grant:${payload.grantId}`, key, ttlSeconds));
    }
    if (payload.userCode) ops.push(this.redis.set(`tf:oidc:userCode:${payload.userCode}`, id, 'EX', ttlSeconds));
    if (payload.uid) ops.push(this.redis.set(`tf:oidc:uid:${payload.uid}`, id, 'EX', ttlSeconds));
    await Promise.all(ops);
  }

  async oidcFind(model: string, id: string): Promise<OidcPayload | undefined> {
    return this.getJson<OidcPayload>(this.oidcKey(model, id));
  }

  async oidcFindByUid(uid: string): Promise<OidcPayload | undefined> {
    const id = await this.redis.get(`tf:oidc:uid:${uid}`);
    return id === null ? undefined : this.oidcFind('Session', id);
  }

  async oidcFindByUserCode(userCode: string): Promise<OidcPayload | undefined> {
    const id = await this.redis.get(`tf:oidc:userCode:${userCode}`);
    return id === null ? undefined : this.oidcFind('DeviceCode', id);
  }

  async oidcConsume(model: string, id: string): Promise<void> {
    await this.redis.tfConsume(this.oidcKey(model, id), Math.floor(Date.now() / 1000));
  }

  async oidcDestroy(model: string, id: string): Promise<void> {
    await this.redis.del(this.oidcKey(model, id));
  }

  async oidcRevokeByGrantId(grantId: string): Promise<void> {
    const grantKey = `tf:oidc:grant:${grantId}`;
    const members = await this.redis.smembers(grantKey);
    await this.delete(...members, grantKey);
  }

  // --- counters

  async increment(key: string, windowSeconds: number, by = 1): Promise<CounterState> {
    const [count, ttl] = (await this.redis.tfIncrement(key, windowSeconds, by)) as [number, number];
    return { count, ttl };
  }

  async peek(key: string): Promise<CounterState> {
    const [raw, ttl] = (await this.redis.tfPeek(key)) as [string, number];
    const count = Number(raw);
    return { count, ttl: count ? Math.max(ttl, 0) : 0 };
  }

  // --- second-factor attempts

  private static outcome([ok, extra]: [number, number]): AcceptOutcome {
    if (ok === 1) return { ok: true };
    return extra > 0 ? { ok: false, reason: 'locked', lockedFor: extra } : { ok: false, reason: 'replayed' };
  }

  async acceptTotpStep(account: AccountKeys, stepKey: string, step: number, stepTtlSeconds: number): Promise<AcceptOutcome> {
    const reply = (await this.redis.tfAcceptTotp(account.failures, account.lock, account.lockouts, stepKey, step, stepTtlSeconds)) as [number, number];
    return RedisSessionStore.outcome(reply);
  }

  async acceptSecondFactor(account: AccountKeys): Promise<AcceptOutcome> {
    const reply = (await this.redis.tfAcceptFactor(account.failures, account.lock, account.lockouts)) as [number, number];
    return RedisSessionStore.outcome(reply);
  }

  async recordSecondFactorFailure(account: AccountKeys, challengeKey: string, policy: FailurePolicy, challengeTtlSeconds: number): Promise<FailureOutcome> {
    const [accountFailures, challengeFailures, lockedFor] = (await this.redis.tfFailure(
      account.failures,
      account.lock,
      account.lockouts,
      challengeKey,
      policy.threshold,
      policy.lockSeconds,
      FAILURE_MEMORY_SECONDS,
      challengeTtlSeconds,
    )) as [number, number, number];
    return { accountFailures, challengeFailures, lockedFor };
  }

  async lockedFor(account: AccountKeys): Promise<number> {
    return Math.max(await this.redis.ttl(account.lock), 0);
  }

  async reserveAttempt(account: AccountKeys, slotKey: string, slotTtlSeconds: number): Promise<{ lockedFor: number; slots: number }> {
    const [lockedFor, slots] = (await this.redis.tfReserve(account.lock, slotKey, slotTtlSeconds)) as [number, number];
    return { lockedFor, slots };
  }

  async putCode(codeKey: string, digest: string, expiresAtMs: number, ttlSeconds: number): Promise<void> {
    // MULTI: the old code's attempts never carry over to the new one.
    await this.redis.multi().del(codeKey).hset(codeKey, 'd', digest, 'x', expiresAtMs, 'n', 0).expire(codeKey, ttlSeconds).exec();
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
    const [ok, lockedFor, accountFailures, challengeFailures, spent] = (await this.redis.tfVerifyCode(
      account.failures,
      account.lock,
      account.lockouts,
      challengeKey,
      codeKey,
      policy.threshold,
      policy.lockSeconds,
      FAILURE_MEMORY_SECONDS,
      challengeTtlSeconds,
      digest,
      nowMs,
      maxAttempts,
    )) as [number, number, number, number, number];
    if (ok === 1) return { ok: true };
    if (ok === 2) return { ok: false, reason: 'locked', lockedFor };
    return { ok: false, reason: 'invalid', spent: spent === 1, failure: { accountFailures, challengeFailures, lockedFor } };
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
