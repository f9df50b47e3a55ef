// The session store contract: what every SessionStore (Redis, memory) must do, as mocha tests.
// session-store.test.ts runs it against each implementation. Security checklist items
// (../shared/security-checklist.md) are named in brackets where a test proves one.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { keys, type AccountKeys, type FailurePolicy, type SessionStore } from '../../src/store/session-store.js';

export interface StoreClock {
  /** The time as the store sees it, in epoch milliseconds. */
  now(): number;
  /** Lets `seconds` pass as the store sees it: a real wait for Redis, a clock step for memory. */
  elapse(seconds: number): Promise<void>;
}

const id = () => randomBytes(6).toString('hex');

/** A fresh account's keys and its factor's step key. */
function account() {
  const accountId = id();
  return { accountKeys: keys.account(accountId), stepKey: keys.totpStep(accountId, id()), challenge: () => keys.challengeFailures(accountId, id()) };
}

/**
 * Whether the grant index of `grantId` exists. The index is an internal set (Redis SET, a JS Set in
 * memory) under tf:oidc:grant:<id>; reading it as a JSON document fails while it exists and yields
 * undefined once it is gone, which is all this needs without reaching into either implementation.
 */
async function grantIndexExists(store: SessionStore, grantId: string): Promise<boolean> {
  try {
    return (await store.getJson(`tf:oidc:grant:${grantId}`)) !== undefined;
  } catch {
    return true;
  }
}

