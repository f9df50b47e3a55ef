// When the second factor is required, and what the ID token then says. Every sign-in goes through
// a real openid-client relying party and the real sign-in pages; the server clock is frozen and
// moved by the test, so acr, amr and auth_time can be asserted exactly.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, exchange, openAuthorization, passwordSignIn, registerClient, REDIRECT_URI, submitPassword, type TestClient } from '../support/oidc.js';
import {
  codeNow,
  enrolTotpOnPage,
  finishAndExchange,
  headingOf,
  nextCode,
  startSignIn,
  submitChallenge,
  testClock,
  uidOf,
  userWithTotp,
  type TestClock,
} from '../support/mfa.js';

const seconds = (ms: number) => Math.floor(ms / 1000);
const isPasswordPage = (page: { $: (s: string) => { length: number } }) => page.$('input[name=password]').length > 0;
const isChallengePage = (page: { url: string; $: (s: string) => { length: number } }) => page.$('form[action$="/challenge/verify"]').length > 0;
const isChooserPage = (page: { $: (s: string) => { length: number } }) => page.$('form[action$="/enrol"]').length > 0;

/** The error a relying party receives at its callback. */
function callbackError(location: string) {
  const url = new URL(location);
  return { error: url.searchParams.get('error'), description: url.searchParams.get('error_description'), code: url.searchParams.get('code') };
}

