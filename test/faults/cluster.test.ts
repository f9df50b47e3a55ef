// Redis Cluster: three masters started from redis-server binaries on local ports, Twofold pointed
// at REDIS_URL=redis-cluster://... Every multi-key operation (each Lua script, the MULTI of a code)
// keeps its keys in one slot, so nothing answers CROSSSLOT: each store operation that touches
// several keys runs against the cluster directly, then complete sign-ins with an authenticator app
// and with SMS (through the fake Vonage) run end to end, and the keys really spread over all
// three masters.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startRedisCluster } from '../support/redis-server.js';
import { createUser, registerClient, type TestClient } from '../support/oidc.js';
import { enrolTotpOnPage, finishAndExchange, nextCode, startSignIn, submitChallenge, testClock, wrongCode } from '../support/mfa.js';
import { textOf } from '../support/agent.js';
import { exchange } from '../support/oidc.js';
import { startPhoneRig, userWithPhone, challenge, enterCode, claimsAfter, type PhoneRig } from '../phone/helpers.js';
import { RedisSessionStore } from '../../src/store/redis.js';
import { connectRedis, createRedisClient } from '../../src/store/redis-connection.js';
import { keys, type SessionStore } from '../../src/store/session-store.js';

type Cluster = Awaited<ReturnType<typeof startRedisCluster>>;