export function sessionStoreContract(factory: () => Promise<SessionStore>, clock: StoreClock): void {
  let store: SessionStore;
  beforeEach(async () => {
    store = await factory();
  });
  afterEach(async () => {
    await store?.close();
  });

  describe('JSON documents', () => {
    it('stores and returns a document, and undefined for a missing key', async () => {
      const key = `tf:doc:${id()}`;
      const doc = { a: 1, nested: { list: [1, 'two', null], empty: [], obj: {} }, text: 'Grüße ✓' };
      await store.setJson(key, doc, 60);
      expect(await store.getJson(key)).to.deep.equal(doc);
      expect(await store.getJson(`tf:doc:${id()}`)).to.equal(undefined);
    });

    it('returns a copy: changing what it returned or what was stored changes nothing in the store', async () => {
      const key = `tf:doc:${id()}`;
      const doc = { n: 1 };
      await store.setJson(key, doc, 60);
      doc.n = 2;
      const read = (await store.getJson<{ n: number }>(key))!;
      read.n = 3;
      expect(await store.getJson(key)).to.deep.equal({ n: 1 });
    });

    it('forgets a document when its TTL runs out', async () => {
      const key = `tf:doc:${id()}`;
      await store.setJson(key, { x: 1 }, 1);
      expect(await store.getJson(key)).to.deep.equal({ x: 1 });
      await clock.elapse(1);
      expect(await store.getJson(key)).to.equal(undefined);
    });

    it('overwriting a document gives it the new TTL', async () => {
      const key = `tf:doc:${id()}`;
      await store.setJson(key, { v: 1 }, 1);
      await store.setJson(key, { v: 2 }, 60);
      await clock.elapse(1);
      expect(await store.getJson(key)).to.deep.equal({ v: 2 });
    });

    it('delete removes every key named and ignores missing ones', async () => {
      const [a, b, c] = [`tf:doc:${id()}`, `tf:doc:${id()}`, `tf:doc:${id()}`];
      await store.setJson(a, 1, 60);
      await store.setJson(b, 2, 60);
      await store.setJson(c, 3, 60);
      await store.delete(a, b, `tf:doc:${id()}`);
      expect(await store.getJson(a)).to.equal(undefined);
      expect(await store.getJson(b)).to.equal(undefined);
      expect(await store.getJson(c)).to.equal(3);
      await store.delete();
    });
  });

  describe('oidc-provider models', () => {
    it('upserts and finds a model by id, separately per model name', async () => {
      const tokenId = id();
      const payload = { jti: tokenId, kind: 'AccessToken', scope: 'openid', exp: 1_900_000_000 };
      await store.oidcUpsert('AccessToken', tokenId, payload, 60);
      expect(await store.oidcFind('AccessToken', tokenId)).to.deep.equal(payload);
      expect(await store.oidcFind('RefreshToken', tokenId)).to.equal(undefined);
      await store.oidcUpsert('AccessToken', tokenId, { ...payload, scope: 'openid email' }, 60);
      expect(await store.oidcFind('AccessToken', tokenId)).to.deep.include({ scope: 'openid email' });
    });

    it('forgets a model when its TTL runs out', async () => {
      const codeId = id();
      await store.oidcUpsert('AuthorizationCode', codeId, { jti: codeId }, 1);
      await clock.elapse(1);
      expect(await store.oidcFind('AuthorizationCode', codeId)).to.equal(undefined);
    });

    it('finds a session by its uid, and forgets the uid with the session', async () => {
      const sessionId = id();
      const uid = id();
      await store.oidcUpsert('Session', sessionId, { jti: sessionId, uid, accountId: 'a1' }, 1);
      expect(await store.oidcFindByUid(uid)).to.deep.equal({ jti: sessionId, uid, accountId: 'a1' });
      expect(await store.oidcFindByUid(id())).to.equal(undefined);
      await clock.elapse(1);
      expect(await store.oidcFindByUid(uid)).to.equal(undefined);
    });

    it('finds a device code by its user code', async () => {
      const deviceId = id();
      const userCode = `ABCD-${id()}`;
      await store.oidcUpsert('DeviceCode', deviceId, { jti: deviceId, userCode }, 60);
      expect(await store.oidcFindByUserCode(userCode)).to.deep.equal({ jti: deviceId, userCode });
      expect(await store.oidcFindByUserCode('NOPE-NOPE')).to.equal(undefined);
    });

    it('consume marks the model consumed and changes nothing else in it', async () => {
      const codeId = id();
      // Empty arrays and objects, big integers and non-ASCII text must survive exactly.
      const payload = { jti: codeId, grantId: id(), scope: 'openid', claims: {}, resources: [], exp: 1_900_000_000, big: 9_007_199_254_740_991, name: 'Zoë ✓ "q" \\ /' };
      await store.oidcUpsert('AuthorizationCode', codeId, payload, 60);
      const before = Math.floor(clock.now() / 1000);
      await store.oidcConsume('AuthorizationCode', codeId);
      const consumed = (await store.oidcFind('AuthorizationCode', codeId))!;
      expect(consumed.consumed).to.be.a('number').within(before, before + 5);
      const { consumed: _, ...rest } = consumed;
      expect(rest).to.deep.equal(payload);
    });

    it('consume keeps the TTL the model had', async () => {
      const codeId = id();
      await store.oidcUpsert('AuthorizationCode', codeId, { jti: codeId }, 2);
      await clock.elapse(1);
      await store.oidcConsume('AuthorizationCode', codeId);
      expect(await store.oidcFind('AuthorizationCode', codeId)).to.have.property('consumed');
      await clock.elapse(1);
      expect(await store.oidcFind('AuthorizationCode', codeId)).to.equal(undefined);
    });

    it('consume of a missing model creates nothing', async () => {
      const codeId = id();
      await store.oidcConsume('AuthorizationCode', codeId);
      expect(await store.oidcFind('AuthorizationCode', codeId)).to.equal(undefined);
    });

    it('destroy removes the model', async () => {
      const sessionId = id();
      await store.oidcUpsert('Session', sessionId, { jti: sessionId }, 60);
      await store.oidcDestroy('Session', sessionId);
      expect(await store.oidcFind('Session', sessionId)).to.equal(undefined);
      await store.oidcDestroy('Session', id());
    });

    it('revokeByGrantId deletes every code and token of the grant and its index, and nothing of other grants', async () => {
      const grantId = id();
      const otherGrant = id();
      const members = [
        ['AuthorizationCode', id()],
        ['AccessToken', id()],
        ['RefreshToken', id()],
        ['Grant', grantId],
      ] as const;
      for (const [model, modelId] of members) await store.oidcUpsert(model, modelId, { jti: modelId, grantId }, 60);
      const otherToken = id();
      await store.oidcUpsert('AccessToken', otherToken, { jti: otherToken, grantId: otherGrant }, 60);
      expect(await grantIndexExists(store, grantId)).to.equal(true);

      await store.oidcRevokeByGrantId(grantId);

      for (const [model, modelId] of members) expect(await store.oidcFind(model, modelId), `${model} survived`).to.equal(undefined);
      expect(await grantIndexExists(store, grantId)).to.equal(false);
      expect(await store.oidcFind('AccessToken', otherToken)).to.deep.equal({ jti: otherToken, grantId: otherGrant });
      await store.oidcRevokeByGrantId(id());
    });

    it('revokeByGrantId leaves an Interaction and a Session that carry the grantId alone', async () => {
      // Switching accounts revokes the old session's grants while the new sign-in's interaction is
      // still needed to finish it.
      const grantId = id();
      const [interaction, session, token] = [id(), id(), id()];
      await store.oidcUpsert('Interaction', interaction, { jti: interaction, grantId }, 60);
      await store.oidcUpsert('Session', session, { jti: session, grantId }, 60);
      await store.oidcUpsert('AccessToken', token, { jti: token, grantId }, 60);
      await store.oidcRevokeByGrantId(grantId);
      expect(await store.oidcFind('AccessToken', token)).to.equal(undefined);
      expect(await store.oidcFind('Interaction', interaction)).to.deep.equal({ jti: interaction, grantId });
      expect(await store.oidcFind('Session', session)).to.deep.equal({ jti: session, grantId });
    });

    it('the grant index outlives its longest-lived member, so a late revocation still finds it', async () => {
      const grantId = id();
      const longLived = id();
      const shortLived = id();
      await store.oidcUpsert('RefreshToken', longLived, { jti: longLived, grantId }, 3);
      await store.oidcUpsert('AccessToken', shortLived, { jti: shortLived, grantId }, 1);
      await clock.elapse(1);
      expect(await store.oidcFind('RefreshToken', longLived)).to.not.equal(undefined);
      await store.oidcRevokeByGrantId(grantId);
      expect(await store.oidcFind('RefreshToken', longLived)).to.equal(undefined);
    });
  });

  describe('counters', () => {
    it('increment starts a window, counts within it, and peek reads without counting', async () => {
      const key = `tf:count:${id()}`;
      expect(await store.peek(key)).to.deep.equal({ count: 0, ttl: 0 });
      const first = await store.increment(key, 60);
      expect(first.count).to.equal(1);
      expect(first.ttl).to.be.within(59, 60);
      expect((await store.increment(key, 60)).count).to.equal(2);
      expect((await store.increment(key, 60, 5)).count).to.equal(7);
      const peeked = await store.peek(key);
      expect(peeked.count).to.equal(7);
      expect(peeked.ttl).to.be.within(59, 60);
      expect((await store.peek(key)).count).to.equal(7);
    });

    it('a window is fixed: counting does not extend it, and a new one starts after it ends', async () => {
      const key = `tf:count:${id()}`;
      await store.increment(key, 2);
      await clock.elapse(1);
      const during = await store.increment(key, 2);
      expect(during.count).to.equal(2);
      expect(during.ttl).to.be.within(0, 1);
      await clock.elapse(1);
      expect(await store.peek(key)).to.deep.equal({ count: 0, ttl: 0 });
      const next = await store.increment(key, 2);
      expect(next.count).to.equal(1);
      expect(next.ttl).to.be.within(1, 2);
    });

    it('[item 9] parallel increments are never lost', async () => {
      const key = `tf:count:${id()}`;
      const results = await Promise.all(Array.from({ length: 50 }, () => store.increment(key, 60)));
      expect(results.map((r) => r.count).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      expect((await store.peek(key)).count).to.equal(50);
    });
  });

  describe('second-factor attempts', () => {
    const policy: FailurePolicy = { threshold: 3, lockSeconds: 1 };

    /** Fails `n` times on one challenge and returns the last outcome. */
    async function fail(a: AccountKeys, n: number, challengeKey = `tf:ch:${id()}`, p = policy) {
      let last;
      for (let i = 0; i < n; i++) last = await store.recordSecondFactorFailure(a, challengeKey, p, 60);
      return last!;
    }

    it('[item 9][item 18] reserveAttempt takes one slot per call, atomically, and none while the account is locked', async () => {
      const { accountKeys } = account();
      const slotKey = `tf:slots:${id()}`;
      const taken = await Promise.all(Array.from({ length: 20 }, () => store.reserveAttempt(accountKeys, slotKey, 60)));
      expect(taken.map((t) => t.slots).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(taken.every((t) => t.lockedFor === 0)).to.equal(true);
      await fail(accountKeys, policy.threshold);
      expect(await store.reserveAttempt(accountKeys, slotKey, 60)).to.deep.equal({ lockedFor: 1, slots: 0 });
      await clock.elapse(1);
      expect(await store.reserveAttempt(accountKeys, slotKey, 60)).to.deep.equal({ lockedFor: 0, slots: 21 });
    });

    it('[item 8][item 15] acceptTotpStep accepts a step once, refuses the same or an earlier step, accepts a later one', async () => {
      const { accountKeys, stepKey } = account();
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1000, 90)).to.deep.equal({ ok: true });
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1000, 90)).to.deep.equal({ ok: false, reason: 'replayed' });
      expect(await store.acceptTotpStep(accountKeys, stepKey, 999, 90)).to.deep.equal({ ok: false, reason: 'replayed' });
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1001, 90)).to.deep.equal({ ok: true });
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1000, 90)).to.deep.equal({ ok: false, reason: 'replayed' });
    });

    it('acceptTotpStep keeps the last step per factor: another factor of the account has its own', async () => {
      const accountId = id();
      const accountKeys = keys.account(accountId);
      expect(await store.acceptTotpStep(accountKeys, keys.totpStep(accountId, 'f1'), 1000, 90)).to.deep.equal({ ok: true });
      expect(await store.acceptTotpStep(accountKeys, keys.totpStep(accountId, 'f2'), 1000, 90)).to.deep.equal({ ok: true });
    });

    it('the remembered step expires with its TTL', async () => {
      const { accountKeys, stepKey } = account();
      await store.acceptTotpStep(accountKeys, stepKey, 1000, 1);
      await clock.elapse(1);
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1000, 1)).to.deep.equal({ ok: true });
    });

    it('[item 18] acceptTotpStep refuses a correct code while the account is locked, and does not record its step', async () => {
      const { accountKeys, stepKey } = account();
      const locked = await fail(accountKeys, policy.threshold);
      expect(locked.lockedFor).to.equal(1);
      const refused = await store.acceptTotpStep(accountKeys, stepKey, 2000, 90);
      expect(refused).to.deep.include({ ok: false, reason: 'locked' });
      expect((refused as { lockedFor: number }).lockedFor).to.be.greaterThan(0);
      await clock.elapse(1);
      expect(await store.acceptTotpStep(accountKeys, stepKey, 2000, 90)).to.deep.equal({ ok: true });
    });

    it('[item 18] acceptTotpStep clears the account failures and the lockout history', async () => {
      const { accountKeys, stepKey } = account();
      expect((await fail(accountKeys, 2)).accountFailures).to.equal(2);
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1, 90)).to.deep.equal({ ok: true });
      expect(await fail(accountKeys, 1)).to.deep.include({ accountFailures: 1, lockedFor: 0 });
    });

    it('[item 18] acceptSecondFactor: ok when not locked, refused while locked, and clears failures', async () => {
      const { accountKeys } = account();
      expect(await store.acceptSecondFactor(accountKeys)).to.deep.equal({ ok: true });
      await fail(accountKeys, 2);
      expect(await store.acceptSecondFactor(accountKeys)).to.deep.equal({ ok: true });
      expect(await fail(accountKeys, 1)).to.deep.include({ accountFailures: 1, lockedFor: 0 });
      await fail(accountKeys, 2);
      const refused = await store.acceptSecondFactor(accountKeys);
      expect(refused).to.deep.include({ ok: false, reason: 'locked' });
      expect((refused as { lockedFor: number }).lockedFor).to.equal(1);
      expect(await store.lockedFor(accountKeys)).to.equal(1);
      await clock.elapse(1);
      expect(await store.lockedFor(accountKeys)).to.equal(0);
      expect(await store.acceptSecondFactor(accountKeys)).to.deep.equal({ ok: true });
    });

    it('[item 19] recordSecondFactorFailure counts per account across challenges and per challenge separately', async () => {
      const { accountKeys, challenge } = account();
      const first = challenge();
      const second = challenge();
      expect(await store.recordSecondFactorFailure(accountKeys, first, { threshold: 10, lockSeconds: 1 }, 60)).to.deep.equal({ accountFailures: 1, challengeFailures: 1, lockedFor: 0 });
      expect(await store.recordSecondFactorFailure(accountKeys, first, { threshold: 10, lockSeconds: 1 }, 60)).to.deep.equal({ accountFailures: 2, challengeFailures: 2, lockedFor: 0 });
      expect(await store.recordSecondFactorFailure(accountKeys, second, { threshold: 10, lockSeconds: 1 }, 60)).to.deep.equal({ accountFailures: 3, challengeFailures: 1, lockedFor: 0 });
      expect(await store.lockedFor(accountKeys)).to.equal(0);
    });

    it('the challenge counter expires with its own TTL while the account count stays', async () => {
      const { accountKeys, challenge } = account();
      const key = challenge();
      await store.recordSecondFactorFailure(accountKeys, key, { threshold: 10, lockSeconds: 1 }, 1);
      await clock.elapse(1);
      expect(await store.recordSecondFactorFailure(accountKeys, key, { threshold: 10, lockSeconds: 1 }, 1)).to.deep.equal({ accountFailures: 2, challengeFailures: 1, lockedFor: 0 });
    });

    it('[item 18] locks the account at the threshold; failures while locked do not extend the lock', async () => {
      const { accountKeys } = account();
      expect(await fail(accountKeys, 2)).to.deep.include({ accountFailures: 2, lockedFor: 0 });
      expect(await fail(accountKeys, 1)).to.deep.include({ accountFailures: 3, lockedFor: 1 });
      expect(await store.lockedFor(accountKeys)).to.equal(1);
      // Reaching the threshold again while locked starts no new (longer) lock.
      const during = await fail(accountKeys, 3, undefined, { threshold: 3, lockSeconds: 60 });
      expect(during.lockedFor).to.equal(1);
      await clock.elapse(1);
      expect(await store.lockedFor(accountKeys)).to.equal(0);
    });

    it('[item 18] each further lockout doubles the lock; a success resets it to the first length', async () => {
      const { accountKeys, stepKey } = account();
      expect((await fail(accountKeys, 3)).lockedFor).to.equal(1);
      await clock.elapse(1);
      expect((await fail(accountKeys, 3)).lockedFor).to.equal(2);
      await clock.elapse(2);
      expect((await fail(accountKeys, 3)).lockedFor).to.equal(4);
      await clock.elapse(4);
      expect(await store.acceptTotpStep(accountKeys, stepKey, 1, 90)).to.deep.equal({ ok: true });
      expect((await fail(accountKeys, 3)).lockedFor).to.equal(1);
    });

    it('one account being locked leaves another alone', async () => {
      const a = account();
      const b = account();
      await fail(a.accountKeys, 3);
      expect(await store.lockedFor(a.accountKeys)).to.equal(1);
      expect(await store.lockedFor(b.accountKeys)).to.equal(0);
      expect(await store.acceptSecondFactor(b.accountKeys)).to.deep.equal({ ok: true });
    });

    it('[item 9] 20 parallel acceptTotpStep for the same step: exactly one is accepted', async () => {
      const { accountKeys, stepKey } = account();
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => store.acceptTotpStep(accountKeys, stepKey, 5000, 90)));
      expect(outcomes.filter((o) => o.ok)).to.have.length(1);
      expect(outcomes.filter((o) => !o.ok && o.reason === 'replayed')).to.have.length(19);
    });

    it('[item 18] 50 parallel failures: every one counted once, and exactly one lockout', async () => {
      const { accountKeys, challenge } = account();
      const key = challenge();
      const p = { threshold: 10, lockSeconds: 1 };
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.recordSecondFactorFailure(accountKeys, key, p, 60)));
      // Every failure got its own challenge count: none was lost or counted twice.
      expect(outcomes.map((o) => o.challengeFailures).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      // The lock began exactly once, at the 10th failure: the account count ran 1..10, was reset by
      // that one lockout, and ran 1..40 after it (wrong codes while locked still count).
      const expected = [...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 40 }, (_, i) => i + 1)];
      expect(outcomes.map((o) => o.accountFailures).sort((a, b) => a - b)).to.deep.equal(expected.sort((a, b) => a - b));
      expect(outcomes.filter((o) => o.lockedFor === 0)).to.have.length(p.threshold - 1);
      expect(Math.max(...outcomes.map((o) => o.lockedFor))).to.equal(1);
      // A second lockout would show as a four-fold lock next time instead of two-fold.
      await clock.elapse(1);
      const next = await store.recordSecondFactorFailure(accountKeys, key, p, 60);
      expect(next.lockedFor).to.equal(2);
    });

    it('[item 18] 50 parallel failures up to the threshold: counts 1..50 and one lock at the 50th', async () => {
      const { accountKeys, challenge } = account();
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.recordSecondFactorFailure(accountKeys, challenge(), { threshold: 50, lockSeconds: 1 }, 60)));
      expect(outcomes.map((o) => o.accountFailures).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(outcomes.filter((o) => o.lockedFor > 0)).to.have.length(1);
      expect(await store.lockedFor(accountKeys)).to.equal(1);
    });
  });

  describe('one-time codes', () => {
    const policy: FailurePolicy = { threshold: 10, lockSeconds: 1 };
    const setup = () => {
      const accountId = id();
      const bindingId = id();
      return { accountKeys: keys.account(accountId), codeKey: keys.code(accountId, bindingId, id()), challengeKey: keys.challengeFailures(accountId, bindingId) };
    };
    const verify = (c: ReturnType<typeof setup>, digest: string, nowMs = Date.now(), maxAttempts = 3, p = policy) =>
      store.verifyCode(c.accountKeys, c.codeKey, c.challengeKey, digest, nowMs, maxAttempts, p, 60);

    it('[item 8] a stored code verifies once and clears the account failures', async () => {
      const c = setup();
      await store.recordSecondFactorFailure(c.accountKeys, c.challengeKey, policy, 60);
      await store.putCode(c.codeKey, 'digest-1', Date.now() + 60_000, 60);
      expect(await verify(c, 'digest-1')).to.deep.equal({ ok: true });
      const again = await verify(c, 'digest-1');
      expect(again).to.deep.include({ ok: false, reason: 'invalid', spent: false });
      // The earlier failure was cleared by the success: this one is the first again.
      expect((again as { failure: { accountFailures: number } }).failure.accountFailures).to.equal(1);
    });

    it('[item 12] a wrong code counts a failure on the account and the challenge; the code dies at its attempt limit', async () => {
      const c = setup();
      await store.putCode(c.codeKey, 'right', Date.now() + 60_000, 60);
      expect(await verify(c, 'wrong')).to.deep.equal({ ok: false, reason: 'invalid', spent: false, failure: { accountFailures: 1, challengeFailures: 1, lockedFor: 0 } });
      expect(await verify(c, 'wrong')).to.deep.include({ spent: false });
      expect(await verify(c, 'wrong')).to.deep.equal({ ok: false, reason: 'invalid', spent: true, failure: { accountFailures: 3, challengeFailures: 3, lockedFor: 0 } });
      expect(await verify(c, 'right')).to.deep.include({ ok: false, reason: 'invalid' });
    });

    it('[item 7] a code past its expiry time is refused and voided', async () => {
      const c = setup();
      const expiresAt = Date.now() + 60_000;
      await store.putCode(c.codeKey, 'right', expiresAt, 60);
      expect(await verify(c, 'right', expiresAt)).to.deep.include({ ok: false, reason: 'invalid', spent: true });
      expect(await verify(c, 'right', expiresAt - 1000)).to.deep.include({ ok: false, reason: 'invalid', spent: false });
    });

    it('[item 7] a code is forgotten when its TTL runs out', async () => {
      const c = setup();
      await store.putCode(c.codeKey, 'right', Date.now() + 600_000, 1);
      await clock.elapse(1);
      expect(await verify(c, 'right')).to.deep.include({ ok: false, reason: 'invalid', spent: false });
    });

    it('[item 10] a new code replaces the old one, and its attempts start from zero', async () => {
      const c = setup();
      await store.putCode(c.codeKey, 'first', Date.now() + 60_000, 60);
      await verify(c, 'wrong');
      await verify(c, 'wrong');
      await store.putCode(c.codeKey, 'second', Date.now() + 60_000, 60);
      expect(await verify(c, 'first')).to.deep.include({ ok: false, spent: false });
      expect(await verify(c, 'second')).to.deep.equal({ ok: true });
    });

    it('[item 18] a right code is refused while the account is locked', async () => {
      const c = setup();
      await store.putCode(c.codeKey, 'right', Date.now() + 60_000, 60);
      for (let i = 0; i < policy.threshold; i++) await store.recordSecondFactorFailure(c.accountKeys, c.challengeKey, policy, 60);
      expect(await verify(c, 'right')).to.deep.equal({ ok: false, reason: 'locked', lockedFor: 1 });
      await clock.elapse(1);
      expect(await verify(c, 'right')).to.deep.equal({ ok: true });
    });

    it('[item 9] 20 parallel submissions of the right code: exactly one succeeds', async () => {
      const c = setup();
      await store.putCode(c.codeKey, 'right', Date.now() + 60_000, 60);
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => verify(c, 'right', Date.now(), 100)));
      expect(outcomes.filter((o) => o.ok)).to.have.length(1);
    });
  });

  it('answers ping', async () => {
    await store.ping();
  });
}
