// Redis Sentinel: a master and a replica on local ports, watched by one Sentinel, and Twofold
// pointed at REDIS_URL=redis-sentinel://<sentinel>/twofold, so it asks the Sentinel where the
// master is. Sign-ins run against the master it names; then the master dies, the Sentinel
// promotes the replica, and sign-ins work again without restarting the provider. While the
// failover runs, a request gets the 503 page, never a 500 and never a token without the second
// factor.
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { startRedisSentinel } from '../support/redis-server.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { registerClient, type TestClient } from '../support/oidc.js';
import { nextCode, testClock, userWithTotp } from '../support/mfa.js';
import { passChallenge, readyz, toSecondFactor, until } from './helpers.js';

type Sentinel = Awaited<ReturnType<typeof startRedisSentinel>>;

const keysOn = (port: number, pattern: string): string[] =>
  spawnSync('redis-cli', ['-p', String(port), '--scan', '--pattern', pattern], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

describe('faults: Redis Sentinel (a master, a replica, one Sentinel)', function () {
  this.timeout(90_000);
  const clock = testClock();
  let redis: Sentinel;
  let server: TestServer;
  let client: TestClient;

  before(async () => {
    redis = await startRedisSentinel();
    server = await startTestServer({ store: 'redis', config: { redisUrl: redis.url }, now: clock.now });
    client = await registerClient(server, { requireMfa: true });
  });
  after(async () => {
    await server?.close();
    await redis?.close();
  });

  it('signs in with an authenticator app through the master the Sentinel names, and the replica gets the keys', async () => {
    expect(server.config.redisUrl).to.match(/^redis-sentinel:\/\//);
    const user = await userWithTotp(server, client, clock, 'sol');
    expect(user.tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    const flow = await toSecondFactor(client, user);
    const { tokens } = await passChallenge(client, flow, flow.page, await nextCode(user.secret, clock));
    expect(tokens?.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    const pattern = `${server.config.redisKeyPrefix}*`;
    expect(keysOn(redis.master.port, pattern)).to.not.be.empty;
    await until(async () => keysOn(redis.replica.port, pattern).length > 0, 5000, 'the replica to hold the sign-in keys');
  });

  it('fails over: the master dies, the Sentinel promotes the replica, and sign-ins work again without a restart', async () => {
    const user = await userWithTotp(server, client, clock, 'tia');
    await redis.master.stop();
    const killedAt = performance.now();

    // Sign in again and again until one completes; every try before it must end in the 503 page.
    let tokens: Awaited<ReturnType<typeof passChallenge>>['tokens'];
    let tries = 0;
    while (!tokens && performance.now() - killedAt < 30_000) {
      tries++;
      try {
        const flow = await toSecondFactor(client, user);
        tokens = (await passChallenge(client, flow, flow.page, await nextCode(user.secret, clock))).tokens;
      } catch {
        // A step answered 503 (no form to fill in): the failover is not over yet.
      }
      if (!tokens) await new Promise((r) => setTimeout(r, 250));
    }
    const recoveredMs = performance.now() - killedAt;

    expect(tokens, `no sign-in completed within 30 s of the master dying (${tries} tries)`).to.not.equal(undefined);
    expect(tokens!.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(tries, 'the first tries fell into the failover').to.be.above(1);
    expect(redis.masterPort(), 'the Sentinel names the old replica as master').to.equal(redis.replica.port);
    expect((await readyz(server)).status).to.equal(200);
    // Down after 1 s without answers, then the election and promotion: a few seconds, not thirty.
    expect(recoveredMs).to.be.below(20_000);

    const failures = server.logs.entries().filter((e) => Number(e.status) >= 500);
    expect(failures.length, 'requests during the failover were refused with 503').to.be.above(0);
    expect(failures.filter((e) => Number(e.status) !== 503), JSON.stringify(failures.slice(0, 3))).to.deep.equal([]);
  });
});
