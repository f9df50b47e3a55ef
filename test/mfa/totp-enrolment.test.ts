// Setting up an authenticator app, as a person sees it, and what is kept afterwards: the chooser
// (app first, the weaker-channel note on the same screen), the enrolment screen (QR, key, otpauth
// link, Code + Verify), the secret (20 bytes, sealed at rest, saved only after a valid code) and
// several factors with a preferred one.
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { textOf, type Page } from '../support/agent.js';
import { createUser, currentTotp, exchange, keyFromPage, registerClient, type TestClient } from '../support/oidc.js';
import { codeNow, finishAndExchange, nextCode, startSignIn, submitChallenge, testClock, uidOf, userWithTotp, wrongCode, type TestClock } from '../support/mfa.js';
import { keys } from '../../src/store/session-store.js';
import { factorSealContext } from '../../src/factors/service.js';

const buttons = (page: Page) => page.$('button').map((_, b) => page.$(b).text().trim()).get();

function base32Bytes(text: string): number {
  return Math.floor((text.replace(/=+$/, '').length * 5) / 8);
}

describe('authenticator app enrolment and storage', () => {
  let server: TestServer;
  let clock: TestClock;
  let client: TestClient;
  let n = 0;
  const name = (base: string) => `app-${base}-${++n}`;

  before(async () => {
    clock = testClock();
    server = await startTestServer({ store: 'redis', now: () => clock.now() });
    client = await registerClient(server, { requireMfa: true });
  });
  after(() => server?.close());

  describe('[item 32] the method chooser', () => {
    it('lists the authenticator app first, naming Google Authenticator and Okta Verify', async () => {
      const { page } = await startSignIn(client, await createUser(server, name('chooser')));
      const methods = page.$('form[action$="/enrol"]');
      const first = methods.first();
      expect(first.find('button').text().trim()).to.equal('Authenticator app');
      expect(first.text()).to.include('Google Authenticator').and.include('Okta Verify');
      expect(first.find('input[name=method]').attr('value')).to.equal('totp');
    });

    it('shows the note that text and voice are weaker on the chooser itself, exactly when they are offered', async () => {
      const { page } = await startSignIn(client, await createUser(server, name('note')));
      const offered = page.$('form[action$="/enrol"] input[name=method]').map((_, el) => page.$(el).attr('value')).get();
      const note = page.$('.note').text();
      // SMS and voice arrive behind the same Factor interface; this holds whichever are installed.
      if (offered.some((t) => t === 'sms' || t === 'voice')) {
        expect(note).to.match(/less secure than an authenticator app/);
        // App first, phone channels after it.
        expect(offered[0]).to.equal('totp');
        expect(offered.indexOf('totp')).to.be.below(Math.min(...['sms', 'voice'].map((t) => (offered.includes(t) ? offered.indexOf(t) : Infinity))));
      } else {
        expect(note).to.equal('');
      }
    });

    it('has no weaker-channel note when only the authenticator app is offered', async () => {
      const appOnly = await startTestServer({ store: 'memory', config: { factors: ['totp'] }, now: () => clock.now() });
      try {
        await appOnly.services.policy.set({ allowedFactors: ['totp'] });
        const rp = await registerClient(appOnly, { requireMfa: true });
        const { page } = await startSignIn(rp, await createUser(appOnly, name('app-only')));
        expect(page.$('form[action$="/enrol"] input[name=method]').map((_, el) => page.$(el).attr('value')).get()).to.deep.equal(['totp']);
        expect(page.$('.note').length).to.equal(0);
        expect(textOf(page)).to.not.match(/less secure/);
      } finally {
        await appOnly.close();
      }
    });
  });

  describe('the enrolment screen', () => {
    it('shows a server-rendered QR code, the key in groups, an otpauth:// link with issuer and account, and Code + Verify', async () => {
      const user = await createUser(server, name('screen'));
      const { agent, page } = await startSignIn(client, user);
      const enrol = await agent.submit(page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      expect(enrol.$('figure.qr svg').length).to.equal(1);
      const groups = enrol.$('.key span').map((_, el) => enrol.$(el).text()).get();
      expect(groups).to.have.length(8);
      expect(groups.every((g) => /^[A-Z2-7]{4}$/.test(g))).to.equal(true);
      const link = enrol.$('a[href^="otpauth://"]').attr('href')!;
      const uri = new URL(link);
      expect(uri.protocol).to.equal('otpauth:');
      expect(uri.host).to.equal('totp');
      expect(decodeURIComponent(uri.pathname)).to.equal(`/Twofold:${user.username}`);
      expect(Object.fromEntries(uri.searchParams)).to.deep.include({ secret: groups.join(''), issuer: 'Twofold' });
      // SHA-1, 6 digits, 30 s: the Key URI defaults, written out or left out.
      expect([uri.searchParams.get('algorithm') ?? 'SHA1', uri.searchParams.get('digits') ?? '6', uri.searchParams.get('period') ?? '30']).to.deep.equal(['SHA1', '6', '30']);
      expect(enrol.$(`label[for=${enrol.$('form[action$="/enrol/verify"] input[name=code]').attr('id')}]`).text()).to.match(/^Code/);
      expect(enrol.$('form[action$="/enrol/verify"] button').text().trim()).to.equal('Verify');
    });

    it('after a verified code: Setup and Finish on the same screen, and Finish completes the sign-in', async () => {
      const user = await createUser(server, name('finish'));
      const start = await startSignIn(client, user);
      const enrol = await start.agent.submit(start.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const done = await start.agent.submit(enrol, '/enrol/verify', { code: await codeNow(keyFromPage(enrol), clock) });
      expect(buttons(done)).to.include.members(['Setup', 'Finish']);
      const tokens = await finishAndExchange(client, start, done);
      expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    });
  });

  describe('[item 17] the secret', () => {
    it('is 20 random bytes, kept only sealed while enrolling, saved only after a valid code, sealed at rest, never shown again', async () => {
      const user = await createUser(server, name('secret'));
      const { agent, page, auth } = await startSignIn(client, user);
      const enrol = await agent.submit(page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const secret = keyFromPage(enrol);
      expect(base32Bytes(secret)).to.equal(20);

      // While enrolling, the login transaction holds it sealed only.
      const pending = JSON.stringify(await server.services.store.getJson(keys.loginTransaction(uidOf(enrol))));
      expect(pending).to.include('sealedSecret');
      expect(pending).to.not.include(secret);

      // Nothing is saved before a valid code, nor after a wrong one.
      // (Recovery codes arrive with the first factor as a row of their own; this test is about the app.)
      const rows = () => server.services.db.kysely.selectFrom('factors').selectAll().where('account_id', '=', user.account.id).where('type', '=', 'totp').execute();
      expect(await rows()).to.have.length(0);
      const wrong = await agent.submit(enrol, '/enrol/verify', { code: await wrongCode(secret, clock) });
      expect(wrong.status).to.equal(400);
      expect(await rows()).to.have.length(0);

      const enrolled = await agent.submit(wrong, '/enrol/verify', { code: await codeNow(secret, clock) });
      const saved = await rows();
      expect(saved).to.have.length(1);
      const row = saved[0]!;
      expect(row.type).to.equal('totp');
      // Sealed: the Base32 seed is nowhere in the row, and the sealed value opens to it only under
      // this factor's own id.
      const stored = JSON.stringify(row);
      expect(stored).to.not.include(secret);
      expect(stored.toLowerCase()).to.not.include(secret.toLowerCase());
      expect(JSON.parse(server.services.keyring.open(row.secret_sealed, factorSealContext(row.id)))).to.deep.equal({ secret, period: 30, digits: 6, algorithm: 'sha1' });
      expect(() => server.services.keyring.open(row.secret_sealed, factorSealContext('another-factor'))).to.throw();

      // Never shown again: not on the next screen, not at the next sign-in, not in the log.
      expect(enrolled.html).to.not.include(secret);
      await finishAndExchange(client, { auth, agent, page: enrolled }, enrolled);
      clock.advance(30);
      const next = await startSignIn(client, user);
      expect(next.page.html).to.not.include(secret);
      expect(server.logs.text).to.not.include(secret);
    });

    it('each enrolment gets a different key', async () => {
      const user = await createUser(server, name('unique'));
      const keysSeen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const { agent, page } = await startSignIn(client, user);
        keysSeen.add(keyFromPage(await agent.submit(page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' })));
      }
      expect(keysSeen.size).to.equal(3);
    });
  });

  describe('instance TOTP parameters', () => {
    it('changing period/digits/algorithm applies to factors enrolled afterwards; existing apps keep working', async () => {
      const user = await userWithTotp(server, client, clock, name('params-old'));
      const changed = await startTestServer({
        databaseUrl: server.config.databaseUrl,
        store: 'memory',
        config: { totp: { period: 60, digits: 8, algorithm: 'sha256' } },
        now: () => clock.now(),
      });
      try {
        const rp = await registerClient(changed, { requireMfa: true });
        // The app set up with 30 s / 6 digits / SHA-1 still signs in.
        const old = await startSignIn(rp, user);
        expect(old.page.html).to.include('6-digit code');
        const done = await submitChallenge(old.agent, old.page, await nextCode(user.secret, clock));
        expect(done.redirectedTo, old.page.$('.error').text()).to.be.a('string');
        // A new enrolment uses the new parameters, in the QR code and when checking.
        const fresh = await startSignIn(rp, await createUser(changed, name('params-new')));
        const enrol = await fresh.agent.submit(fresh.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
        const uri = new URL(enrol.$('a[href^="otpauth://"]').attr('href')!);
        expect([uri.searchParams.get('period'), uri.searchParams.get('digits'), uri.searchParams.get('algorithm')]).to.deep.equal(['60', '8', 'SHA256']);
        const { totp } = await import('../../src/factors/totp/otp.js');
        const code = await totp(keyFromPage(enrol), Math.floor(clock.now() / 1000), { period: 60, digits: 8, algorithm: 'sha256' });
        const ok = await fresh.agent.submit(enrol, '/enrol/verify', { code });
        expect(buttons(ok)).to.include('Finish');
      } finally {
        await changed.stop();
      }
    });
  });

  describe('several factors', () => {
    it('the preferred factor is challenged first; "Use another method" lists the others and only the chosen one’s code counts', async () => {
      // The first sign-in sets up app A, presses Setup, sets up app B, and finishes.
      const second = await createUser(server, name('two-apps'));
      const s = await startSignIn(client, second);
      const enrolA = await s.agent.submit(s.page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const keyA = keyFromPage(enrolA);
      const afterA = await s.agent.submit(enrolA, '/enrol/verify', { code: await codeNow(keyA, clock) });
      const chooser = await s.agent.submit(afterA, '/setup', {}, { button: 'Setup' });
      expect(chooser.$('h1').text()).to.equal('Set up another method');
      const enrolB = await s.agent.submit(chooser, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
      const keyB = keyFromPage(enrolB);
      expect(keyB).to.not.equal(keyA);
      const afterB = await s.agent.submit(enrolB, '/enrol/verify', { code: await codeNow(keyB, clock) });
      expect(afterB.$('.added li')).to.have.length(2);
      await finishAndExchange(client, s, afterB);
      const factors = (await server.services.factors.list(second.account.id)).filter((f) => f.type === 'totp');
      expect(factors.map((f) => f.preferred)).to.deep.equal([true, false]);

      clock.advance(30);
      const again = await startSignIn(client, second);
      expect(buttons(again.page)).to.include('Use another method');
      // The challenge is for the preferred app (A): B's code does not pass it.
      const bWrongPlace = await submitChallenge(again.agent, again.page, await codeNow(keyB, clock));
      expect(bWrongPlace.status).to.equal(400);
      const methods = await again.agent.submit(bWrongPlace, '/methods', {}, { button: 'Use another method' });
      const listed = methods.$('form[action$="/methods/choose"] input[name=factor]').map((_, el) => methods.$(el).attr('value')).get();
      // Both apps, then the recovery codes that came with the first one.
      const recovery = (await server.services.factors.list(second.account.id)).find((f) => f.type === 'recovery')!;
      expect(listed).to.deep.equal([...factors.map((f) => f.id), recovery.id]);
      const challengeB = await again.agent.submit(methods, '/methods/choose', { factor: factors[1]!.id });
      // Now A's code does not pass B's challenge, and B's does.
      const aWrongPlace = await submitChallenge(again.agent, challengeB, await currentTotp(keyA, clock.now() + 30_000));
      expect(aWrongPlace.status).to.equal(400);
      const done = await submitChallenge(again.agent, aWrongPlace, await codeNow(keyB, clock));
      const claims = (await exchange(client, again.auth, done.redirectedTo!)).claims()!;
      expect([claims.acr, claims.amr]).to.deep.equal(['mfa', ['pwd', 'otp', 'mfa']]);
    });

    it('setting up three apps in one sign-in, with typos, does not run out of attempts: only wrong codes use them up', async () => {
      const user = await createUser(server, name('three-apps'));
      const s = await startSignIn(client, user);
      let page = s.page;
      for (const [i, typos] of [2, 2, 0].entries()) {
        if (i > 0) page = await s.agent.submit(page, '/setup', {}, { button: 'Setup' });
        const enrol = await s.agent.submit(page, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
        const key = keyFromPage(enrol);
        page = enrol;
        for (let t = 0; t < typos; t++) {
          page = await s.agent.submit(page, '/enrol/verify', { code: await wrongCode(key, clock) });
          expect(page.status, textOf(page)).to.equal(400);
        }
        page = await s.agent.submit(page, '/enrol/verify', { code: await codeNow(key, clock) });
        expect(page.status, `app ${i + 1}: ${textOf(page).slice(0, 200)}`).to.equal(200);
        expect(page.$('.added li'), `app ${i + 1}`).to.have.length(i + 1);
      }
      await finishAndExchange(client, s, page);
      expect((await server.services.factors.list(user.account.id)).filter((f) => f.type === 'totp')).to.have.length(3);
    });

    it('a factor id from another account cannot be chosen under "Use another method"', async () => {
      const alice = await userWithTotp(server, client, clock, name('choose-a'));
      const bob = await userWithTotp(server, client, clock, name('choose-b'));
      const aliceFactor = (await server.services.factors.list(alice.account.id))[0]!;
      const b = await startSignIn(client, bob);
      const res = await b.agent.post(`${server.issuer}/interaction/${uidOf(b.page)}/methods/choose`, { _csrf: b.page.$('input[name=_csrf]').first().attr('value')!, factor: aliceFactor.id });
      expect(res.status).to.equal(400);
      await res.body?.cancel();
      // Alice's code still does not pass Bob's challenge.
      const page = await b.agent.open(b.page.url);
      const forged = await submitChallenge(b.agent, page, await nextCode(alice.secret, clock));
      expect(forged.status).to.equal(400);
    });
  });
});