const keysOn = (port: number, pattern: string): string[] =>
  spawnSync('redis-cli', ['-p', String(port), '--scan', '--pattern', pattern], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

const slotOf = (port: number, key: string): number => Number(spawnSync('redis-cli', ['-p', String(port), 'cluster', 'keyslot', key], { encoding: 'utf8' }).stdout.trim());

describe('faults: Redis Cluster (3 masters)', function () {
  this.timeout(90_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await startRedisCluster();
  });
  after(() => cluster?.close());

  describe('every store operation on several keys', () => {
    const prefix = `cl${randomBytes(4).toString('hex')}:`;
    let store: SessionStore;

    before(async () => {
      const client = createRedisClient(cluster.url, { keyPrefix: prefix });
      await connectRedis(client, cluster.url);
      store = new RedisSessionStore(client);
    });
    after(() => store?.close());

    it('keeps an account\'s keys in one slot (the {a:<id>} hash tag), whatever the prefix', () => {
      const port = cluster.nodes[0]!.port;
      const accountId = randomBytes(8).toString('hex');
      const k = keys.account(accountId);
      const family = [k.failures, k.lock, k.lockouts, keys.totpStep(accountId, 'f1'), keys.challengeFailures(accountId, 'uid1'), keys.code(accountId, 'uid1', 'f1')];
      const slots = new Set(family.map((key) => slotOf(port, `${prefix}${key}`)));
      expect(slots.size, family.join(' ')).to.equal(1);
      // and different accounts land on different slots (the tag is per account, not global)
      const many = new Set(Array.from({ length: 20 }, () => slotOf(port, `${prefix}${keys.account(randomBytes(8).toString('hex')).failures}`)));
      expect(many.size).to.be.above(10);
    });

    it('runs every script and the code MULTI on the cluster without CROSSSLOT', async () => {
      const accountId = randomBytes(8).toString('hex');
      const account = keys.account(accountId);
      const policy = { threshold: 3, lockSeconds: 60 };
      const challengeKey = keys.challengeFailures(accountId, 'ix1');
      const codeKey = keys.code(accountId, 'ix1', 'f1');

      expect(await store.acceptTotpStep(account, keys.totpStep(accountId, 'f1'), 100, 120)).to.deep.equal({ ok: true });
      expect(await store.acceptTotpStep(account, keys.totpStep(accountId, 'f1'), 100, 120)).to.deep.equal({ ok: false, reason: 'replayed' });
      expect(await store.acceptSecondFactor(account)).to.deep.equal({ ok: true });
      const failure = await store.recordSecondFactorFailure(account, challengeKey, policy, 600);
      expect(failure).to.deep.include({ accountFailures: 1, challengeFailures: 1 });

      await store.putCode(codeKey, 'digest-1', Date.now() + 60_000, 600);
      const wrong = await store.verifyCode(account, codeKey, challengeKey, 'digest-x', Date.now(), 5, policy, 600);
      expect(wrong).to.deep.include({ ok: false, reason: 'invalid' });
      expect(await store.verifyCode(account, codeKey, challengeKey, 'digest-1', Date.now(), 5, policy, 600)).to.deep.equal({ ok: true });
      await store.recordSecondFactorFailure(account, challengeKey, policy, 600);
      await store.recordSecondFactorFailure(account, challengeKey, policy, 600);
      const locked = await store.recordSecondFactorFailure(account, challengeKey, policy, 600);
      expect(locked.lockedFor).to.be.above(0);
      expect(await store.lockedFor(account)).to.be.above(0);

      expect(await store.increment(`tf:signin:u:${accountId}`, 60)).to.deep.include({ count: 1 });
      expect((await store.peek(`tf:signin:u:${accountId}`)).count).to.equal(1);

      // oidc-provider models with a grant index, consumed and revoked across slots key by key.
      const grantId = randomBytes(8).toString('hex');
      await store.oidcUpsert('AuthorizationCode', 'code1', { grantId, uid: 'u1' }, 60);
      await store.oidcUpsert('AccessToken', 'at1', { grantId }, 60);
      await store.oidcConsume('AuthorizationCode', 'code1');
      expect((await store.oidcFind('AuthorizationCode', 'code1'))?.consumed).to.be.a('number');
      await store.oidcRevokeByGrantId(grantId);
      expect(await store.oidcFind('AccessToken', 'at1')).to.equal(undefined);
    });
  });

  describe('complete sign-ins against REDIS_URL=redis-cluster://...', () => {
    const clock = testClock();
    let rig: PhoneRig;
    let client: TestClient;

    before(async () => {
      rig = await startPhoneRig({ store: 'redis', now: clock.now, config: { redisUrl: cluster.url } });
      client = await registerClient(rig.server, { requireMfa: true });
    });
    after(() => rig?.close());

    it('enrols an authenticator app, fails a code, passes the challenge, exchanges and refreshes', async () => {
      expect(rig.server.config.redisUrl).to.match(/^redis-cluster:\/\//);
      const user = await createUser(rig.server, 'clara');
      const start = await startSignIn(client, user);
      const { secret, page } = await enrolTotpOnPage(start.agent, start.page, clock);
      const first = await finishAndExchange(client, start, page);
      expect(first.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

      const again = await startSignIn(client, user);
      const refused = await submitChallenge(again.agent, again.page, await wrongCode(secret, clock));
      expect(refused.status, textOf(refused)).to.equal(400);
      const passed = await submitChallenge(again.agent, refused, await nextCode(secret, clock));
      expect(passed.redirectedTo, textOf(passed)).to.be.a('string');
      const tokens = await exchange(client, again.auth, passed.redirectedTo!);
      expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      const refreshed = await oidc.refreshTokenGrant(client.rp, tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string').and.not.equal(tokens.access_token);
    });

    it('enrols SMS through the fake Vonage and signs in with a texted code', async () => {
      const user = await userWithPhone(rig, 'sami', ['sms']);
      const start = await challenge(rig, user);
      const done = await enterCode(start.agent, start.page, rig.vonage.lastSmsCode());
      const claims = await claimsAfter(rig, start, done);
      expect(claims.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('spread its keys over all three masters and logged no CROSSSLOT or store error', () => {
      const prefix = rig.server.config.redisKeyPrefix;
      const perNode = cluster.nodes.map((n) => keysOn(n.port, `${prefix}*`).length);
      expect(perNode.every((n) => n > 0), `keys per master: ${perNode.join(', ')}`).to.equal(true);
      expect(rig.server.logs.text).to.not.match(/CROSSSLOT|MOVED|ClusterAllFailed|redis connection problem/i);
      expect(rig.server.logs.entries().filter((e) => Number(e.status) >= 500)).to.deep.equal([]);
    });
  });
});
