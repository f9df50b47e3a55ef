// Redis goes away in the middle of sign-ins, then comes back on the same port. Users in flight get a
// clear 503 "temporarily unavailable, try again" page (never a 500, never a sign-in without the
// second factor, never a token), requests give up within 2 s, /readyz says so, and the provider
// recovers on its own within 5 s of Redis returning. Twofold talks to a redis-server of this test's
// own (the shared one stays up); it keeps an append-only file like a production Redis, so the
// sign-ins in flight can finish once it is back.
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { RedisProcess } from '../support/redis-server.js';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, isCallback, keyFromPage, openAuthorization, registerClient, REDIRECT_URI, submitPassword, type TestClient } from '../support/oidc.js';
import { codeNow, nextCode, testClock, userWithTotp, enrolTotpOnPage, finishAndExchange, startSignIn } from '../support/mfa.js';
import { COMMAND_TIMEOUT_MS } from '../../src/store/redis-connection.js';
import { expectUnavailablePage, metric, passChallenge, readyz, scrape, timed, toSecondFactor, until } from './helpers.js';

/** A request must give up on an unreachable Redis within the 2 s command timeout (plus rendering). */
const GIVE_UP_MS = 2000;
const RECOVER_MS = 5000;

function redisPid(port: number): number {
  const info = spawnSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8' }).stdout;
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!pid) throw new Error(`no process_id from redis on ${port}`);
  return pid;
}

const totpFactors = async (server: TestServer, accountId: string) => (await server.services.factors.list(accountId)).filter((f) => f.type === 'totp');

async function tokenRequest(server: TestServer, client: TestClient, code: string, verifier: string): Promise<Response> {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }).toString(),
  });
}

