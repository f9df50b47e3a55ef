// PostgreSQL becomes unreachable (a TCP proxy in front of the shared server is cut) while people
// sign in: they get the 503 "temporarily unavailable, try again" page, /readyz says the database
// is unavailable, and once the proxy is back the same sign-ins finish without restarting Twofold.
// Cutting the database in the middle of an enrolment never leaves a half-written factor: it is
// either fully saved (and then used as the second factor) or not saved at all (and set up again).
// Likewise a removal: an admin's reset, or a user removing their last method, takes the recovery
// codes with the factors in one transaction, so a cut leaves all of them or none; and an admin's
// change to a user is one statement, never half applied.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { TEST_PG_ADMIN_URL } from '../support/env.js';
import { Agent, textOf, type Page } from '../support/agent.js';
import { authorizationUrl, createUser, isCallback, keyFromPage, openAuthorization, registerClient, REDIRECT_URI, submitPassword, type TestClient } from '../support/oidc.js';
import { codeNow, finishAndExchange, nextCode, testClock, userWithTotp, type TestClock } from '../support/mfa.js';
import { decodeTotpSecret } from '../../src/factors/totp/factor.js';
import { expectUnavailablePage, metric, passChallenge, readyz, scrape, timed, toSecondFactor, until } from './helpers.js';
import { factorId, factorsOf, openAccount, startAccountRig, userWithApp, type AccountRig } from '../account/helpers.js';

const GIVE_UP_MS = 2000;
const RECOVER_MS = 5000;
const pgTarget = new URL(TEST_PG_ADMIN_URL);