describe('second factor: when it is required and what the ID token says', () => {
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
  afterEach(() => server.services.policy.set({ requireMfa: 'per-client', graceSkips: 0, graceUntil: null }));

  describe('[item 33] per-client require_mfa', () => {
    it('on: a new user enrols after the password; the ID token says acr=mfa, amr=[pwd,otp,mfa], auth_time=when the code verified', async () => {
      const user = await createUser(server, name('enrol'));
      const passwordAt = clock.now();
      const start = await startSignIn(mfaClient, user);
      expect(isChooserPage(start.page), textOf(start.page)).to.equal(true);
      clock.advance(40);
      const verifiedAt = clock.now();
      const { page } = await enrolTotpOnPage(start.agent, start.page, clock);
      clock.advance(25);
      const tokens = await finishAndExchange(mfaClient, start, page);
      const claims = tokens.claims()!;
      expect(claims.acr).to.equal('mfa');
      expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      expect(claims.auth_time).to.equal(seconds(verifiedAt)).and.not.equal(seconds(passwordAt));
    });

    it('on: a user with a factor is challenged; auth_time is when the challenge passed, not the password', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('challenge'));
      const start = await startSignIn(mfaClient, user);
      expect(isChallengePage(start.page)).to.equal(true);
      expect(start.page.$('label[for=code]').text()).to.match(/^Code/);
      const code = await nextCode(user.secret, clock);
      const done = await submitChallenge(start.agent, start.page, code);
      const claims = (await exchange(mfaClient, start.auth, done.redirectedTo!)).claims()!;
      expect([claims.acr, claims.amr, claims.auth_time, claims.sub]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa'], seconds(clock.now()), user.account.id]);
    });

    it('off: the same user signs in with the password only; acr=pwd, amr=[pwd], auth_time=the password', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('off'));
      clock.advance(10);
      const passwordAt = clock.now();
      const { tokens } = await passwordSignIn(server, plainClient, user);
      const claims = tokens.claims()!;
      expect([claims.acr, claims.amr, claims.auth_time]).to.deep.equal(['pwd', ['pwd'], seconds(passwordAt)]);
    });

    it('is read fresh on every request: turning it on makes the next authorization over the session ask for the second factor', async () => {
      const client = await registerClient(server);
      const user = await userWithTotp(server, mfaClient, clock, name('fresh'));
      const agent = new Agent();
      await passwordSignIn(server, client, user, {}, agent);
      await server.services.clients.update(client.clientId, { requireMfa: true });
      const start = await startSignIn(client, user, {}, agent);
      expect(isChallengePage(start.page), textOf(start.page)).to.equal(true);
      await server.services.clients.update(client.clientId, { requireMfa: false });
      const again = await startSignIn(client, user, {}, agent);
      expect(again.page.redirectedTo, 'silent SSO once the flag is off').to.be.a('string');
    });
  });

  describe('[item 33] instance policy "all"', () => {
    it('requires the second factor for a client without require_mfa', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('all'));
      await server.services.policy.set({ requireMfa: 'all' });
      const start = await startSignIn(plainClient, user);
      expect(isChallengePage(start.page), textOf(start.page)).to.equal(true);
      const done = await submitChallenge(start.agent, start.page, await nextCode(user.secret, clock));
      const claims = (await exchange(plainClient, start.auth, done.redirectedTo!)).claims()!;
      expect([claims.acr, claims.amr]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa']]);
    });

    it('turns an existing password-only session into a step-up for every client', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('all-sso'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      await server.services.policy.set({ requireMfa: 'all' });
      const start = await startSignIn(plainClient, user, {}, agent);
      expect(isChallengePage(start.page)).to.equal(true);
      expect(isPasswordPage(start.page)).to.equal(false);
    });
  });

  describe('[item 35] step-up over a password-only session', () => {
    it('acr_values=mfa asks only for the second factor, not the password again', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('stepup'));
      const agent = new Agent();
      const first = (await passwordSignIn(server, plainClient, user, {}, agent)).tokens.claims()!;
      expect(first.acr).to.equal('pwd');
      clock.advance(60);
      const start = await startSignIn(plainClient, user, { acr_values: 'mfa' }, agent);
      expect(isPasswordPage(start.page), 'no password field').to.equal(false);
      expect(isChallengePage(start.page), textOf(start.page)).to.equal(true);
      const done = await submitChallenge(agent, start.page, await nextCode(user.secret, clock));
      const claims = (await exchange(plainClient, start.auth, done.redirectedTo!)).claims()!;
      expect([claims.sub, claims.acr, claims.amr, claims.auth_time]).to.deep.equal([first.sub, 'mfa', ['pwd', 'otp', 'mfa'], seconds(clock.now())]);
    });

    it('an MFA client over a password-only session asks only for the second factor', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('stepup-client'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      const start = await startSignIn(mfaClient, user, {}, agent);
      expect(isPasswordPage(start.page)).to.equal(false);
      expect(isChallengePage(start.page)).to.equal(true);
    });

    it('an essential acr claim (values ["mfa"]) is enforced the same way', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('essential'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      const claimsParam = JSON.stringify({ id_token: { acr: { essential: true, values: ['mfa'] } } });
      const start = await startSignIn(plainClient, user, { claims: claimsParam }, agent);
      expect(isPasswordPage(start.page)).to.equal(false);
      expect(isChallengePage(start.page), textOf(start.page)).to.equal(true);
      const done = await submitChallenge(agent, start.page, await nextCode(user.secret, clock));
      const claims = (await exchange(plainClient, start.auth, done.redirectedTo!)).claims()!;
      expect([claims.acr, claims.amr]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa']]);
    });

    it('an essential acr claim with a single value "mfa" also requires it (claims.acr.value)', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('essential-value'));
      const claimsParam = JSON.stringify({ id_token: { acr: { essential: true, value: 'mfa' } } });
      const start = await startSignIn(plainClient, user, { claims: claimsParam });
      expect(isChallengePage(start.page), textOf(start.page)).to.equal(true);
      const done = await submitChallenge(start.agent, start.page, await nextCode(user.secret, clock));
      expect((await exchange(plainClient, start.auth, done.redirectedTo!)).claims()!.acr).to.equal('mfa');
    });

    it('a voluntary acr claim or acr_values="pwd mfa" does not force the second factor', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('voluntary'));
      for (const params of [{ acr_values: 'pwd mfa' }, { claims: JSON.stringify({ id_token: { acr: { values: ['mfa'] } } }) }] as Array<Record<string, string>>) {
        const { tokens } = await passwordSignIn(server, plainClient, user, params);
        expect(tokens.claims()!.acr, JSON.stringify(params)).to.equal('pwd');
      }
    });

    it('prompt=none over a password-only session answers login_required (MFA client, acr_values=mfa, essential acr)', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('none'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      const essential = JSON.stringify({ id_token: { acr: { essential: true, values: ['mfa'] } } });
      for (const [client, params] of [
        [mfaClient, { prompt: 'none' }],
        [plainClient, { prompt: 'none', acr_values: 'mfa' }],
        [plainClient, { prompt: 'none', claims: essential }],
      ] as const) {
        const start = await startSignIn(client, user, params, agent);
        expect(start.page.redirectedTo, JSON.stringify(params)).to.be.a('string');
        const { error, code } = callbackError(start.page.redirectedTo!);
        expect([error, code], JSON.stringify(params)).to.deep.equal(['login_required', null]);
      }
      // The same session still serves a client that needs only the password.
      const silent = await startSignIn(plainClient, user, { prompt: 'none' }, agent);
      expect(callbackError(silent.page.redirectedTo!).code).to.be.a('string');
    });

    it('prompt=none over an MFA session issues silently, keeping acr, amr and the original auth_time', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('none-mfa'));
      const original = user.tokens.claims()!;
      clock.advance(90);
      const start = await startSignIn(mfaClient, user, { prompt: 'none' }, user.agent);
      const claims = (await exchange(mfaClient, start.auth, start.page.redirectedTo!)).claims()!;
      expect([claims.acr, claims.amr, claims.auth_time]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa'], original.auth_time]);
    });
  });

  describe('[item 36] max_age=0 and prompt=login ask for both factors again', () => {
    for (const params of [{ max_age: '0' }, { prompt: 'login' }] as Array<Record<string, string>>) {
      it(`${JSON.stringify(params)} over an MFA session: password, then the code; auth_time moves to the new code`, async () => {
        const user = await userWithTotp(server, mfaClient, clock, name('reauth'));
        const before = user.tokens.claims()!.auth_time!;
        clock.advance(120);
        const auth = await startSignIn(mfaClient, user, params, user.agent);
        // startSignIn entered the password because the page asked for it.
        expect(isChallengePage(auth.page), textOf(auth.page)).to.equal(true);
        const done = await submitChallenge(user.agent, auth.page, await nextCode(user.secret, clock));
        const claims = (await exchange(mfaClient, auth.auth, done.redirectedTo!)).claims()!;
        expect([claims.acr, claims.amr, claims.auth_time]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa'], seconds(clock.now())]);
        expect(claims.auth_time).to.be.greaterThan(before);
      });
    }

    it('the first page of max_age=0 is the password, even though the session has both factors', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('reauth-first'));
      const auth = await oidc.buildAuthorizationUrl(mfaClient.rp, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        max_age: '0',
      });
      const page = await user.agent.open(auth.href);
      expect(isPasswordPage(page)).to.equal(true);
    });
  });

  describe('[item 35] an essential acr the provider cannot satisfy ends the sign-in with an error, never a loop', () => {
    const cases: Array<[string, () => TestClient, unknown]> = [
      ['values ["urn:unknown"] on a plain client', () => plainClient, { essential: true, values: ['urn:example:unknown'] }],
      ['value "urn:unknown" on a plain client', () => plainClient, { essential: true, value: 'urn:example:unknown' }],
      ['values ["pwd"] on an MFA client', () => mfaClient, { essential: true, values: ['pwd'] }],
      ['value "pwd" on an MFA client', () => mfaClient, { essential: true, value: 'pwd' }],
    ];
    for (const [what, client, acr] of cases) {
      it(`${what}: unmet_authentication_requirements, before any password`, async () => {
        const user = await createUser(server, name('unmet'));
        const start = await startSignIn(client(), user, { claims: JSON.stringify({ id_token: { acr } }) });
        expect(start.page.redirectedTo, textOf(start.page)).to.be.a('string');
        const { error, code } = callbackError(start.page.redirectedTo!);
        expect([error, code]).to.deep.equal(['unmet_authentication_requirements', null]);
      });

      it(`${what}: the same over an existing session (no endless interactions)`, async () => {
        const user = await userWithTotp(server, mfaClient, clock, name('unmet-sso'));
        const agent = new Agent();
        await passwordSignIn(server, plainClient, user, {}, agent);
        const start = await startSignIn(client(), user, { claims: JSON.stringify({ id_token: { acr } }) }, agent);
        expect(start.page.redirectedTo, textOf(start.page)).to.be.a('string');
        expect(callbackError(start.page.redirectedTo!).error).to.equal('unmet_authentication_requirements');
      });
    }

    it('an essential acr the sign-in can meet among others (values ["urn:unknown","mfa"]) is met with mfa', async () => {
      const user = await userWithTotp(server, mfaClient, clock, name('unmet-mixed'));
      const start = await startSignIn(plainClient, user, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:example:unknown', 'mfa'] } } }) });
      expect(isChallengePage(start.page), textOf(start.page)).to.equal(true);
      const done = await submitChallenge(start.agent, start.page, await nextCode(user.secret, clock));
      expect((await exchange(plainClient, start.auth, done.redirectedTo!)).claims()!.acr).to.equal('mfa');
    });

    it('a voluntary unknown acr_values is advisory: the sign-in completes with what was done', async () => {
      const user = await createUser(server, name('advisory'));
      const { tokens } = await passwordSignIn(server, plainClient, user, { acr_values: 'urn:example:unknown' });
      expect(tokens.claims()!.acr).to.equal('pwd');
    });
  });

  describe('a user without a factor over an existing password-only session', () => {
    it('enrols straight away when the password is recent', async () => {
      const user = await createUser(server, name('recent'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      clock.advance(4 * 60);
      const start = await startSignIn(mfaClient, user, {}, agent);
      expect(isPasswordPage(start.page)).to.equal(false);
      expect(isChooserPage(start.page), textOf(start.page)).to.equal(true);
    });

    it('is asked for the password again first when it is older than mfa.freshPasswordMinutes, then enrols', async () => {
      const user = await createUser(server, name('stale'));
      const agent = new Agent();
      await passwordSignIn(server, plainClient, user, {}, agent);
      clock.advance(server.config.mfa.freshPasswordMinutes * 60 + 1);
      const auth = await authorizationUrl(mfaClient);
      const page = await openAuthorization(agent, auth);
      expect(isPasswordPage(page), textOf(page)).to.equal(true);
      expect(textOf(page)).to.include('enter your password again');

      // Going around the password page to the enrolment changes nothing.
      const uid = uidOf(page);
      const res = await agent.post(`${server.issuer}/interaction/${uid}/enrol`, { _csrf: page.$('input[name=_csrf]').first().attr('value')!, method: 'totp' });
      expect(res.status).to.equal(303);
      const still = await agent.open(`${server.issuer}/interaction/${uid}`);
      expect(isPasswordPage(still)).to.equal(true);
      expect(still.$('.key').length).to.equal(0);

      const chooser = await submitPassword(agent, still, user.username, user.password);
      expect(isChooserPage(chooser), textOf(chooser)).to.equal(true);
      const { page: enrolled } = await enrolTotpOnPage(agent, chooser, clock);
      const tokens = await finishAndExchange(mfaClient, { auth, agent, page: enrolled }, enrolled);
      expect([tokens.claims()!.acr, tokens.claims()!.amr]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa']]);
    });
  });

  it('discovery advertises acr_values_supported ["pwd","mfa"] and the claims parameter', async () => {
    const meta = mfaClient.rp.serverMetadata();
    expect(meta.acr_values_supported).to.deep.equal(['pwd', 'mfa']);
    expect(meta.claims_parameter_supported).to.equal(true);
    expect(meta.claims_supported).to.include.members(['acr', 'amr', 'auth_time']);
  });

  it('the challenge screen names the factor and says what to type', async () => {
    const user = await userWithTotp(server, mfaClient, clock, name('screen'));
    const start = await startSignIn(mfaClient, user);
    expect(headingOf(start.page)).to.match(/verify/i);
    expect(textOf(start.page)).to.include('authenticator app');
    expect(start.page.$('button').map((_, b) => start.page.$(b).text().trim()).get()).to.include('Verify');
    expect(await codeNow(user.secret, clock)).to.match(/^\d{6}$/);
  });
});