describe('faults: Redis stopped in the middle of sign-ins', function () {
  this.timeout(90_000);
  const clock = testClock();
  let redis: RedisProcess;
  let server: TestServer;
  let mfaClient: TestClient;
  let pwdClient: TestClient;

  before(async () => {
    redis = await RedisProcess.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    server = await startTestServer({ store: 'redis', config: { redisUrl: redis.url }, now: clock.now });
    mfaClient = await registerClient(server, { requireMfa: true });
    pwdClient = await registerClient(server);
  });
  after(async () => {
    await server?.close();
    await redis?.close();
  });

  it('answers every step in flight with the 503 page within 2 s, the token endpoint with 503 JSON, and /readyz unavailable; once Redis is back the same sign-ins finish, with the second factor', async () => {
    // In flight: Ann at her challenge, Ben about to verify his new authenticator app, Cal at the
    // password form, Dee holding an authorization code she has not exchanged yet.
    const ann = await userWithTotp(server, mfaClient, clock, 'ann');
    const annFlow = await toSecondFactor(mfaClient, ann);
    expect(annFlow.page.$('form[action$="/challenge/verify"]').length, textOf(annFlow.page)).to.equal(1);

    const ben = await createUser(server, 'ben');
    const benFlow = await toSecondFactor(mfaClient, ben);
    const benEnrol = await benFlow.agent.submit(benFlow.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
    const benSecret = keyFromPage(benEnrol);
    expect(benSecret).to.have.length(32);

    const cal = await createUser(server, 'cal');
    const calAgent = new Agent();
    const calAuth = await authorizationUrl(mfaClient);
    const calLogin = await openAuthorization(calAgent, calAuth);

    const dee = await createUser(server, 'dee');
    const deeAgent = new Agent();
    const deeAuth = await authorizationUrl(pwdClient);
    const deeDone = await submitPassword(deeAgent, await openAuthorization(deeAgent, deeAuth), dee.username, dee.password);
    const deeCode = new URL(deeDone.redirectedTo!).searchParams.get('code')!;
    expect(deeCode).to.be.a('string');

    const errorsBefore = metric(await scrape(server), 'twofold_store_errors_total', { store: 'redis' });
    await redis.stop();

    const annCode = await nextCode(ann.secret, clock);
    const annTry = await timed(() => annFlow.agent.submit(annFlow.page, '/challenge/verify', { code: annCode }, { stopAt: isCallback }));
    expectUnavailablePage(annTry.value, 'challenge verify');
    expect(annTry.ms).to.be.below(GIVE_UP_MS);

    const benCode = await codeNow(benSecret, clock);
    const benTry = await timed(() => benFlow.agent.submit(benEnrol, '/enrol/verify', { code: benCode }, { stopAt: isCallback }));
    expectUnavailablePage(benTry.value, 'enrolment verify');
    expect(benTry.ms).to.be.below(GIVE_UP_MS);

    const calTry = await timed(() => submitPassword(calAgent, calLogin, cal.username, cal.password));
    expectUnavailablePage(calTry.value, 'password');
    expect(calTry.ms).to.be.below(GIVE_UP_MS);

    const fresh = new Agent();
    const freshTry = await timed(async () => openAuthorization(fresh, await authorizationUrl(mfaClient)));
    expectUnavailablePage(freshTry.value, 'authorization endpoint');
    expect(freshTry.ms).to.be.below(GIVE_UP_MS);

    const resume = await annFlow.agent.follow(await annFlow.agent.get(`${server.issuer}/auth/${/interaction\/([^/]+)/.exec(annFlow.page.url)![1]}`), isCallback);
    expect(isCallback(resume.url), 'the resume URL reached the client during the outage').to.equal(false);
    expect(resume.res.status).to.equal(503);
    await resume.res.body?.cancel();

    const token = await timed(() => tokenRequest(server, pwdClient, deeCode, deeAuth.verifier));
    expect(token.value.status).to.equal(503);
    expect(token.value.headers.get('content-type')).to.match(/application\/json/);
    const tokenBody = (await token.value.json()) as Record<string, string>;
    expect(tokenBody.error).to.equal('temporarily_unavailable');
    expect(tokenBody).to.not.have.property('id_token');
    expect(tokenBody).to.not.have.property('access_token');
    expect(token.ms).to.be.below(GIVE_UP_MS);

    // A burst of new visitors while Redis is away: all 503, none a 500.
    const burst = await Promise.all(Array.from({ length: 8 }, async () => (await fetch((await authorizationUrl(mfaClient)).url, { redirect: 'manual' })).status));
    expect(burst).to.deep.equal(Array(8).fill(503));

    const down = await readyz(server);
    expect(down.status).to.equal(503);
    expect(down.body).to.deep.include({ status: 'unavailable' });
    expect(down.body.checks).to.deep.equal({ database: 'ok', sessionStore: 'unavailable' });
    expect((await fetch(`${server.issuer}/healthz`)).status, '/healthz is about the process only').to.equal(200);
    expect(metric(await scrape(server), 'twofold_store_errors_total', { store: 'redis' })).to.be.above(errorsBefore);

    // Redis returns on the same port; nobody restarts the provider.
    const back = performance.now();
    await redis.start();
    const readyAfter = await until(async () => (await readyz(server)).status === 200, RECOVER_MS, '/readyz ready after Redis returned');
    const annResult = await passChallenge(mfaClient, annFlow, annFlow.page, annCode);
    const recoveredMs = performance.now() - back;
    expect(annResult.tokens, textOf(annResult.page)).to.not.equal(undefined);
    expect(annResult.tokens!.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(recoveredMs, 'first sign-in finished after Redis returned').to.be.below(RECOVER_MS);
    console.log(`      Redis back: /readyz ready after ${Math.round(readyAfter)} ms, Ann's sign-in finished after ${Math.round(recoveredMs)} ms`);

    // Ben's enrolment was not saved during the outage; he verifies again (next step) and finishes.
    expect(await totpFactors(server, ben.account.id)).to.have.length(0);
    const benAgain = await benFlow.agent.submit(benEnrol, '/enrol/verify', { code: await nextCode(benSecret, clock) }, { stopAt: isCallback });
    expect(textOf(benAgain), 'Ben sees Setup / Finish').to.include('Finish');
    const benTokens = await finishAndExchange(mfaClient, { ...benFlow, page: benAgain }, benAgain);
    expect(benTokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(await totpFactors(server, ben.account.id)).to.have.length(1);

    // Cal enters the password again on the same form and goes on to set up a second factor.
    const calAgain = await submitPassword(calAgent, calLogin, cal.username, cal.password);
    expect(calAgain.redirectedTo, 'password alone must not reach an MFA client').to.equal(undefined);
    expect(textOf(calAgain)).to.include('Authenticator app');

    // A new sign-in from scratch works too.
    const eve = await createUser(server, 'eve');
    const eveStart = await startSignIn(mfaClient, eve);
    const { page } = await enrolTotpOnPage(eveStart.agent, eveStart.page, clock);
    const eveTokens = await finishAndExchange(mfaClient, eveStart, page);
    expect(eveTokens.claims()!.acr).to.equal('mfa');
  });

  it('gives up within about 2 s when Redis hangs (process frozen, connection open), and recovers as soon as it answers again', async () => {
    const fay = await userWithTotp(server, mfaClient, clock, 'fay');
    const flow = await toSecondFactor(mfaClient, fay);
    const pid = redisPid(redis.port);
    process.kill(pid, 'SIGSTOP');
    try {
      const code = await nextCode(fay.secret, clock);
      const attempt = await timed(() => flow.agent.submit(flow.page, '/challenge/verify', { code }, { stopAt: isCallback }));
      expectUnavailablePage(attempt.value, 'challenge verify against a frozen Redis');
      // It waited for the command timeout (so it did try), then gave up: never a hang.
      expect(attempt.ms).to.be.within(COMMAND_TIMEOUT_MS - 50, GIVE_UP_MS);
      const probe = await timed(() => readyz(server));
      expect(probe.value.status).to.equal(503);
      expect(probe.value.body.checks.sessionStore).to.equal('unavailable');
      expect(probe.ms).to.be.below(GIVE_UP_MS + 100);
      console.log(`      frozen Redis: the request gave up after ${Math.round(attempt.ms)} ms, /readyz after ${Math.round(probe.ms)} ms`);
      const health = await timed(() => fetch(`${server.issuer}/healthz`));
      expect(health.value.status, '/healthz does not touch Redis').to.equal(200);
      expect(health.ms).to.be.below(500);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const recovered = await until(async () => (await readyz(server)).status === 200, RECOVER_MS, '/readyz after Redis thawed');
    expect(recovered).to.be.below(RECOVER_MS);
    const again = await flow.agent.submit(flow.page, '/challenge/verify', { code: await nextCode(fay.secret, clock) }, { stopAt: isCallback });
    expect(again.redirectedTo, textOf(again)).to.match(new RegExp(`^${REDIRECT_URI}`));
  });
});
