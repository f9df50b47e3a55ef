// What an operator watches: /healthz (the process), /readyz (Redis and the database), and
// /metrics in Prometheus text format. A few real flows are driven through the real screens (a
// fake Vonage behind the real SDK for texts and calls, a redis-server of the test's own to take
// away) and the counters they should move are read back from /metrics.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { RedisProcess } from '../support/redis-server.js';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, openAuthorization, passwordSignIn, registerClient, submitPassword, type TestClient } from '../support/oidc.js';
import { enrolTotpOnPage, finishAndExchange, nextCode, startSignIn, submitChallenge, testClock, wrongCode } from '../support/mfa.js';
import { startPhoneRig, userWithPhone, requestEnrolmentCode, type PhoneRig } from '../phone/helpers.js';
import { metric, readyz, scrape, until } from '../faults/helpers.js';

/** One sample line of the Prometheus text format: name{labels} value. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;

const delta = (before: Map<string, number>, after: Map<string, number>, name: string, labels: Record<string, string> = {}) =>
  metric(after, name, labels) - metric(before, name, labels);

describe('observability: /healthz, /readyz and /metrics', function () {
  this.timeout(60_000);
  const clock = testClock();
  let redis: RedisProcess;
  let rig: PhoneRig;
  let mfaClient: TestClient;
  let pwdClient: TestClient;

  before(async () => {
    redis = await RedisProcess.start();
    rig = await startPhoneRig({
      store: 'redis',
      now: clock.now,
      config: { redisUrl: redis.url, signIn: { maxFailuresPerAccount: 3 }, mfa: { lockoutThreshold: 3 } },
    });
    mfaClient = await registerClient(rig.server, { requireMfa: true, clientId: `mfa-${randomBytes(3).toString('hex')}` });
    pwdClient = await registerClient(rig.server, { clientId: `pwd-${randomBytes(3).toString('hex')}` });
  });
  after(async () => {
    await rig?.close();
    await redis?.close();
  });

  it('/healthz says the process is up; /readyz checks Redis and the database, and follows Redis going and coming back', async () => {
    const health = await fetch(`${rig.server.issuer}/healthz`);
    expect(health.status).to.equal(200);
    expect(health.headers.get('cache-control')).to.equal('no-store');
    expect(await health.json()).to.deep.equal({ status: 'ok' });
    expect(await readyz(rig.server)).to.deep.equal({ status: 200, body: { status: 'ready', checks: { database: 'ok', sessionStore: 'ok' } } });

    await redis.stop();
    try {
      expect(await readyz(rig.server)).to.deep.equal({ status: 503, body: { status: 'unavailable', checks: { database: 'ok', sessionStore: 'unavailable' } } });
      expect((await fetch(`${rig.server.issuer}/healthz`)).status).to.equal(200);
    } finally {
      await redis.start();
    }
    await until(async () => (await readyz(rig.server)).status === 200, 5000, '/readyz after Redis returned');
  });

  it('serves /metrics in the Prometheus text format, with our families and the process defaults', async () => {
    const res = await fetch(`${rig.server.issuer}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const line of text.split('\n').filter(Boolean)) {
      if (line.startsWith('#')) expect(line, line).to.match(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      else expect(line, line).to.match(SAMPLE);
    }
    for (const [family, type] of [
      ['twofold_http_request_duration_seconds', 'histogram'],
      ['twofold_signins_total', 'counter'],
      ['twofold_second_factor_attempts_total', 'counter'],
      ['twofold_codes_sent_total', 'counter'],
      ['twofold_lockouts_total', 'counter'],
      ['twofold_store_errors_total', 'counter'],
      ['twofold_process_cpu_seconds_total', 'counter'],
      ['twofold_nodejs_heap_size_used_bytes', 'gauge'],
    ]) {
      expect(text, family).to.include(`# TYPE ${family} ${type}`);
    }
  });

  it('counts sign-ins by outcome and client, second-factor attempts by factor and outcome, and lockouts of both kinds', async () => {
    const before = await scrape(rig.server);

    // A password-only sign-in, and a wrong password, on the password client.
    const pat = await createUser(rig.server, 'pat');
    await passwordSignIn(rig.server, pwdClient, pat);
    const agent = new Agent();
    const wrong = await submitPassword(agent, await openAuthorization(agent, await authorizationUrl(pwdClient)), 'pat', 'not the password at all');
    expect(wrong.status).to.equal(401);

    // Enrol an authenticator app, then one wrong code and the right one on the MFA client.
    const quinn = await createUser(rig.server, 'quinn');
    const start = await startSignIn(mfaClient, quinn);
    const { secret, page } = await enrolTotpOnPage(start.agent, start.page, clock);
    await finishAndExchange(mfaClient, start, page);
    const again = await startSignIn(mfaClient, quinn);
    const refused = await submitChallenge(again.agent, again.page, await wrongCode(secret, clock));
    expect(refused.status).to.equal(400);
    const passed = await submitChallenge(again.agent, refused, await nextCode(secret, clock));
    expect(passed.redirectedTo, textOf(passed)).to.be.a('string');

    // Second-factor lockout: the third wrong code in a row locks it.
    const third = await startSignIn(mfaClient, quinn);
    let screen = third.page;
    for (let i = 0; i < 3; i++) screen = await submitChallenge(third.agent, screen, await wrongCode(secret, clock));
    expect(textOf(screen)).to.include('locked');

    // Password lockout: three wrong passwords, then the next two attempts are throttled.
    const rae = await createUser(rig.server, 'rae');
    const raeAgent = new Agent();
    let form = await openAuthorization(raeAgent, await authorizationUrl(pwdClient));
    for (let i = 0; i < 3; i++) form = await submitPassword(raeAgent, form, rae.username, `wrong-${i}-password`);
    const throttled = await submitPassword(raeAgent, form, rae.username, rae.password);
    expect(throttled.status).to.equal(429);
    expect((await submitPassword(raeAgent, throttled, rae.username, rae.password)).status).to.equal(429);

    const after = await scrape(rig.server);
    expect(delta(before, after, 'twofold_signins_total', { outcome: 'success', client: pwdClient.clientId, acr: 'pwd' })).to.equal(1);
    expect(delta(before, after, 'twofold_signins_total', { outcome: 'success', client: mfaClient.clientId, acr: 'mfa' })).to.equal(2);
    expect(delta(before, after, 'twofold_signins_total', { outcome: 'invalid_credentials', client: pwdClient.clientId })).to.equal(4);
    expect(delta(before, after, 'twofold_signins_total', { outcome: 'too_many_failures', client: pwdClient.clientId })).to.equal(2);
    expect(delta(before, after, 'twofold_second_factor_attempts_total', { factor: 'totp', outcome: 'success' })).to.equal(1);
    expect(delta(before, after, 'twofold_second_factor_attempts_total', { factor: 'totp', outcome: 'invalid' })).to.equal(3);
    expect(delta(before, after, 'twofold_second_factor_attempts_total', { factor: 'totp', outcome: 'locked' })).to.equal(1);
    // Each lock once, when it engages (not once per attempt refused afterwards).
    expect(delta(before, after, 'twofold_lockouts_total', { kind: 'second_factor' })).to.equal(1);
    expect(delta(before, after, 'twofold_lockouts_total', { kind: 'password' })).to.equal(1);
    // No user names or ids in any label.
    const series = [...after.keys()].join('\n');
    for (const name of ['pat', 'quinn', 'rae', secret]) expect(series).to.not.match(new RegExp(`"${name}"`));
  });

  it('counts codes sent and failed by channel and country calling code', async () => {
    const before = await scrape(rig.server);
    await userWithPhone(rig, 'sol', ['sms', 'voice']);
    await userWithPhone(rig, 'uma', ['voice'], '+44 20 7946 0018');

    rig.vonage.smsMode = { kind: 'http', status: 500 };
    try {
      const vic = await createUser(rig.server, 'vic');
      const start = await startSignIn(mfaClient, vic);
      const failed = await requestEnrolmentCode(start.agent, start.page, 'sms');
      expect(failed.status).to.equal(400);
      expect(failed.$('.error').text(), textOf(failed)).to.not.equal('');
    } finally {
      rig.vonage.smsMode = { kind: 'ok' };
    }

    const after = await scrape(rig.server);
    expect(delta(before, after, 'twofold_codes_sent_total', { channel: 'sms', country: '1', outcome: 'sent' })).to.equal(1);
    expect(delta(before, after, 'twofold_codes_sent_total', { channel: 'voice', country: '1', outcome: 'sent' })).to.equal(1);
    expect(delta(before, after, 'twofold_codes_sent_total', { channel: 'voice', country: '44', outcome: 'sent' })).to.equal(1);
    expect(delta(before, after, 'twofold_codes_sent_total', { channel: 'sms', country: '1', outcome: 'send_failed' })).to.equal(1);
    expect(delta(before, after, 'twofold_second_factor_attempts_total', { factor: 'sms' })).to.equal(0);
  });

  it('observes request latency per route in histograms, with ids and unknown paths kept out of the labels', async () => {
    const before = await scrape(rig.server);
    const seriesBefore = [...before.keys()].filter((k) => k.startsWith('twofold_http_request_duration_seconds_count')).length;
    for (let i = 0; i < 20; i++) expect((await fetch(`${rig.server.issuer}/probe-${randomBytes(6).toString('hex')}/x`)).status).to.equal(404);
    await passwordSignIn(rig.server, pwdClient, await createUser(rig.server, 'wes'));
    const after = await scrape(rig.server);

    const count = (labels: Record<string, string>) => metric(after, 'twofold_http_request_duration_seconds_count', labels) - metric(before, 'twofold_http_request_duration_seconds_count', labels);
    expect(count({ method: 'POST', route: '/interaction/:uid/login', status: '3xx' })).to.equal(1);
    expect(count({ method: 'GET', route: '/auth', status: '3xx' })).to.equal(1);
    expect(count({ route: 'unmatched', status: '4xx' })).to.equal(20);
    const seriesAfter = [...after.keys()].filter((k) => k.startsWith('twofold_http_request_duration_seconds_count')).length;
    expect(seriesAfter - seriesBefore, 'twenty unknown paths and one sign-in add only a few series').to.be.below(8);
    const labels = [...after.keys()].filter((k) => k.startsWith('twofold_http_request_duration_seconds')).join('\n');
    expect(labels).to.not.match(/probe-|\/interaction\/[A-Za-z0-9_-]{20,}/);

    // Buckets are cumulative and end at +Inf = count.
    const key = 'twofold_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/interaction/:uid/login",status="3xx"}';
    const inf = after.get(key);
    expect(inf, key).to.be.a('number');
    expect(inf).to.equal(metric(after, 'twofold_http_request_duration_seconds_count', { method: 'POST', route: '/interaction/:uid/login', status: '3xx' }));
    expect(metric(after, 'twofold_http_request_duration_seconds_sum', { route: '/interaction/:uid/login' })).to.be.above(0);
  });

  it('counts requests that failed on an unavailable store, per store', async () => {
    const agent = new Agent();
    const login = await openAuthorization(agent, await authorizationUrl(mfaClient));
    const before = await scrape(rig.server);
    await redis.stop();
    try {
      // One on oidc-provider's endpoint, one on our own sign-in page.
      expect((await fetch((await authorizationUrl(mfaClient)).url, { redirect: 'manual' })).status).to.equal(503);
      expect((await submitPassword(agent, login, 'x', 'y')).status).to.equal(503);
    } finally {
      await redis.start();
    }
    const after = await scrape(rig.server);
    expect(delta(before, after, 'twofold_store_errors_total', { store: 'redis' })).to.equal(2);
    expect(delta(before, after, 'twofold_store_errors_total', { store: 'database' })).to.equal(0);
    await until(async () => (await readyz(rig.server)).status === 200, 5000, 'Redis back');
  });
});
