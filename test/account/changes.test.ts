// The account page's change routes as an attacker and a careless user meet them: no form token,
// another session's token, a GET instead of a POST, a session whose second factor is too old
// (checklist items 27 and 30). Then the changes themselves, through the real forms: adding SMS,
// preferring it, renaming, removing the authenticator app, and keeping the last method while the
// policy requires one.
import { expect } from 'chai';
import { Agent, textOf, type Page } from '../support/agent.js';
import { createUser } from '../support/oidc.js';
import { startSignIn, submitChallenge } from '../support/mfa.js';
import { accountRoutes } from '../../src/account/routes.js';
import { signOutKey } from '../../src/account/service.js';
import { NUMBER } from '../phone/helpers.js';
import {
  accountUrl,
  factorId,
  factorsOf,
  isFresh,
  openAccount,
  startAccountRig,
  stepUp,
  completeStepUp,
  userWithApp,
  type AccountRig,
  type AccountUser,
} from './helpers.js';

const csrfOf = (page: Page): string => {
  const token = page.$('input[name=_csrf]').first().attr('value');
  if (!token) throw new Error(`no form token on ${page.url}: ${textOf(page).slice(0, 300)}`);
  return token;
};

/** Everything a change could touch, read from the real stores. */
async function snapshot(rig: AccountRig, user: AccountUser) {
  const s = rig.server.services;
  const account = await s.accounts.findById(user.accountId);
  const codes = await s.db.kysely.selectFrom('recovery_codes').select(['digest', 'used_at']).where('account_id', '=', user.accountId).orderBy('digest').execute();
  return {
    factors: await factorsOf(rig, user.accountId),
    passwordHash: account!.passwordHash,
    codes,
    signedOut: (await s.store.getJson(signOutKey(user.accountId))) ?? null,
    texts: rig.vonage.sms.length,
  };
}

