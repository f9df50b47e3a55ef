// Attacks on the second-factor step, each named after the checklist item it proves
// (../shared/security-checklist.md). Real server, real stores, a browser-like agent per attacker
// or victim, and a real openid-client relying party: "nothing issued" means the client never got
// an authorization code and the browser holds no session that could get one.
import { expect } from 'chai';
import { startTestServer, type StoreKind, type TestServer } from '../support/server.js';
import { Agent, formOf, textOf, type Page } from '../support/agent.js';
import { authorizationUrl, createUser, currentTotp, exchange, isCallback, passwordSignIn, registerClient, REDIRECT_URI, type TestClient } from '../support/oidc.js';
import {
  codeNow,
  enrolTotpOnPage,
  failureState,
  nextCode,
  resume,
  sessionCookie,
  startSignIn,
  submitChallenge,
  testClock,
  uidOf,
  userWithTotp,
  wrongCode,
  type TestClock,
} from '../support/mfa.js';
import { AdminService } from '../../src/admin/service.js';

const isChallenge = (page: Page) => page.$('form[action$="/challenge/verify"]').length > 0;
const errorOf = (page: Page) => page.$('.error').text().trim();
const csrfOf = (page: Page) => page.$('input[name=_csrf]').first().attr('value')!;

/** POSTs a form straight to an interaction route (what an attacker's script does), following redirects. */
async function post(agent: Agent, server: TestServer, uid: string, route: string, form: Record<string, string> | string) {
  const res = await agent.request(`${server.issuer}/interaction/${uid}${route}`, { method: 'POST', form });
  const { res: last, url } = await agent.follow(res, isCallback);
  const html = await last.text();
  return { status: last.status, url, reachedClient: isCallback(url), html };
}

/** Does this browser hold a session that gets a code without any interaction? */
async function silentCodeFor(agent: Agent, client: TestClient): Promise<string | null> {
  const auth = await authorizationUrl(client, { prompt: 'none' });
  const { url } = await agent.follow(await agent.get(auth.url), isCallback);
  return isCallback(url) ? new URL(url).searchParams.get('code') : null;
}

/** What a person sees after submitting a code: status and the error sentence. */
const answer = (page: Page) => ({ status: page.status, error: errorOf(page) });

