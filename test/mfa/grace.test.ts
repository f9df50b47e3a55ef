// The rollout grace policy (policy.graceSkips / graceUntil): users without a second factor may skip
// setting one up a limited number of times, until a date. Off by default; never when the relying
// party asked for the second factor. Runs on SQLite and PostgreSQL (the skip count is a table).
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf, type Page } from '../support/agent.js';
import { createUser, exchange, isCallback, registerClient, type TestClient } from '../support/oidc.js';
import { enrolTotpOnPage, startSignIn, testClock, uidOf, type TestClock } from '../support/mfa.js';
import type { DbKind } from '../support/databases.js';

const hasSkip = (page: Page) => page.$('form[action$="/enrol/skip"] button').text().trim() === 'Skip for now';
const isChooser = (page: Page) => page.$('form[action$="/enrol"]').length > 0;

async function pressSkip(agent: Agent, page: Page) {
  return agent.submit(page, '/enrol/skip', {}, { stopAt: isCallback });
}

/** POSTs "skip" straight to the route, as a script would when no button is shown. */
async function forceSkip(agent: Agent, server: TestServer, page: Page) {
  const res = await agent.post(`${server.issuer}/interaction/${uidOf(page)}/enrol/skip`, { _csrf: page.$('input[name=_csrf]').first().attr('value')! });
  const { res: last, url } = await agent.follow(res, isCallback);
  await last.body?.cancel();
  return { reachedClient: isCallback(url), status: last.status };
}

for (const db of ['sqlite', 'postgres'] as DbKind[]) {
  describe(`rollout grace: skipping enrolment (${db})`, () => {
    let server: TestServer;
    let clock: TestClock;
    let mfaClient: TestClient;
    let n = 0;
    const name = (base: string) => `grace-${base}-${++n}`;

    before(async () => {
      clock = testClock();
      server = await startTestServer({ db, store: 'redis', now: () => clock.now() });
      mfaClient = await registerClient(server, { requireMfa: true });
    });
    after(() => server?.close());
    afterEach(() => server.services.policy.set({ requireMfa: 'per-client', graceSkips: 0, graceUntil: null }));

    it('is off by default: no Skip button, and posting a skip anyway issues nothing', async () => {
      const user = await createUser(server, name('off'));
      const { agent, page } = await startSignIn(mfaClient, user);
      expect(isChooser(page), textOf(page)).to.equal(true);
      expect(hasSkip(page)).to.equal(false);
      expect(await forceSkip(agent, server, page)).to.deep.include({ reachedClient: false });
      expect(isChooser(await agent.open(page.url))).to.equal(true);
    });

    it('graceSkips=2: two skips, each ending with acr=pwd and amr=[pwd]; the third sign-in must enrol', async () => {
      await server.services.policy.set({ graceSkips: 2 });
      const user = await createUser(server, name('two'));
      for (const left of [2, 1]) {
        const start = await startSignIn(mfaClient, user);
        expect(hasSkip(start.page), textOf(start.page)).to.equal(true);
        expect(textOf(start.page)).to.include(`skip this ${left} more time${left === 1 ? '' : 's'}`);
        // The authenticator app is still offered first.
        expect(start.page.$('form[action$="/enrol"] button').first().text()).to.equal('Authenticator app');
        const passwordAt = Math.floor(clock.now() / 1000);
        const done = await pressSkip(start.agent, start.page);
        expect(done.redirectedTo, textOf(done)).to.be.a('string');
        const claims = (await exchange(mfaClient, start.auth, done.redirectedTo!)).claims()!;
        expect([claims.acr, claims.amr, claims.auth_time]).to.deep.equal(['pwd', ['pwd'], passwordAt]);
        clock.advance(60);
      }
      const third = await startSignIn(mfaClient, user);
      expect(isChooser(third.page)).to.equal(true);
      expect(hasSkip(third.page)).to.equal(false);
      expect((await forceSkip(third.agent, server, third.page)).reachedClient).to.equal(false);
      // Enrolling works as usual, and the skip is no longer offered to someone with a factor.
      const { page } = await enrolTotpOnPage(third.agent, await third.agent.open(third.page.url), clock);
      expect(hasSkip(page)).to.equal(false);
    });

    it('graceUntil: offered with the date before it, not after it', async () => {
      const until = new Date(clock.now() + 3600_000).toISOString();
      await server.services.policy.set({ graceSkips: 5, graceUntil: until });
      const user = await createUser(server, name('until'));
      const before = await startSignIn(mfaClient, user);
      expect(hasSkip(before.page)).to.equal(true);
      expect(textOf(before.page)).to.include(`until ${new Date(until).toUTCString().slice(0, 16)}`);
      clock.advance(3601);
      const after = await startSignIn(mfaClient, user);
      expect(isChooser(after.page)).to.equal(true);
      expect(hasSkip(after.page)).to.equal(false);
      expect((await forceSkip(after.agent, server, after.page)).reachedClient).to.equal(false);
      // The earlier page, still open, cannot skip after the date either.
      expect((await forceSkip(before.agent, server, before.page)).reachedClient).to.equal(false);
    });

    it('is never offered when the relying party asked for the second factor (acr_values=mfa, essential acr)', async () => {
      await server.services.policy.set({ graceSkips: 5 });
      const plainClient = await registerClient(server);
      const user = await createUser(server, name('rp-asked'));
      for (const params of [{ acr_values: 'mfa' }, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['mfa'] } } }) }] as Array<Record<string, string>>) {
        for (const client of [mfaClient, plainClient]) {
          const { agent, page } = await startSignIn(client, user, params);
          expect(isChooser(page), textOf(page)).to.equal(true);
          expect(hasSkip(page), JSON.stringify(params)).to.equal(false);
          expect((await forceSkip(agent, server, page)).reachedClient, JSON.stringify(params)).to.equal(false);
        }
      }
    });

    it('a skip lets only that sign-in through: the next authorization over the session asks again, prompt=none gets login_required', async () => {
      await server.services.policy.set({ graceSkips: 3 });
      const user = await createUser(server, name('sso'));
      const first = await startSignIn(mfaClient, user);
      await exchange(mfaClient, first.auth, (await pressSkip(first.agent, first.page)).redirectedTo!);
      const silent = await startSignIn(mfaClient, user, { prompt: 'none' }, first.agent);
      expect(new URL(silent.page.redirectedTo!).searchParams.get('error')).to.equal('login_required');
      const again = await startSignIn(mfaClient, user, {}, first.agent);
      expect(again.page.$('input[name=password]').length, 'the session proved the password').to.equal(0);
      expect(isChooser(again.page), textOf(again.page)).to.equal(true);
      expect(textOf(again.page)).to.include('skip this 2 more times');
    });

    it('two tabs racing for the last skip: exactly one gets through', async () => {
      await server.services.policy.set({ graceSkips: 1 });
      const user = await createUser(server, name('race'));
      const tabs = await Promise.all(Array.from({ length: 8 }, () => startSignIn(mfaClient, user)));
      expect(tabs.every((t) => hasSkip(t.page))).to.equal(true);
      const results = await Promise.all(tabs.map((t) => forceSkip(t.agent, server, t.page)));
      expect(results.filter((r) => r.reachedClient)).to.have.length(1);
    });
  });
}