function through(db: TestDatabase, port: number): string {
  const url = new URL(db.url);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

const totpFactors = async (server: TestServer, accountId: string) => (await server.services.factors.list(accountId)).filter((f) => f.type === 'totp');

describe('faults: the database unreachable', function () {
  this.timeout(60_000);

  describe('cut while people sign in, then restored', () => {
    const clock = testClock();
    let proxy: TcpProxy;
    let db: TestDatabase;
    let server: TestServer;
    let client: TestClient;

    before(async () => {
      proxy = await new TcpProxy(pgTarget.hostname, Number(pgTarget.port || 5432)).start();
      db = await createTestDatabase('postgres');
      server = await startTestServer({ databaseUrl: through(db, proxy.port), store: 'redis', now: clock.now });
      client = await registerClient(server, { requireMfa: true });
    });
    after(async () => {
      await server?.close();
      await proxy?.close();
      await db?.drop();
    });

    it('answers 503 pages and 503 JSON within 2 s, /readyz names the database, and the same sign-ins finish after the restore', async () => {
      const ann = await userWithTotp(server, client, clock, 'ann');
      const annFlow = await toSecondFactor(client, ann);
      const cal = await createUser(server, 'cal');
      const calAgent = new Agent();
      const calLogin = await openAuthorization(calAgent, await authorizationUrl(client));
      const before = metric(await scrape(server), 'twofold_store_errors_total', { store: 'database' });

      await proxy.cut();

      const annCode = await nextCode(ann.secret, clock);
      const annTry = await timed(() => annFlow.agent.submit(annFlow.page, '/challenge/verify', { code: annCode }, { stopAt: isCallback }));
      expectUnavailablePage(annTry.value, 'challenge verify');
      expect(annTry.ms).to.be.below(GIVE_UP_MS);

      const calTry = await timed(() => submitPassword(calAgent, calLogin, cal.username, cal.password));
      expectUnavailablePage(calTry.value, 'password');
      expect(calTry.ms).to.be.below(GIVE_UP_MS);

      const fresh = await timed(async () => openAuthorization(new Agent(), await authorizationUrl(client)));
      expectUnavailablePage(fresh.value, 'authorization endpoint (the client is read from the database)');
      expect(fresh.ms).to.be.below(GIVE_UP_MS);

      const token = await timed(() =>
        fetch(`${server.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}` },
          body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: REDIRECT_URI, code_verifier: 'y'.repeat(43) }).toString(),
        }),
      );
      expect(token.value.status).to.equal(503);
      expect(await token.value.json()).to.deep.include({ error: 'temporarily_unavailable' });
      expect(token.ms).to.be.below(GIVE_UP_MS);

      const down = await readyz(server);
      expect(down.status).to.equal(503);
      expect(down.body.checks).to.deep.equal({ database: 'unavailable', sessionStore: 'ok' });
      expect(metric(await scrape(server), 'twofold_store_errors_total', { store: 'database' })).to.be.above(before);

      const back = performance.now();
      await proxy.restore();
      const readyMs = await until(async () => (await readyz(server)).status === 200, RECOVER_MS, '/readyz after the database returned');
      const annResult = await passChallenge(client, annFlow, annFlow.page, annCode);
      const recoveredMs = performance.now() - back;
      expect(annResult.tokens, textOf(annResult.page)).to.not.equal(undefined);
      expect(annResult.tokens!.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      expect(recoveredMs).to.be.below(RECOVER_MS);
      console.log(`      database back: /readyz ready after ${Math.round(readyMs)} ms, the sign-in in flight finished after ${Math.round(recoveredMs)} ms`);

      const calAgain = await submitPassword(calAgent, calLogin, cal.username, cal.password);
      expect(calAgain.redirectedTo).to.equal(undefined);
      expect(textOf(calAgain)).to.include('Authenticator app');
    });
  });

  describe('cut in the middle of an enrolment', () => {
    const clock = testClock();
    let proxy: FaultProxy;
    let db: TestDatabase;
    let server: TestServer;
    let client: TestClient;

    before(async () => {
      proxy = await new FaultProxy(pgTarget.hostname, Number(pgTarget.port || 5432)).start();
      db = await createTestDatabase('postgres');
      server = await startTestServer({ databaseUrl: through(db, proxy.port), store: 'redis', now: clock.now });
      client = await registerClient(server, { requireMfa: true });
    });
    after(async () => {
      await proxy?.restore();
      await server?.close();
      await proxy?.close();
      await db?.drop();
    });

    /** A new user on the authenticator-app setup page, with the key read off it. */
    async function atEnrolment(username: string, c: TestClock) {
      const user = await createUser(server, username);
      const flow = await toSecondFactor(client, user);
      const page = await flow.agent.submit(flow.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const secret = keyFromPage(page);
      expect(secret, textOf(page)).to.have.length(32);
      void c;
      return { user, flow, page, secret };
    }

    async function verifyDuringCut(agent: Agent, page: Page, code: string, deliver: boolean) {
      const fired = proxy.arm({ pattern: /insert into "factors"/i, deliver });
      const answer = await agent.submit(page, '/enrol/verify', { code }, { stopAt: isCallback });
      await fired;
      expect(proxy.down, 'the trap fired and the database went away').to.equal(true);
      return answer;
    }

    it('the factor insert never reached the database: nothing is saved, and after the restore the user sets it up and finishes', async () => {
      const { user, flow, page, secret } = await atEnrolment('ben', clock);
      const answer = await verifyDuringCut(flow.agent, page, await codeNow(secret, clock), false);
      expectUnavailablePage(answer, 'enrolment verify');
      await proxy.restore();
      await until(async () => (await readyz(server)).status === 200, RECOVER_MS, 'database back');
      expect(await totpFactors(server, user.account.id), 'no factor after the lost insert').to.have.length(0);

      // The same setup page still works: the next code from the app verifies and saves the factor once.
      const again = await flow.agent.submit(page, '/enrol/verify', { code: await nextCode(secret, clock) }, { stopAt: isCallback });
      expect(textOf(again)).to.include('Finish');
      const tokens = await finishAndExchange(client, flow, again);
      expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      const saved = await totpFactors(server, user.account.id);
      expect(saved).to.have.length(1);
      expect(decodeTotpSecret(server.services.factors.openSecret(saved[0]!), server.config.totp).secret).to.equal(secret);
    });

    it('the insert committed but its answer was lost: the factor is whole (the key the user scanned), and the sign-in finishes with it as the second factor', async () => {
      const { user, flow, page, secret } = await atEnrolment('dee', clock);
      const answer = await verifyDuringCut(flow.agent, page, await codeNow(secret, clock), true);
      expectUnavailablePage(answer, 'enrolment verify');
      await proxy.restore();
      await until(async () => (await readyz(server)).status === 200, RECOVER_MS, 'database back');

      const saved = await totpFactors(server, user.account.id);
      expect(saved, 'the committed factor is there').to.have.length(1);
      expect(saved[0]!.preferred).to.equal(true);
      expect(decodeTotpSecret(server.services.factors.openSecret(saved[0]!), server.config.totp).secret, 'sealed with the key the user scanned').to.equal(secret);

      // Pressing Verify again (or reloading) leads to the challenge with that factor; no second copy is made.
      const retried = await flow.agent.submit(page, '/enrol/verify', { code: await nextCode(secret, clock) }, { stopAt: isCallback });
      expect(retried.status, textOf(retried)).to.be.oneOf([200, 400]);
      const challenge = retried.$('form[action$="/challenge/verify"]').length ? retried : await flow.agent.open(retried.url);
      expect(challenge.$('form[action$="/challenge/verify"]').length, textOf(challenge)).to.equal(1);
      const result = await passChallenge(client, flow, challenge, await nextCode(secret, clock));
      expect(result.tokens, textOf(result.page)).to.not.equal(undefined);
      expect(result.tokens!.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      expect(await totpFactors(server, user.account.id)).to.have.length(1);
    });
  });

  describe('cut in the middle of an admin change or a removal', () => {
    let proxy: FaultProxy;
    let db: TestDatabase;
    let rig: AccountRig;
    let adminToken: string;

    before(async () => {
      proxy = await new FaultProxy(pgTarget.hostname, Number(pgTarget.port || 5432)).start();
      db = await createTestDatabase('postgres');
      rig = await startAccountRig({ databaseUrl: through(db, proxy.port) });
      const admin = await registerClient(rig.server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
      adminToken = (await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' })).access_token;
    });
    after(async () => {
      await proxy?.restore();
      await rig?.close();
      await proxy?.close();
      await db?.drop();
    });

    const RECOVERY_CODES_DELETE = /delete from "recovery_codes"/i;
    const resetMfa = (username: string) =>
      fetch(`${rig.server.issuer}/admin/api/v1/users/${username}/reset-mfa`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
    const held = async (accountId: string) => ({
      factors: (await factorsOf(rig, accountId)).map((f) => f.type),
      codes: await rig.server.services.recovery.remaining(accountId),
    });
    /** Runs `work`, cutting the database just before the statement matching `pattern`; then brings it back. */
    async function cutAt<T>(pattern: RegExp, work: () => Promise<T>): Promise<T> {
      const fired = proxy.arm({ pattern, deliver: false });
      const answer = await work();
      await fired;
      expect(proxy.down, 'the trap fired and the database went away').to.equal(true);
      await proxy.restore();
      await until(async () => (await readyz(rig.server)).status === 200, RECOVER_MS, 'database back');
      return answer;
    }

    it("an admin's reset cut before the recovery codes go leaves the factors and the codes; the retry removes them all", async () => {
      const user = await userWithApp(rig, 'hal');
      expect(await held(user.accountId)).to.deep.equal({ factors: ['recovery', 'totp'], codes: 10 });

      const cut = await cutAt(RECOVERY_CODES_DELETE, () => resetMfa('hal'));
      expect(cut.status).to.equal(503);
      expect(cut.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(await held(user.accountId), 'nothing removed: not the factors without their codes').to.deep.equal({ factors: ['recovery', 'totp'], codes: 10 });

      const retried = await resetMfa('hal');
      expect(retried.status).to.equal(200);
      expect(await retried.json()).to.deep.include({ removed: 2 });
      expect(await held(user.accountId)).to.deep.equal({ factors: [], codes: 0 });
    });

    it("an admin's change of a user's email and disabled flag together, cut at the write, changes neither; the retry changes both", async () => {
      const user = await createUser(rig.server, 'jo', undefined, { email: 'jo@example.com' });
      const patch = () =>
        fetch(`${rig.server.issuer}/admin/api/v1/users/jo`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'jo@example.org', disabled: true }),
        });
      const state = async () => {
        const account = await rig.server.services.accounts.findById(user.account.id);
        return { email: account!.email, disabled: account!.disabled };
      };

      const cut = await cutAt(/update "accounts" set .*"disabled" = \$/i, patch);
      expect(cut.status).to.equal(503);
      expect(await state(), 'not half changed').to.deep.equal({ email: 'jo@example.com', disabled: false });

      const retried = await patch();
      expect(retried.status).to.equal(200);
      expect(await state()).to.deep.equal({ email: 'jo@example.org', disabled: true });
    });

    it('a user removing their only method, cut before the recovery codes go, keeps both; removing again takes both', async () => {
      const user = await userWithApp(rig, 'ida');
      const app = await factorId(rig, user.accountId, 'totp');
      let page = await openAccount(rig, user);

      page = await cutAt(RECOVERY_CODES_DELETE, () => user.agent.submit(page, `/factors/${app}/remove`, {}, { button: 'Remove Authenticator app' }));
      expectUnavailablePage(page, 'factor removal');
      expect(await held(user.accountId), 'nothing removed: not the app without its codes').to.deep.equal({ factors: ['recovery', 'totp'], codes: 10 });

      page = await openAccount(rig, user);
      page = await user.agent.submit(page, `/factors/${app}/remove`, {}, { button: 'Remove Authenticator app' });
      expect(textOf(page)).to.include('Removed.');
      expect(await held(user.accountId)).to.deep.equal({ factors: [], codes: 0 });
    });
  });
});