describe('attacks on the second-factor step', () => {
  let server: TestServer;
  let clock: TestClock;
  let mfaClient: TestClient;
  let plainClient: TestClient;
  let n = 0;
  const name = (base: string) => `${base}-${++n}`;

  before(async () => {
    clock = testClock();
    server = await startTestServer({ store: 'redis', now: () => clock.now() });
    mfaClient = await registerClient(server, { requireMfa: true });
    plainClient = await registerClient(server);
  });
  after(() => server?.close());

  describe('[item 1] skipping the step after the password issues nothing', () => {
    it('a user with a factor: resume /auth/:uid, consent, finish, setup, enrolment routes and the token endpoint', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('skip'));
      const { agent, page, auth } = await startSignIn(mfaClient, user);
      expect(isChallenge(page)).to.equal(true);
      const uid = uidOf(page);
      const csrf = csrfOf(page);

      for (const [route, form] of [
        ['/consent', { _csrf: csrf, decision: 'allow' }],
        ['/finish', { _csrf: csrf }],
        ['/setup', { _csrf: csrf }],
        ['/enrol', { _csrf: csrf, method: 'totp' }],
        ['/enrol/verify', { _csrf: csrf, code: '000000' }],
        ['/methods/choose', { _csrf: csrf, factor: user.account.id }],
      ] as const) {
        const result = await post(agent, server, uid, route, form);
        expect(result.reachedClient, route).to.equal(false);
      }
      // The real challenge is still waiting for the code.
      expect(isChallenge(await agent.open(`${server.issuer}/interaction/${uid}`))).to.equal(true);

      // Resuming the authorization ends this interaction and starts again from the password.
      const resumed = await resume(agent, server, uid);
      expect(resumed.reachedClient, '/auth/:uid').to.equal(false);
      expect((await agent.open(resumed.url)).$('input[name=password]').length).to.equal(1);
      expect(await silentCodeFor(agent, mfaClient), 'no session was made').to.equal(null);

      // The token endpoint has nothing to redeem: any code the attacker makes up is refused.
      const forged = new URL(REDIRECT_URI);
      forged.searchParams.set('code', uid);
      forged.searchParams.set('state', auth.state);
      forged.searchParams.set('iss', server.issuer);
      const err = await exchange(mfaClient, auth, forged.href).then(() => null, (e: { error?: string }) => e);
      expect(err?.error).to.equal('invalid_grant');
    });

    it('a user without a factor: finish, resume and a verify with no enrolment started issue nothing', async () => {
      const user = await createUser(server, name('skip-enrol'));
      const { agent, page } = await startSignIn(mfaClient, user);
      expect(page.$('form[action$="/enrol"]').length).to.be.greaterThan(0);
      const uid = uidOf(page);
      for (const route of ['/finish', '/enrol/verify', '/setup', '/consent']) {
        const result = await post(agent, server, uid, route, { _csrf: csrfOf(page), code: '123456', decision: 'allow' });
        expect(result.reachedClient, route).to.equal(false);
      }
      expect((await resume(agent, server, uid)).reachedClient).to.equal(false);
      expect(await silentCodeFor(agent, mfaClient)).to.equal(null);
      expect(await server.services.factors.list(user.account.id)).to.have.length(0);
    });

    it('[item 33] an MFA client never gets an ID token without the second factor in amr, over any session', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('amr'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      expect(await silentCodeFor(agent, mfaClient)).to.equal(null);
      const start = await startSignIn(mfaClient, user, {}, agent);
      const done = await submitChallenge(agent, start.page, await nextCode(user.secret, clock));
      const claims = (await exchange(mfaClient, start.auth, done.redirectedTo!)).claims()!;
      expect(claims.amr).to.include('otp').and.include('mfa');
    });
  });

  describe('[item 2] the account comes only from the server-side sign-in', () => {
    it("user B's sign-in rejects user A's valid code, whatever the form claims, and A's code stays A's", async () => {
      const alice = await userWithTotp(server, mfaClient, clock, name('alice'));
      const bob = await userWithTotp(server, mfaClient, clock, name('bob'));
      const b = await startSignIn(mfaClient, bob);
      clock.advance(30);
      const aliceCode = await codeNow(alice.secret, clock);
      const forged = await submitChallenge(b.agent, b.page, {
        code: aliceCode,
        username: alice.username,
        accountId: alice.account.id,
        sub: alice.account.id,
        factor: (await server.services.factors.list(alice.account.id))[0]!.id,
      });
      expect(forged.redirectedTo).to.equal(undefined);
      expect(answer(forged)).to.deep.equal({ status: 400, error: "That code didn't work. Check it and try again." });
      // Bob's own code still signs Bob in, as Bob.
      const done = await submitChallenge(b.agent, forged, await codeNow(bob.secret, clock));
      expect((await exchange(mfaClient, b.auth, done.redirectedTo!)).claims()!.sub).to.equal(bob.account.id);
      // The code Bob's sign-in refused was never spent on Alice's factor.
      const a = await startSignIn(mfaClient, alice);
      const aliceDone = await submitChallenge(a.agent, a.page, aliceCode);
      expect((await exchange(mfaClient, a.auth, aliceDone.redirectedTo!)).claims()!.sub).to.equal(alice.account.id);
    });

    it("signing in as someone else in the middle of a sign-in carries nothing over: not the first user's recovery codes, factors or second factor", async () => {
      const first = await createUser(server, name('first'));
      const second = await createUser(server, name('second'));
      const start = await startSignIn(mfaClient, first);
      const { page } = await enrolTotpOnPage(start.agent, start.page, clock);
      const uid = uidOf(page);
      const codesUrl = `${server.issuer}/interaction/${uid}/recovery-codes.txt`;
      expect((await start.agent.get(codesUrl)).status, 'the first user\'s codes, on their own Setup / Finish screen').to.equal(200);

      const switched = await post(start.agent, server, uid, '/login', { _csrf: csrfOf(page), username: second.username, password: second.password });
      expect(switched.status).to.equal(200);
      expect(switched.html, 'the second user starts at the method chooser').to.include('Authenticator app');
      expect(switched.html).to.not.include('Your recovery codes');
      const download = await start.agent.get(codesUrl);
      expect(download.status, 'the first user\'s recovery codes are not offered to the second').to.equal(404);
      await download.body?.cancel();
      const finish = await post(start.agent, server, uid, '/finish', { _csrf: csrfOf(page) });
      expect(finish.reachedClient, 'Finish does not sign the second user in on the first user\'s factor').to.equal(false);
    });

    it("an attacker cannot act on a victim's interaction id from another browser", async () => {
      const victim = await userWithTotp(server, mfaClient, clock, name('victim'));
      const attacker = await userWithTotp(server, mfaClient, clock, name('attacker'));
      const v = await startSignIn(mfaClient, victim);
      const x = await startSignIn(mfaClient, attacker);
      // The attacker's own form token, the victim's interaction id, a valid code for the attacker.
      const result = await post(x.agent, server, uidOf(v.page), '/challenge/verify', { _csrf: csrfOf(x.page), code: await nextCode(attacker.secret, clock) });
      expect(result.status).to.equal(400);
      expect(result.html).to.include('expired');
      expect(result.reachedClient).to.equal(false);
      const still = await v.agent.open(v.page.url);
      expect(isChallenge(still)).to.equal(true);
    });
  });

  describe('[item 3] a code belongs to the sign-in it was made for', () => {
    it('a code from the key shown in enrolment X does not enrol anything in enrolment Y', async () => {
      const user = await createUser(server, name('two-enrolments'));
      const x = await startSignIn(mfaClient, user);
      const y = await startSignIn(mfaClient, user);
      const enrolX = await x.agent.submit(x.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const enrolY = await y.agent.submit(y.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const keyX = enrolX.$('.key span').text();
      const keyY = enrolY.$('.key span').text();
      expect(keyX).to.not.equal(keyY);
      const crossed = await y.agent.submit(enrolY, '/enrol/verify', { code: await currentTotp(keyX, clock.now()) });
      expect(answer(crossed)).to.deep.equal({ status: 400, error: "That code didn't work. Check it and try again." });
      expect(await server.services.factors.list(user.account.id)).to.have.length(0);
    });

    it('a code accepted in interaction X is refused in interaction Y', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('x-then-y'));
      const x = await startSignIn(mfaClient, user);
      const y = await startSignIn(mfaClient, user);
      const code = await nextCode(user.secret, clock);
      expect((await submitChallenge(x.agent, x.page, code)).redirectedTo).to.be.a('string');
      const replay = await submitChallenge(y.agent, y.page, code);
      expect(replay.redirectedTo).to.equal(undefined);
      expect(answer(replay)).to.deep.equal({ status: 400, error: "That code didn't work. Check it and try again." });
    });
  });

  describe('[item 4] a failed verification stays failed whatever the browser does next', () => {
    it('after a wrong code, resuming, finishing or reloading as if it had passed issues nothing', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('flip'));
      const { agent, page } = await startSignIn(mfaClient, user);
      const uid = uidOf(page);
      const failed = await submitChallenge(agent, page, await wrongCode(user.secret, clock));
      expect(failed.status).to.equal(400);
      // "Flip" the answer: carry on to every place a success would lead.
      const reload = await agent.open(`${server.issuer}/interaction/${uid}`);
      expect(isChallenge(reload)).to.equal(true);
      expect((await post(agent, server, uid, '/finish', { _csrf: csrfOf(page) })).reachedClient).to.equal(false);
      expect((await post(agent, server, uid, '/consent', { _csrf: csrfOf(page), decision: 'allow' })).reachedClient).to.equal(false);
      expect((await resume(agent, server, uid)).reachedClient).to.equal(false);
      expect(await silentCodeFor(agent, mfaClient)).to.equal(null);
    });
  });

  describe('[item 5] the session id changes when the second factor passes', () => {
    it('a password-only session is replaced at step-up; the old id is dead', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('rotate'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      const stolen = (await agent.jar.getCookies(server.issuer)).filter((c) => c.key.startsWith('_session')).map((c) => c.clone()!);
      const before = stolen.find((c) => c.key === '_session')?.value;
      expect(before).to.be.a('string');
      const withCookies = async () => {
        const thief = new Agent();
        for (const c of stolen) await thief.jar.setCookie(c, server.issuer);
        return thief;
      };
      // Control: a copy of the cookies works while the session is alive (so the check below can fail).
      expect(await silentCodeFor(await withCookies(), plainClient)).to.be.a('string');

      const start = await startSignIn(plainClient, user, { acr_values: 'mfa' }, agent);
      const done = await submitChallenge(agent, start.page, await nextCode(user.secret, clock));
      await exchange(plainClient, start.auth, done.redirectedTo!);
      expect(await sessionCookie(agent, server)).to.be.a('string').and.not.equal(before);
      // The old id is gone: its cookies get nothing, not even the password-only session.
      expect(await silentCodeFor(await withCookies(), plainClient)).to.equal(null);
      expect(await silentCodeFor(agent, mfaClient)).to.be.a('string');
    });
  });

  describe('[items 15, 16] TOTP time steps', () => {
    it('a code accepted in one session is refused in a second session, with the answer a wrong code gets', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('replay'));
      const first = await startSignIn(mfaClient, user);
      const code = await nextCode(user.secret, clock);
      expect((await submitChallenge(first.agent, first.page, code)).redirectedTo).to.be.a('string');
      const second = await startSignIn(mfaClient, user);
      const replayed = await submitChallenge(second.agent, second.page, code);
      const wrong = await submitChallenge(second.agent, replayed, await wrongCode(user.secret, clock));
      expect(answer(replayed)).to.deep.equal(answer(wrong)).and.deep.equal({ status: 400, error: "That code didn't work. Check it and try again." });
    });

    it('once step T+1 is accepted, a code for step T (still inside the window) is refused from any session', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('older-step'));
      clock.advance(30);
      const ahead = await currentTotp(user.secret, clock.now() + 30_000);
      const current = await codeNow(user.secret, clock);
      const a = await startSignIn(mfaClient, user);
      expect((await submitChallenge(a.agent, a.page, ahead)).redirectedTo).to.be.a('string');
      const b = await startSignIn(mfaClient, user);
      const older = await submitChallenge(b.agent, b.page, current);
      expect(answer(older)).to.deep.equal({ status: 400, error: "That code didn't work. Check it and try again." });
    });

    it('at sign-in the window is the server step and one each side: T-2 and T+2 refused, T-1 accepted', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('window'));
      clock.advance(120);
      const start = await startSignIn(mfaClient, user);
      const at = (steps: number) => currentTotp(user.secret, clock.now() + steps * 30_000);
      // A client's idea of the time changes nothing: only the server clock counts.
      const clientTime = String(Math.floor(clock.now() / 1000) - 60);
      const tooOld = await submitChallenge(start.agent, start.page, { code: await at(-2), time: clientTime, epoch: clientTime, timestamp: clientTime });
      expect(answer(tooOld).status).to.equal(400);
      const tooNew = await submitChallenge(start.agent, tooOld, await at(2));
      expect(answer(tooNew).status).to.equal(400);
      expect((await submitChallenge(start.agent, tooNew, await at(-1))).redirectedTo).to.be.a('string');
    });

    it('wrong, used, expired and other-user codes all get the same status and sentence [item 12]', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('same-answer'));
      const other = await userWithTotp(server, mfaClient, clock, name('same-answer-other'));
      const used = await nextCode(user.secret, clock);
      const a = await startSignIn(mfaClient, user);
      await submitChallenge(a.agent, a.page, used);
      const b = await startSignIn(mfaClient, user);
      const answers = [];
      let page: Page = b.page;
      for (const code of [
        await wrongCode(user.secret, clock),
        used,
        await currentTotp(user.secret, clock.now() - 90_000),
        await codeNow(other.secret, clock),
      ]) {
        page = await submitChallenge(b.agent, page, code);
        answers.push(answer(page));
      }
      expect(new Set(answers.map((x) => JSON.stringify(x))).size, JSON.stringify(answers)).to.equal(1);
    });
  });

  describe('[item 21] several codes in one request are refused and counted', () => {
    it('code=<right>&code=<wrong>, a long string holding the right code, code[]=: "Enter the 6-digit code", one failure each', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('several'));
      const { agent, page } = await startSignIn(mfaClient, user);
      const uid = uidOf(page);
      clock.advance(30);
      const right = await codeNow(user.secret, clock);
      const wrong = await wrongCode(user.secret, clock);
      const bodies = [
        `_csrf=${encodeURIComponent(csrfOf(page))}&code=${right}&code=${wrong}`,
        `_csrf=${encodeURIComponent(csrfOf(page))}&code=${wrong}&code=${right}`,
        `_csrf=${encodeURIComponent(csrfOf(page))}&code=${right}${wrong}${right}`,
        `_csrf=${encodeURIComponent(csrfOf(page))}&code[]=${right}&code[]=${wrong}`,
      ];
      for (const [i, body] of bodies.entries()) {
        const result = await post(agent, server, uid, '/challenge/verify', body);
        expect(result.reachedClient, body).to.equal(false);
        expect(result.html, body).to.include('Enter the 6-digit code');
        expect((await failureState(server, user.account.id, uid)).accountFailures, body).to.equal(i + 1);
      }
    });

    it('malformed input (letters, spaces, 5 or 7 digits, empty, 10 kB) gets "Enter the 6-digit code" and counts', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('malformed'));
      const inputs = ['12a456', '123 456', '12345', '1234567', '', '7'.repeat(10_000)];
      let total = 0;
      // Five per sign-in end the challenge, so spread them over two sign-ins.
      for (const batch of [inputs.slice(0, 3), inputs.slice(3)]) {
        const { agent, page } = await startSignIn(mfaClient, user);
        let current: Page = page;
        for (const input of batch) {
          current = await submitChallenge(agent, current, input);
          total += 1;
          expect(answer(current), JSON.stringify(input.slice(0, 10))).to.deep.equal({ status: 400, error: 'Enter the 6-digit code' });
          expect((await failureState(server, user.account.id)).accountFailures).to.equal(total);
        }
      }
    });
  });

  describe('[item 18] CSRF token', () => {
    it('a correct code without the form token, or with another sign-in’s token, changes nothing', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('csrf'));
      const { agent, page } = await startSignIn(mfaClient, user);
      const other = await startSignIn(mfaClient, user);
      const uid = uidOf(page);
      const code = await nextCode(user.secret, clock);
      for (const form of [{ code }, { code, _csrf: '' }, { code, _csrf: csrfOf(other.page) }, { code, _csrf: csrfOf(page).slice(0, -2) }] as Array<Record<string, string>>) {
        const result = await post(agent, server, uid, '/challenge/verify', form);
        expect([result.status, result.reachedClient], JSON.stringify(form)).to.deep.equal([403, false]);
      }
      expect((await failureState(server, user.account.id)).accountFailures).to.equal(0);
      // The code was never checked, let alone spent: with the token it works.
      expect((await submitChallenge(agent, page, code)).redirectedTo).to.be.a('string');
    });

    it('enrolment verify without the token saves no factor', async () => {
      const user = await createUser(server, name('csrf-enrol'));
      const { agent, page } = await startSignIn(mfaClient, user);
      const enrol = await agent.submit(page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const key = enrol.$('.key span').text();
      const result = await post(agent, server, uidOf(enrol), '/enrol/verify', { code: await codeNow(key, clock) });
      expect(result.status).to.equal(403);
      expect(await server.services.factors.list(user.account.id)).to.have.length(0);
      const get = await agent.get(`${server.issuer}/interaction/${uidOf(enrol)}/enrol/verify?code=${await codeNow(key, clock)}`);
      await get.body?.cancel();
      expect(get.status).to.be.oneOf([404, 405]);
      expect(await server.services.factors.list(user.account.id)).to.have.length(0);
    });
  });

  describe('[items 18, 19] failure counting and lockout, per account', () => {
    it('5 wrong codes end the challenge; failures survive a new sign-in; the 10th in a row locks; the right code is refused while locked; unlock clears it; success resets', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('lockout'));
      const first = await startSignIn(mfaClient, user);
      let page: Page = first.page;
      for (let i = 1; i <= 5; i++) {
        page = await submitChallenge(first.agent, page, await wrongCode(user.secret, clock));
        expect((await failureState(server, user.account.id)).accountFailures).to.equal(i);
      }
      expect(page.status).to.equal(429);
      expect(textOf(page)).to.include('Too many wrong codes for this sign-in');
      // The right code cannot rescue this challenge.
      const over = await post(first.agent, server, uidOf(first.page), '/challenge/verify', { _csrf: csrfOf(first.page), code: await nextCode(user.secret, clock) });
      expect([over.status, over.reachedClient]).to.deep.equal([429, false]);

      // [item 19] A new sign-in (new browser, password again) starts from the same count.
      const second = await startSignIn(mfaClient, user);
      expect(isChallenge(second.page)).to.equal(true);
      expect((await failureState(server, user.account.id)).accountFailures).to.equal(5);
      page = second.page;
      for (let i = 6; i <= 9; i++) page = await submitChallenge(second.agent, page, await wrongCode(user.secret, clock));
      expect(answer(page).status).to.equal(400);
      page = await submitChallenge(second.agent, page, await wrongCode(user.secret, clock));
      expect(page.status).to.equal(429);
      expect(textOf(page)).to.match(/locked for 15 minutes/);
      const state = await failureState(server, user.account.id);
      expect(state.lockouts).to.equal(1);
      expect(state.lockedFor).to.be.within(14 * 60, 15 * 60);

      // [item 18] Locked: the right code is refused, in this sign-in and in a new one.
      const third = await startSignIn(mfaClient, user);
      expect(third.page.status).to.equal(429);
      expect(textOf(third.page)).to.include('locked');
      const refused = await post(third.agent, server, uidOf(third.page), '/challenge/verify', { _csrf: csrfOf(third.page), code: await nextCode(user.secret, clock) });
      expect([refused.status, refused.reachedClient]).to.deep.equal([429, false]);

      // `twofold user unlock` clears it.
      await new AdminService(server.services).unlock({ via: 'cli' }, user.username);
      const fourth = await startSignIn(mfaClient, user);
      const wrongOnce = await submitChallenge(fourth.agent, fourth.page, await wrongCode(user.secret, clock));
      expect((await failureState(server, user.account.id)).accountFailures).to.equal(1);
      const done = await submitChallenge(fourth.agent, wrongOnce, await nextCode(user.secret, clock));
      expect(done.redirectedTo).to.be.a('string');
      // A success resets the count.
      expect(await failureState(server, user.account.id)).to.deep.include({ accountFailures: 0, lockedFor: 0 });
    });

    it('enrolment codes count toward the same lockout', async () => {
      const user = await createUser(server, name('enrol-lock'));
      const { agent, page } = await startSignIn(mfaClient, user);
      const enrol = await agent.submit(page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const key = enrol.$('.key span').text();
      const failed = await agent.submit(enrol, '/enrol/verify', { code: await wrongCode(key, clock) });
      expect(answer(failed)).to.deep.equal({ status: 400, error: "That code didn't work. Check it and try again." });
      expect((await failureState(server, user.account.id)).accountFailures).to.equal(1);
      const ok = await agent.submit(failed, '/enrol/verify', { code: await codeNow(key, clock) });
      expect(ok.$('button').text()).to.include('Finish');
      expect((await failureState(server, user.account.id)).accountFailures).to.equal(0);
    });
  });
});