describe('account page: every change needs the form token, a POST and a recent second factor', function () {
  this.timeout(60_000);
  let rig: AccountRig;
  let user: AccountUser;
  let other: AccountUser;

  before(async () => {
    rig = await startAccountRig();
    user = await userWithApp(rig, 'csrf-user', { email: 'csrf@example.com' });
    other = await userWithApp(rig, 'csrf-other');
  });
  after(() => rig?.close());

  /** Every POST route on the account page, with a body that would change something if the form token were right. */
  async function changeRoutes(): Promise<Array<{ path: string; form: Record<string, string> }>> {
    const totp = await factorId(rig, user.accountId, 'totp');
    return [
      { path: `/factors/${totp}/rename`, form: { name: 'Renamed' } },
      { path: `/factors/${totp}/preferred`, form: {} },
      { path: `/factors/${totp}/remove`, form: {} },
      { path: '/password', form: { current: user.password, password: 'a brand new password', confirm: 'a brand new password' } },
      { path: '/sessions/sign-out-others', form: {} },
      { path: '/enrol', form: { method: 'sms' } },
      { path: '/enrol/action', form: { action: 'send', phone: NUMBER } },
      { path: '/enrol/verify', form: { code: '123456' } },
      { path: '/enrol/cancel', form: {} },
      { path: '/recovery/regenerate', form: {} },
      { path: '/recovery/saved', form: {} },
      { path: '/sign-out', form: {} },
    ];
  }

  it('the test covers every POST route the account router has', async () => {
    const router = accountRoutes(rig.server.twofold.provider, rig.server.services, rig.server.twofold.views);
    const posts = router.stack.filter((layer) => layer.methods.includes('POST')).map((layer) => String(layer.path).replace(/^\/account/, '').replace(':id', 'ID'));
    const covered = (await changeRoutes()).map((r) => r.path.replace(/\/factors\/[^/]+\//, '/factors/ID/'));
    expect(posts.sort()).to.deep.equal([...covered].sort());
  });

  it('[item 30] refuses every change POSTed without the form token or with another session\'s (403), and nothing changes', async () => {
    let page = await openAccount(rig, user);
    expect(isFresh(page), textOf(page)).to.equal(true);
    // An SMS enrolment in progress, so the enrolment routes have something to act on.
    page = await user.agent.submit(page, '/account/enrol', { method: 'sms' }, { button: 'Text message (SMS)' });
    expect(page.url).to.equal(accountUrl(rig, '/enrol'));
    const otherToken = csrfOf(await openAccount(rig, other));
    const before = await snapshot(rig, user);

    for (const { path, form } of await changeRoutes()) {
      for (const token of [undefined, '', otherToken, `${otherToken.slice(0, -1)}x`]) {
        const body = token === undefined ? form : { ...form, _csrf: token };
        const res = await user.agent.post(accountUrl(rig, path), body);
        expect(res.status, `${path} with token ${JSON.stringify(token)}`).to.equal(403);
        expect(await res.text()).to.include('This form has expired');
      }
    }
    expect(await snapshot(rig, user)).to.deep.equal(before);
    // The enrolment is still in progress (cancel was refused too), and the user is still signed in.
    page = await user.agent.open(accountUrl(rig, '/enrol'));
    expect(page.url).to.equal(accountUrl(rig, '/enrol'));
    expect(page.$('label[for=phone]').text()).to.equal('Phone number');
    page = await user.agent.open(accountUrl(rig));
    expect(textOf(page)).to.include('Signed in as csrf-user');
  });

  it('[item 30] a GET on a change route changes nothing', async () => {
    await openAccount(rig, user);
    const before = await snapshot(rig, user);
    for (const { path, form } of await changeRoutes()) {
      const query = new URLSearchParams({ ...form, _csrf: csrfOf(await user.agent.open(accountUrl(rig))) });
      const res = await user.agent.get(`${accountUrl(rig, path)}?${query}`);
      await res.body?.cancel();
      // GET /account/enrol shows the enrolment screen; every other address takes only POST.
      if (path === '/enrol') expect([200, 303], `GET ${path}`).to.include(res.status);
      else {
        expect(res.status, `GET ${path}`).to.equal(405);
        expect(res.headers.get('allow')).to.equal('POST');
      }
    }
    expect(await snapshot(rig, user)).to.deep.equal(before);
  });

  it('[item 27] a session whose second factor is older than mfa.stepUpMinutes is sent through the challenge before any change', async () => {
    let page = await openAccount(rig, user);
    expect(isFresh(page)).to.equal(true);
    const token = csrfOf(page);
    rig.clock.advance(rig.server.config.mfa.stepUpMinutes * 60 + 1);

    page = await user.agent.open(accountUrl(rig));
    expect(isFresh(page), 'no change forms on a stale page').to.equal(false);
    expect(textOf(page)).to.include('Confirm it’s you');
    const before = await snapshot(rig, user);
    for (const { path, form } of await changeRoutes()) {
      if (['/sign-out', '/enrol/cancel', '/recovery/saved'].includes(path)) continue; // not changes to the account
      const res = await user.agent.post(accountUrl(rig, path), { ...form, _csrf: token });
      expect(res.status, path).to.equal(303);
      expect(res.headers.get('location'), path).to.equal('/account/step-up');
      await res.body?.cancel();
    }
    expect(await snapshot(rig, user)).to.deep.equal(before);

    // The step-up is a real sign-in that asks for the second factor (and, the session being older
    // than max_age, the password too); a wrong code does not get through.
    page = await user.agent.open(accountUrl(rig, '/step-up'));
    if (page.$('form[action$="/login"]').length) page = await user.agent.submit(page, '/login', { username: user.username, password: user.password });
    expect(page.$('label[for=code]').text(), textOf(page)).to.match(/^Code/);
    const refused = await submitChallenge(user.agent, page, '000000');
    expect(refused.status).to.equal(400);
    page = await completeStepUp(rig, user, refused);
    const renamed = await user.agent.submit(page, `/factors/${await factorId(rig, user.accountId, 'totp')}/rename`, { name: 'Work phone app' });
    expect(textOf(renamed)).to.include('Renamed.');
    expect((await factorsOf(rig, user.accountId)).find((f) => f.type === 'totp')!.name).to.equal('Work phone app');
  });

  it('[item 27] a session signed in with the password only must pass the second factor before a change', async () => {
    const agent = new Agent();
    let page = await agent.open(accountUrl(rig));
    page = await agent.submit(page, '/login', { username: user.username, password: user.password });
    expect(page.url).to.equal(accountUrl(rig));
    expect(isFresh(page)).to.equal(false);
    const res = await agent.post(accountUrl(rig, '/password'), { _csrf: csrfOf(page), current: user.password, password: 'another new password', confirm: 'another new password' });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.equal('/account/step-up');
    page = await agent.open(accountUrl(rig, '/step-up'));
    if (page.$('form[action$="/login"]').length) page = await agent.submit(page, '/login', { username: user.username, password: user.password });
    expect(page.$('label[for=code]').text(), textOf(page)).to.match(/^Code/);
    page = await completeStepUp(rig, user, page, agent);
    expect(isFresh(page)).to.equal(true);
  });
});

describe('account page: the sign-in callback', function () {
  this.timeout(30_000);
  let rig: AccountRig;
  before(async () => {
    rig = await startAccountRig();
  });
  after(() => rig?.close());

  it('answers a callback it did not start, an error, or a forged code with a 400 page, never a 500, and opens no session', async () => {
    const agent = new Agent();
    const stray = await agent.get(accountUrl(rig, '/callback?code=abc&state=def'));
    expect(stray.status).to.equal(400);
    expect(await stray.text()).to.include('Open the account page to try again');
    // A pending sign-in, then a callback with the right state but a code Twofold never issued.
    const start = await agent.get(accountUrl(rig, '/login'));
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const forged = await agent.get(accountUrl(rig, `/callback?code=forged-code&state=${encodeURIComponent(state)}`));
    expect(forged.status).to.equal(400);
    await forged.body?.cancel();
    // A callback whose state is not the one this browser sent (login CSRF).
    await (await agent.get(accountUrl(rig, '/login'))).body?.cancel();
    const crossed = await agent.get(accountUrl(rig, `/callback?code=abc&state=${encodeURIComponent(state)}`));
    expect(crossed.status).to.equal(400);
    await crossed.body?.cancel();
    const errored = await agent.get(accountUrl(rig, '/login'));
    const state2 = new URL(errored.headers.get('location')!).searchParams.get('state')!;
    const denied = await agent.get(accountUrl(rig, `/callback?error=access_denied&error_description=the+user+cancelled&state=${encodeURIComponent(state2)}`));
    expect(denied.status).to.equal(400);
    expect(await denied.text()).to.include('the user cancelled');
    const page = await agent.get(accountUrl(rig));
    expect(page.status, 'still signed out: the page starts a sign-in').to.equal(303);
    await page.body?.cancel();
  });
});

describe('account page: managing sign-in methods', function () {
  this.timeout(60_000);
  let rig: AccountRig;

  before(async () => {
    rig = await startAccountRig();
  });
  after(() => rig?.close());

  /** Adds SMS through the account page's enrolment screens; returns the account page. */
  async function addSms(user: AccountUser, page: Page): Promise<Page> {
    page = await user.agent.submit(page, '/account/enrol', { method: 'sms' }, { button: 'Text message (SMS)' });
    expect(page.url).to.equal(accountUrl(rig, '/enrol'));
    expect(page.$('label[for=phone]').text()).to.equal('Phone number');
    expect(textOf(page)).to.include('Text and data rates may apply.');
    const texts = rig.vonage.sms.length;
    page = await user.agent.submit(page, '/enrol/action', { phone: NUMBER });
    expect(rig.vonage.sms.length, textOf(page)).to.equal(texts + 1);
    expect(textOf(page)).to.include('We sent a code to');
    // A wrong code binds nothing.
    const wrong = rig.vonage.lastSmsCode() === '000000' ? '000001' : '000000';
    const refused = await user.agent.submit(page, '/enrol/verify', { code: wrong });
    expect(refused.status).to.equal(400);
    expect(textOf(refused)).to.include("That code didn't work");
    expect((await factorsOf(rig, user.accountId)).map((f) => f.type)).to.not.include('sms');
    page = await user.agent.submit(refused, '/enrol/verify', { code: rig.vonage.lastSmsCode() });
    expect(page.url).to.equal(accountUrl(rig));
    expect(textOf(page)).to.include('Text message (SMS) is set up.');
    return page;
  }

  it('adds SMS, makes it preferred (the next sign-in texts a code first), renames it and removes the authenticator app', async () => {
    const user = await userWithApp(rig, 'manager', { email: 'manager@example.com' });
    let page = await openAccount(rig, user);
    page = await addSms(user, page);
    let factors = await factorsOf(rig, user.accountId);
    expect(factors.map((f) => [f.type, f.preferred])).to.deep.equal([['recovery', false], ['sms', false], ['totp', true]]);
    const smsId = await factorId(rig, user.accountId, 'sms');
    // The page lists the text-message method with the number masked, never in the clear.
    expect(textOf(page)).to.include('Text message (SMS)').and.include('+1 ••• ••• 0123');
    expect(page.html).to.not.include('2025550123').and.not.include('555 0123');

    page = await user.agent.submit(page, `/factors/${smsId}/preferred`);
    expect(textOf(page)).to.include('Your preferred method is changed');
    factors = await factorsOf(rig, user.accountId);
    expect(factors.find((f) => f.type === 'sms')!.preferred).to.equal(true);
    expect(factors.find((f) => f.type === 'totp')!.preferred).to.equal(false);

    // The next sign-in (another browser) starts with a text message.
    const texts = rig.vonage.sms.length;
    const signIn = await startSignIn(rig.client, user);
    expect(rig.vonage.sms.length, textOf(signIn.page)).to.equal(texts + 1);
    expect(textOf(signIn.page)).to.include('We sent a text message with a 6-digit code to +1 ••• ••• 0123');

    // Rename: the name is checked, then kept.
    page = await user.agent.open(accountUrl(rig));
    let refused = await user.agent.submit(page, `/factors/${smsId}/rename`, { name: '   ' });
    expect(textOf(refused)).to.include('Give the method a name.');
    refused = await user.agent.submit(refused, `/factors/${smsId}/rename`, { name: 'x'.repeat(61) });
    expect(textOf(refused)).to.include('under 60 characters');
    page = await user.agent.submit(refused, `/factors/${smsId}/rename`, { name: 'My phone' });
    expect(textOf(page)).to.include('Renamed.').and.include('My phone');

    // Remove the authenticator app: gone from the page, the store and the next sign-in.
    const totpId = await factorId(rig, user.accountId, 'totp');
    page = await user.agent.submit(page, `/factors/${totpId}/remove`, {}, { button: 'Remove Authenticator app' });
    expect(textOf(page)).to.include('Removed.');
    expect(textOf(page)).to.include('sign out your other sessions');
    factors = await factorsOf(rig, user.accountId);
    expect(factors.map((f) => f.type)).to.deep.equal(['recovery', 'sms']);
    expect(page.$(`form[action="/account/factors/${totpId}/remove"]`).length).to.equal(0);
  });

  it('refuses changes to another user\'s factor: the id in the address is checked against the signed-in account', async () => {
    const owner = await userWithApp(rig, 'owner');
    const intruder = await userWithApp(rig, 'intruder');
    const victimFactor = await factorId(rig, owner.accountId, 'totp');
    const before = await factorsOf(rig, owner.accountId);
    const page = await openAccount(rig, intruder);
    const token = csrfOf(page);
    for (const action of ['rename', 'preferred', 'remove']) {
      const res = await intruder.agent.post(accountUrl(rig, `/factors/${victimFactor}/${action}`), { _csrf: token, name: 'mine now' });
      expect(res.status).to.equal(303);
      const shown = await intruder.agent.open(accountUrl(rig));
      expect(textOf(shown)).to.include('That method is not set up on this account.');
    }
    expect(await factorsOf(rig, owner.accountId)).to.deep.equal(before);
  });

  it('odd factor ids and names (NUL bytes, control characters, 10 kB) are refused with a reason, never a 500, also on PostgreSQL', async () => {
    const pg = await startAccountRig({ db: 'postgres' });
    try {
      const user = await userWithApp(pg, 'odd-input');
      const totp = await factorId(pg, user.accountId, 'totp');
      const page = await openAccount(pg, user);
      const token = csrfOf(page);
      for (const id of ['a%00b', encodeURIComponent('x'.repeat(10_000)), '..%2F..%2Fetc', `${totp}%00`]) {
        for (const action of ['rename', 'preferred', 'remove']) {
          const res = await user.agent.post(accountUrl(pg, `/factors/${id}/${action}`), { _csrf: token, name: 'fine' });
          expect(res.status, `${action} ${id.slice(0, 20)}`).to.be.oneOf([303, 404]);
          await res.body?.cancel();
        }
      }
      for (const [name, reason] of [['a\u0000b', 'Use letters'], ['tab\there', 'Use letters'], ['x'.repeat(10_000), 'under 60 characters']] as const) {
        const res = await user.agent.post(accountUrl(pg, `/factors/${totp}/rename`), { _csrf: token, name });
        expect(res.status).to.equal(303);
        await res.body?.cancel();
        expect(textOf(await user.agent.open(accountUrl(pg)))).to.include(reason);
      }
      expect((await factorsOf(pg, user.accountId)).find((f) => f.type === 'totp')!.name).to.equal('Authenticator app');
    } finally {
      await pg.close();
    }
  });

  it('keeps the last sign-in method while the policy requires a second factor for everyone, and says why', async () => {
    await rig.server.services.policy.set({ requireMfa: 'all' });
    try {
      const user = await userWithApp(rig, 'only-app');
      const totpId = await factorId(rig, user.accountId, 'totp');
      let page = await openAccount(rig, user);
      page = await user.agent.submit(page, `/factors/${totpId}/remove`, {}, { button: 'Remove Authenticator app' });
      expect(textOf(page)).to.include('This is your only sign-in method');
      expect((await factorsOf(rig, user.accountId)).map((f) => f.type)).to.include('totp');
      // Recovery codes do not count as a second method: they cannot be the reason the app may go.
      const recoveryId = await factorId(rig, user.accountId, 'recovery');
      expect(recoveryId).to.be.a('string');
      page = await user.agent.submit(page, `/factors/${totpId}/remove`, {}, { button: 'Remove Authenticator app' });
      expect(textOf(page)).to.include('This is your only sign-in method');

      // With a second method, the app can go.
      page = await addSms(user, page);
      page = await user.agent.submit(page, `/factors/${totpId}/remove`, {}, { button: 'Remove Authenticator app' });
      expect(textOf(page)).to.include('Removed.');
      expect((await factorsOf(rig, user.accountId)).map((f) => f.type)).to.deep.equal(['recovery', 'sms']);
      // ...and now SMS is the last one.
      const smsId = await factorId(rig, user.accountId, 'sms');
      page = await user.agent.submit(page, `/factors/${smsId}/remove`, {}, { button: 'Remove Text message (SMS)' });
      expect(textOf(page)).to.include('This is your only sign-in method');
    } finally {
      await rig.server.services.policy.set({ requireMfa: 'per-client' });
    }
  });

  it('a factor added on the account page signs in on its own (the new phone was bound only after its code verified)', async () => {
    const user = await userWithApp(rig, 'bound');
    let page = await openAccount(rig, user);
    page = await addSms(user, page);
    const smsId = await factorId(rig, user.accountId, 'sms');
    page = await user.agent.submit(page, `/factors/${smsId}/preferred`);
    const signIn = await startSignIn(rig.client, user, {}, new Agent());
    const done = await submitChallenge(signIn.agent, signIn.page, rig.vonage.lastSmsCode());
    expect(done.redirectedTo, textOf(done)).to.match(/^https:\/\/rp\.example\.com\/callback/);
  });

  it('adding a method takes one attempt per code like any challenge: five wrong codes end that enrolment', async () => {
    const user = await userWithApp(rig, 'fumbler');
    let page = await openAccount(rig, user);
    page = await user.agent.submit(page, '/account/enrol', { method: 'sms' }, { button: 'Text message (SMS)' });
    page = await user.agent.submit(page, '/enrol/action', { phone: NUMBER });
    const right = rig.vonage.lastSmsCode();
    const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
    const { challengeMaxFailures } = rig.server.config.mfa;
    for (let i = 0; i < challengeMaxFailures - 1; i++) {
      page = await user.agent.submit(page, '/enrol/verify', { code: wrong(i) });
      expect(page.status, textOf(page)).to.equal(400);
    }
    page = await user.agent.submit(page, '/enrol/verify', { code: wrong(challengeMaxFailures) });
    expect(page.url).to.equal(accountUrl(rig));
    expect(textOf(page)).to.include('Too many wrong codes for this method. Start adding it again.');
    // The enrolment is over: the right code binds nothing now.
    const late = await user.agent.post(accountUrl(rig, '/enrol/verify'), { _csrf: csrfOf(page), code: right });
    expect(late.status).to.equal(303);
    await late.body?.cancel();
    expect((await factorsOf(rig, user.accountId)).map((f) => f.type)).to.not.include('sms');
    // Starting again gives a new enrolment with its own attempts, under the account-wide count.
    page = await addSms(user, page);
    expect((await factorsOf(rig, user.accountId)).map((f) => f.type)).to.include('sms');
  });

  it('a user without a factor adds the first one through the step-up itself', async () => {
    const user = await createUser(rig.server, 'newcomer');
    const agent = new Agent();
    let page = await agent.open(accountUrl(rig));
    page = await agent.submit(page, '/login', { username: user.username, password: user.password });
    expect(textOf(page)).to.include('You have no second sign-in step yet.');
    page = await agent.open(accountUrl(rig, '/step-up'));
    // Binding a first factor needs the password just entered: the chooser comes right after it.
    if (page.$('form[action$="/login"]').length) page = await agent.submit(page, '/login', { username: user.username, password: user.password });
    expect(page.$('form[action$="/enrol"]').length, textOf(page)).to.be.greaterThan(0);
  });
});
