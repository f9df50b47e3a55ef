// Changing the password and signing out other sessions from the account page, checked where it
// matters: at the next sign-in, at the token endpoint, and in the other browser.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Agent, textOf } from '../support/agent.js';
import { exchange } from '../support/oidc.js';
import { nextCode, startSignIn, submitChallenge } from '../support/mfa.js';
import { accountUrl, factorsOf, isFresh, openAccount, startAccountRig, stepUp, userWithApp, type AccountRig, type AccountUser } from './helpers.js';

/** Waits until the wall clock is in a later second (token times have one-second resolution). */
async function nextSecond(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === now) await new Promise((r) => setTimeout(r, 50));
}

describe('account page: password', function () {
  this.timeout(60_000);
  let rig: AccountRig;

  before(async () => {
    rig = await startAccountRig();
  });
  after(() => rig?.close());

  const passwordHash = async (user: AccountUser) => (await rig.server.services.accounts.findById(user.accountId))!.passwordHash;

  it('[item 31] refuses a wrong current password or a bad new one; a change keeps every second factor', async () => {
    const user = await userWithApp(rig, 'changer');
    const hash = await passwordHash(user);
    const factorsBefore = await factorsOf(rig, user.accountId);
    let page = await openAccount(rig, user);
    expect(isFresh(page)).to.equal(true);

    const cases: Array<[Record<string, string>, string]> = [
      [{ current: 'not my password', password: 'a new password here', confirm: 'a new password here' }, 'Your current password is not right.'],
      [{ current: '', password: 'a new password here', confirm: 'a new password here' }, 'Your current password is not right.'],
      [{ current: user.password, password: 'a new password here', confirm: 'a new password there' }, 'The new passwords do not match.'],
      [{ current: user.password, password: 'short', confirm: 'short' }, 'at least 8 characters'],
      [{ current: user.password, password: user.password, confirm: user.password }, 'different from the current one'],
    ];
    for (const [form, message] of cases) {
      page = await user.agent.submit(page, '/account/password', form);
      expect(textOf(page), JSON.stringify(form)).to.include(message);
      expect(await passwordHash(user)).to.equal(hash);
    }

    page = await user.agent.submit(page, '/account/password', { current: user.password, password: 'the new password 2', confirm: 'the new password 2' });
    expect(textOf(page)).to.include('Your password is changed');
    expect(page.$('form[action="/account/sessions/sign-out-others"]').length, 'offers to sign out other sessions').to.equal(1);
    expect(await passwordHash(user)).to.not.equal(hash);
    expect(await factorsOf(rig, user.accountId)).to.deep.equal(factorsBefore);

    // The old password no longer signs in; the new one does, and the second factor is still asked.
    const old = await startSignIn(rig.client, user);
    expect(old.page.status).to.equal(401);
    const fresh = await startSignIn(rig.client, { username: user.username, password: 'the new password 2' });
    expect(fresh.page.$('label[for=code]').text(), textOf(fresh.page)).to.match(/^Code/);
    const done = await submitChallenge(fresh.agent, fresh.page, await nextCode(user.secret, rig.clock));
    const tokens = await exchange(rig.client, fresh.auth, done.redirectedTo!);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
  });

  it('counts wrong current passwords like failed sign-ins: the throttle stops guessing, even with the right one', async () => {
    const user = await userWithApp(rig, 'guesser');
    const hash = await passwordHash(user);
    let page = await openAccount(rig, user);
    const limit = rig.server.config.signIn.maxFailuresPerAccount;
    for (let i = 0; i < limit; i++) {
      page = await user.agent.submit(page, '/account/password', { current: `guess number ${i}`, password: 'a new password here', confirm: 'a new password here' });
      expect(textOf(page)).to.include('Your current password is not right.');
    }
    page = await user.agent.submit(page, '/account/password', { current: user.password, password: 'a new password here', confirm: 'a new password here' });
    expect(textOf(page)).to.include('Too many failed');
    expect(await passwordHash(user)).to.equal(hash);
  });
});

describe('account page: sign out other sessions', function () {
  this.timeout(60_000);
  let rig: AccountRig;

  before(async () => {
    rig = await startAccountRig();
  });
  after(() => rig?.close());

  it('[item 29] ends the other browser\'s SSO session, refresh token and account page; this browser stays signed in', async () => {
    const user = await userWithApp(rig, 'traveller');
    const here = user.agent;
    // This browser: tokens for the relying party over its SSO session.
    const mine = await startSignIn(rig.client, user, {}, here);
    expect(mine.page.redirectedTo, textOf(mine.page)).to.be.a('string');
    const myTokens = await exchange(rig.client, mine.auth, mine.page.redirectedTo!);

    // The other browser: a full sign-in, tokens, and the account page open.
    const there = new Agent();
    const theirs = await startSignIn(rig.client, user, {}, there);
    const theirDone = await submitChallenge(there, theirs.page, await nextCode(user.secret, rig.clock));
    const theirTokens = await exchange(rig.client, theirs.auth, theirDone.redirectedTo!);
    expect(theirTokens.refresh_token).to.be.a('string');
    expect(isFresh(await openAccount(rig, user, there))).to.equal(true);
    await nextSecond();

    let page = await stepUp(rig, user, here);
    page = await here.submit(page, '/account/sessions/sign-out-others');
    expect(textOf(page)).to.include('Your other sessions are signed out');

    // There: the relying party's next sign-in asks for the password again...
    const again = await startSignIn(rig.client, { username: '', password: '' }, {}, there);
    expect(again.page.$('label[for=username]').text(), textOf(again.page)).to.equal('Username');
    // ...its refresh token and access token stop working...
    let refused: unknown;
    try {
      await oidc.refreshTokenGrant(rig.client.rp, theirTokens.refresh_token!);
    } catch (err) {
      refused = err;
    }
    expect((refused as { error?: string })?.error, String(refused)).to.equal('invalid_grant');
    const userinfo = await fetch(`${rig.server.issuer}/me`, { headers: { authorization: `Bearer ${theirTokens.access_token}` } });
    expect(userinfo.status).to.equal(401);
    // ...and its account page signs in afresh.
    const theirAccount = await there.open(accountUrl(rig));
    expect(theirAccount.$('label[for=username]').text(), textOf(theirAccount)).to.equal('Username');

    // Here: still signed in everywhere.
    const mineAgain = await startSignIn(rig.client, user, {}, here);
    expect(mineAgain.page.redirectedTo, textOf(mineAgain.page)).to.match(/^https:\/\/rp\.example\.com\/callback/);
    const refreshed = await oidc.refreshTokenGrant(rig.client.rp, myTokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string');
    page = await here.open(accountUrl(rig));
    expect(page.url).to.equal(accountUrl(rig));
    expect(textOf(page)).to.include('Signed in as traveller');

    // The other browser can sign in again, with both factors.
    const password = await there.submit(again.page, '/login', { username: user.username, password: user.password }, { stopAt: (l) => l.startsWith('https://rp.example.com/') });
    const backDone = await submitChallenge(there, password, await nextCode(user.secret, rig.clock));
    expect(backDone.redirectedTo, textOf(backDone)).to.match(/^https:\/\/rp\.example\.com\/callback/);
    const backTokens = await exchange(rig.client, again.auth, backDone.redirectedTo!);
    expect((await oidc.refreshTokenGrant(rig.client.rp, backTokens.refresh_token!)).access_token).to.be.a('string');
  });
});