for (const store of ['redis', 'memory'] as StoreKind[]) {
  describe(`[items 9, 15, 18] races on one account (${store} store)`, () => {
    let server: TestServer;
    let clock: TestClock;
    let client: TestClient;
    let n = 0;
    const name = (base: string) => `race-${base}-${++n}`;

    before(async () => {
      clock = testClock();
      server = await startTestServer({ store, now: () => clock.now() });
      client = await registerClient(server, { requireMfa: true });
    });
    after(() => server?.close());

    it('20 parallel submissions of one valid code in one sign-in: exactly one succeeds', async () => {
      const user = await userWithTotp(server, client, clock, name('same'));
      const { agent, page } = await startSignIn(client, user);
      const code = await nextCode(user.secret, clock);
      const form = formOf(page, '/challenge/verify');
      const target = new URL(form.action, page.url).href;
      const responses = await Promise.all(Array.from({ length: 20 }, () => agent.post(target, { ...form.values, code })));
      const toClient = responses.filter((r) => r.status === 303 && (r.headers.get('location') ?? '').includes('/auth/'));
      await Promise.all(responses.map((r) => r.body?.cancel()));
      expect(toClient).to.have.length(1);
    });

    it('20 parallel sign-ins submitting one valid code: exactly one gets a code for the client', async () => {
      const user = await userWithTotp(server, client, clock, name('many'));
      const starts = await Promise.all(Array.from({ length: 20 }, () => startSignIn(client, user)));
      const code = await nextCode(user.secret, clock);
      const results = await Promise.all(starts.map((s) => submitChallenge(s.agent, s.page, code)));
      const through = results.filter((r) => r.redirectedTo);
      expect(through).to.have.length(1);
      expect(new URL(through[0]!.redirectedTo!).searchParams.get('code')).to.be.a('string');
      expect(results.filter((r) => !r.redirectedTo).map((r) => r.status)).to.satisfy((s: number[]) => s.every((x) => x === 400 || x === 429));
    });

    it('50 parallel wrong codes in one sign-in: exactly 5 are checked and counted, the rest refused unchecked', async () => {
      const user = await userWithTotp(server, client, clock, name('fifty'));
      const { agent, page } = await startSignIn(client, user);
      const uid = uidOf(page);
      const form = formOf(page, '/challenge/verify');
      const target = new URL(form.action, page.url).href;
      const wrong = await wrongCode(user.secret, clock);
      const responses = await Promise.all(Array.from({ length: 50 }, () => agent.post(target, { ...form.values, code: wrong })));
      const bodies = await Promise.all(responses.map((r) => r.text()));
      expect(await failureState(server, user.account.id, uid)).to.deep.include({ accountFailures: 5, challengeFailures: 5, lockedFor: 0 });
      expect(responses.every((r) => r.status === 400 || r.status === 429)).to.equal(true);
      // 45 refused unchecked and the 5th failure say the challenge is over; the first four may too,
      // when the others were counted before their page was drawn.
      expect(bodies.filter((b) => b.includes('Too many wrong codes for this sign-in')).length).to.be.at.least(46);
      // A second burst in a new sign-in takes the account to exactly 10 and one lockout.
      const second = await startSignIn(client, user);
      const form2 = formOf(second.page, '/challenge/verify');
      const responses2 = await Promise.all(Array.from({ length: 50 }, () => second.agent.post(new URL(form2.action, second.page.url).href, { ...form2.values, code: wrong })));
      await Promise.all(responses2.map((r) => r.body?.cancel()));
      const state = await failureState(server, user.account.id, uidOf(second.page));
      expect(state.lockouts).to.equal(1);
      expect(state.lockedFor).to.be.greaterThan(0);
      expect(state.challengeFailures).to.equal(5);
      // Locked: the right code is refused.
      const third = await startSignIn(client, user);
      expect(third.page.status).to.equal(429);
    });

    it('50 parallel sign-ins with a wrong code each: exactly one lockout; unlock lets the right code through', async () => {
      const user = await userWithTotp(server, client, clock, name('burst'));
      const starts = await Promise.all(Array.from({ length: 50 }, () => startSignIn(client, user)));
      const wrong = await wrongCode(user.secret, clock);
      const results = await Promise.all(starts.map((s) => submitChallenge(s.agent, s.page, wrong)));
      expect(results.every((r) => !r.redirectedTo && (r.status === 400 || r.status === 429))).to.equal(true);
      const state = await failureState(server, user.account.id);
      expect(state.lockouts).to.equal(1);
      expect(state.lockedFor).to.be.greaterThan(0);
      const late = await startSignIn(client, user);
      expect(late.page.status).to.equal(429);
      await new AdminService(server.services).unlock({ via: 'cli' }, user.username);
      const after = await startSignIn(client, user);
      expect((await submitChallenge(after.agent, after.page, await nextCode(user.secret, clock))).redirectedTo).to.be.a('string');
    });
  });
}

