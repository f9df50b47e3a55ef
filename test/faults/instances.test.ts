// Twofold as several stateless instances: A and B share one PostgreSQL database, one Redis (same
// key prefix) and the same TWOFOLD_SECRET, behind a round-robin balancer with no sticky sessions
// (every request goes to the other instance). Full sign-ins complete while alternating; a sign-in
// started on A finishes on B after A is stopped; the signing keys and cookie keys are the same
// everywhere. A control instance C that does not share the Redis prefix shows that the
// alternation is real: with it in the rotation, sign-ins cannot finish.
import { createPublicKey, verify, randomBytes, type JsonWebKey } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { freePort, startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { Balancer } from '../support/balancer.js';
import { Agent, textOf } from '../support/agent.js';
import { createUser, currentTotp, exchange, isCallback, keyFromPage, openAuthorization, passwordSignIn, relyingParty, submitPassword, authorizationUrl, type TestClient } from '../support/oidc.js';
import { enrolTotpOnPage, finishAndExchange, nextCode, startSignIn, submitChallenge, testClock, userWithTotp } from '../support/mfa.js';

interface Jwks {
  keys: Array<JsonWebKey & { kid: string; alg: string }>;
}

/** Verifies a JWS (RS256 or ES256) with the key of its kid from `jwks`; returns the kid. */
function verifyJwt(jwt: string, jwks: Jwks): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string; alg: string };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`kid ${header.kid} is not in the JWKS`);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk as Record<string, unknown>;
  const key = createPublicKey({ key: pub as JsonWebKey, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error(`signature does not verify with kid ${header.kid}`);
  return header.kid;
}

const strictlyAlternating = (served: string[]) => served.every((name, i) => i === 0 || name !== served[i - 1]);

describe('faults: two instances sharing one database, one Redis and the secret', function () {
  this.timeout(60_000);
  const clock = testClock();
  const secret = `shared-${randomBytes(24).toString('hex')}`;
  const prefix = `inst${randomBytes(4).toString('hex')}:`;
  let db: TestDatabase;
  let balancer: Balancer;
  let a: TestServer;
  let b: TestServer;
  let c: TestServer;
  let mfaClient: TestClient;

  before(async () => {
    db = await createTestDatabase('postgres');
    const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()];
    balancer = await new Balancer([
      { name: 'A', port: portA },
      { name: 'B', port: portB },
      { name: 'C', port: portC },
    ]).start();
    balancer.remove('C');
    const shared = { databaseUrl: db.url, store: 'redis' as const, secret, now: clock.now, config: { issuer: balancer.url } };
    a = await startTestServer({ ...shared, port: portA, redisKeyPrefix: prefix });
    b = await startTestServer({ ...shared, port: portB, redisKeyPrefix: prefix });
    c = await startTestServer({ ...shared, port: portC, redisKeyPrefix: `other${randomBytes(4).toString('hex')}:` });
    const { secret: clientSecret } = await a.services.clients.add({ clientId: 'shared-rp', redirectUris: ['https://rp.example.com/callback'], requireMfa: true });
    mfaClient = { clientId: 'shared-rp', secret: clientSecret, rp: await relyingParty({ issuer: balancer.url } as TestServer, 'shared-rp', clientSecret) };
  });
  after(async () => {
    await balancer?.close();
    for (const server of [a, b, c]) await server?.close();
    await db?.drop();
  });

  it('publishes the same signing keys on every instance: an ID token verifies with either JWKS, under the same kid', async () => {
    const [jwksA, jwksB] = await Promise.all([a, b].map(async (s) => (await (await fetch(`http://127.0.0.1:${s.config.port}/jwks`)).json()) as Jwks));
    expect(jwksA!.keys.length).to.be.above(0);
    expect(jwksB).to.deep.equal(jwksA);

    const user = await userWithTotp(a, mfaClient, clock, 'ida');
    const idToken = user.tokens.id_token!;
    const kidA = verifyJwt(idToken, jwksA!);
    const kidB = verifyJwt(idToken, jwksB!);
    expect(kidA).to.equal(kidB);
    expect(user.tokens.claims()!.iss).to.equal(balancer.url);
  });

  it('completes full sign-ins (enrolment, TOTP challenge, code exchange, userinfo, refresh) with every request alternating between A and B', async () => {
    const from = balancer.served.length;
    const kai = await createUser(a, 'kai');
    const start = await startSignIn(mfaClient, kai);
    const { secret: totpSecret, page } = await enrolTotpOnPage(start.agent, start.page, clock);
    const first = await finishAndExchange(mfaClient, start, page);
    expect(first.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    const agent = new Agent();
    const auth = await authorizationUrl(mfaClient);
    const challenge = await submitPassword(agent, await openAuthorization(agent, auth), kai.username, kai.password);
    expect(challenge.$('form[action$="/challenge/verify"]').length, textOf(challenge)).to.equal(1);
    const done = await agent.submit(challenge, '/challenge/verify', { code: await nextCode(totpSecret, clock) }, { stopAt: isCallback });
    expect(done.redirectedTo, textOf(done)).to.be.a('string');
    const tokens = await exchange(mfaClient, auth, done.redirectedTo!);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).to.equal('mfa');

    const info = await oidc.fetchUserInfo(mfaClient.rp, tokens.access_token, tokens.claims()!.sub);
    expect(info.sub).to.equal(tokens.claims()!.sub);
    const refreshed = await oidc.refreshTokenGrant(mfaClient.rp, tokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string');

    const served = balancer.served.slice(from);
    expect(served.filter((n) => n === 'A').length).to.be.above(8);
    expect(served.filter((n) => n === 'B').length).to.be.above(8);
    expect(strictlyAlternating(served), served.join('')).to.equal(true);
  });

  it('applies a change made through A on B at once, though B keeps clients and accounts in memory: require_mfa turned on makes B ask for the second factor (item 33); a user disabled mid-sign-in cannot finish on B', async () => {
    expect(b.services.db.changes?.live, 'B caches clients and accounts').to.equal(true);
    const { secret: flipSecret } = await a.services.clients.add({ clientId: 'flip-rp', redirectUris: ['https://rp.example.com/callback'], requireMfa: false });
    const flip: TestClient = { clientId: 'flip-rp', secret: flipSecret, rp: await relyingParty({ issuer: balancer.url } as TestServer, 'flip-rp', flipSecret) };
    const lee = await userWithTotp(a, mfaClient, clock, 'lee');
    balancer.remove('A');
    try {
      // B reads (and keeps) the client and the account: a password is enough for this client.
      const before = await passwordSignIn(b, flip, lee);
      expect(before.tokens.claims()!.amr).to.deep.equal(['pwd']);

      await a.services.clients.update('flip-rp', { requireMfa: true });
      const agent = new Agent();
      const auth = await authorizationUrl(flip);
      const challenge = await submitPassword(agent, await openAuthorization(agent, auth), lee.username, lee.password);
      expect(challenge.redirectedTo, 'no code for the client without the second factor').to.equal(undefined);
      expect(challenge.$('form[action$="/challenge/verify"]').length, textOf(challenge)).to.equal(1);
      const done = await submitChallenge(agent, challenge, await nextCode(lee.secret, clock));
      const tokens = await exchange(flip, auth, done.redirectedTo!);
      expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

      // Lee passes the password on B, then is disabled through A before the code.
      const next = new Agent();
      const second = await submitPassword(next, await openAuthorization(next, await authorizationUrl(flip)), lee.username, lee.password);
      expect(second.$('form[action$="/challenge/verify"]').length, textOf(second)).to.equal(1);
      await a.services.accounts.setDisabled('lee', true);
      const refused = await submitChallenge(next, second, await nextCode(lee.secret, clock));
      expect(refused.redirectedTo, textOf(refused)).to.equal(undefined);
    } finally {
      balancer.restore('A');
    }
  });

  it('control: with an instance that does not share the Redis prefix in the rotation, the same sign-in cannot finish', async () => {
    balancer.remove('B');
    balancer.restore('C');
    try {
      // The interaction starts on one instance and its page is asked of the other, which has
      // never heard of it: the page says the sign-in expired.
      const agent = new Agent();
      const login = await openAuthorization(agent, await authorizationUrl(mfaClient));
      expect(login.status).to.equal(400);
      expect(textOf(login)).to.include('Sign-in expired');
      expect(login.$('form[action$="/login"]').length).to.equal(0);
    } finally {
      balancer.remove('C');
      balancer.restore('B');
    }
  });

  it('finishes on B a sign-in started on A after A stops: the challenge, and an enrolment set up on A and verified on B', async () => {
    const mae = await userWithTotp(a, mfaClient, clock, 'mae');
    const ned = await createUser(a, 'ned');
    balancer.remove('B'); // everything goes to A while the sign-ins start
    const maeAgent = new Agent();
    const maeAuth = await authorizationUrl(mfaClient);
    const maeChallenge = await submitPassword(maeAgent, await openAuthorization(maeAgent, maeAuth), mae.username, mae.password);
    expect(maeChallenge.$('form[action$="/challenge/verify"]').length, textOf(maeChallenge)).to.equal(1);
    const ned1 = await startSignIn(mfaClient, ned);
    const nedEnrol = await ned1.agent.submit(ned1.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
    const nedSecret = keyFromPage(nedEnrol);
    expect(nedSecret).to.have.length(32);

    const from = balancer.served.length;
    expect(new Set(balancer.served.slice(0, from).slice(-6))).to.deep.equal(new Set(['A']));
    await a.stop();
    expect((await fetch(`http://127.0.0.1:${a.config.port}/healthz`).catch(() => undefined))?.status, 'A is down').to.equal(undefined);
    balancer.remove('A');
    balancer.restore('B');

    const maeDone = await maeAgent.submit(maeChallenge, '/challenge/verify', { code: await nextCode(mae.secret, clock) }, { stopAt: isCallback });
    expect(maeDone.redirectedTo, textOf(maeDone)).to.be.a('string');
    const maeTokens = await exchange(mfaClient, maeAuth, maeDone.redirectedTo!);
    expect(maeTokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    const nedEnrolled = await ned1.agent.submit(nedEnrol, '/enrol/verify', { code: await currentTotp(nedSecret, clock.now()) }, { stopAt: isCallback });
    expect(textOf(nedEnrolled)).to.include('Finish');
    const nedTokens = await finishAndExchange(mfaClient, ned1, nedEnrolled);
    expect(nedTokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    expect(new Set(balancer.served.slice(from))).to.deep.equal(new Set(['B']));
  });
});
