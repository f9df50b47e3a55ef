// Security notices reach a real SMTP server (in this process) exactly once per event: a factor
// added, removed or reset by an administrator, a recovery code used, the password changed
// (checklist item 29), and the right password followed by a failed second factor (item 37). Each
// says what happened, when, from where and what to do; none carries a code or a secret.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Agent, textOf } from '../support/agent.js';
import { createUser, registerClient } from '../support/oidc.js';
import { enrolTotpOnPage, finishAndExchange, nextCode, startSignIn, submitChallenge, wrongCode } from '../support/mfa.js';
import { ADMIN_PREFIX } from '../../src/admin/routes.js';
import { E164, NUMBER } from '../phone/helpers.js';
import { accountUrl, codesOn, factorId, openAccount, startAccountRig, stepUp, type AccountRig, type AccountUser } from '../account/helpers.js';
import { TestSmtp, type ReceivedMail } from './smtp.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FROM = 'Twofold Security <security@example.com>';

describe('security notices by mail (items 29 and 37)', function () {
  this.timeout(60_000);
  let smtp: TestSmtp;
  let rig: AccountRig;
  let started: number;
  const secrets = new Set<string>();
  const codes = new Set<string>();

  const browser = () => new Agent({ 'user-agent': CHROME });

  /** The mails to `address` that an action caused, once every listener has finished. */
  async function mailsFrom(address: string, action: () => Promise<unknown>): Promise<ReceivedMail[]> {
    const before = smtp.to(address).length;
    await action();
    await rig.server.services.events.settle();
    return smtp.to(address).slice(before);
  }

  /** A notice as a person reads it: what happened, when, from where, what to do. */
  function checkNotice(mail: ReceivedMail, expected: { to: string; subject: string; what: RegExp; where: RegExp }) {
    expect(mail.to).to.deep.equal([expected.to]);
    expect(mail.headers.from).to.include('security@example.com');
    expect(mail.subject).to.equal(expected.subject);
    expect(mail.text).to.match(expected.what);
    const when = /^When: (.+)$/m.exec(mail.text)?.[1];
    expect(when, mail.text).to.be.a('string');
    expect(Date.parse(when!)).to.be.within(Math.floor(started / 1000) * 1000, Date.now());
    expect(/^Where: (.+)$/m.exec(mail.text)?.[1], mail.text).to.match(expected.where);
    expect(mail.text).to.include(`Change your password now at ${rig.server.issuer}/account`);
    expect(mail.text).to.include('Sign out other sessions');
    expect(mail.text).to.include('If this was you, there is nothing to do.');
  }

  const fromHere = /^from the IP address (::ffff:)?127\.0\.0\.1 \(Chrome on Linux\)$/;

  /** A user with an email address who set up an authenticator app at sign-in (in a Chrome). */
  async function userWithApp(username: string): Promise<AccountUser & { email: string; enrolMails: ReceivedMail[] }> {
    const email = `${username}@example.com`;
    const user = await createUser(rig.server, username, undefined, { email });
    secrets.add(user.password);
    const agent = browser();
    let secret = '';
    let recoveryCodes: string[] = [];
    const enrolMails = await mailsFrom(email, async () => {
      const start = await startSignIn(rig.client, user, {}, agent);
      const enrolled = await enrolTotpOnPage(agent, start.page, rig.clock);
      secret = enrolled.secret;
      recoveryCodes = codesOn(enrolled.page);
      await finishAndExchange(rig.client, start, enrolled.page);
    });
    rig.clock.advance(30);
    secrets.add(secret);
    recoveryCodes.forEach((c) => secrets.add(c));
    return { username, password: user.password, accountId: user.account.id, secret, recoveryCodes, agent, email, enrolMails };
  }

  before(async () => {
    smtp = await new TestSmtp().start();
    rig = await startAccountRig({ config: { mail: { smtpUrl: smtp.url, from: FROM } } });
    started = Date.now();
  });
  after(async () => {
    await rig?.close();
    await smtp?.stop();
  });

  it('[item 29] a factor added, at sign-in and on the account page: one notice each', async () => {
    const user = await userWithApp('added');
    expect(user.enrolMails).to.have.length(1);
    checkNotice(user.enrolMails[0]!, { to: user.email, subject: 'A sign-in method was added to your account', what: /An authenticator app was added as a second step/, where: fromHere });

    let page = await stepUp(rig, user);
    const mails = await mailsFrom(user.email, async () => {
      page = await user.agent.submit(page, '/account/enrol', { method: 'sms' }, { button: 'Text message (SMS)' });
      page = await user.agent.submit(page, '/enrol/action', { phone: NUMBER });
      const code = rig.vonage.lastSmsCode();
      codes.add(code);
      page = await user.agent.submit(page, '/enrol/verify', { code });
      expect(textOf(page)).to.include('is set up');
    });
    expect(mails).to.have.length(1);
    checkNotice(mails[0]!, { to: user.email, subject: 'A sign-in method was added to your account', what: /A phone for text messages was added as a second step/, where: fromHere });
  });

  it('[item 29] a factor removed on the account page: one notice', async () => {
    const user = await userWithApp('removed');
    const page = await openAccount(rig, user);
    const totp = await factorId(rig, user.accountId, 'totp');
    const refused = await mailsFrom(user.email, async () => {
      const res = await user.agent.post(accountUrl(rig, `/factors/${totp}/remove`), {});
      expect(res.status).to.equal(403);
    });
    expect(refused, 'a refused form sends nothing').to.have.length(0);
    const removed = await mailsFrom(user.email, () => user.agent.submit(page, `/factors/${totp}/remove`, {}, { button: 'Remove Authenticator app' }));
    expect(removed).to.have.length(1);
    checkNotice(removed[0]!, { to: user.email, subject: 'A sign-in method was removed from your account', what: /An authenticator app was removed from your account\. Your recovery codes were removed with it\./, where: fromHere });
  });

  it('[item 29] every factor reset by an administrator: one notice, from "an administrator"', async () => {
    const user = await userWithApp('reset');
    const admin = await registerClient(rig.server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
    const { access_token } = await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' });
    secrets.add(access_token).add(admin.secret!);
    const mails = await mailsFrom(user.email, async () => {
      const res = await fetch(`${rig.server.issuer}${ADMIN_PREFIX}/users/${user.username}/reset-mfa`, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'user-agent': CHROME } });
      expect(res.status).to.equal(200);
    });
    expect(mails).to.have.length(1);
    checkNotice(mails[0]!, { to: user.email, subject: 'Your second sign-in step was reset', what: /An administrator removed all second-step sign-in methods/, where: /^by an administrator$/ });
  });

  it('[item 29] a recovery code used: one notice, saying how many are left', async () => {
    const user = await userWithApp('recovered');
    const mails = await mailsFrom(user.email, async () => {
      const agent = browser();
      const start = await startSignIn(rig.client, user, {}, agent);
      const screen = await agent.submit(start.page, '/methods/choose', {}, { button: 'Use a recovery code' });
      const done = await submitChallenge(agent, screen, user.recoveryCodes[0]!);
      expect(done.redirectedTo, textOf(done)).to.be.a('string');
    });
    expect(mails).to.have.length(1);
    checkNotice(mails[0]!, { to: user.email, subject: 'A recovery code was used', what: /A recovery code was used to sign in to your account\. 9 unused codes remain\./, where: fromHere });
  });

  it('[item 29] the password changed, by the user or an administrator: one notice each', async () => {
    const user = await userWithApp('changed');
    let page = await openAccount(rig, user);
    const mails = await mailsFrom(user.email, async () => {
      page = await user.agent.submit(page, '/account/password', { current: user.password, password: 'a changed password', confirm: 'a changed password' });
      expect(textOf(page)).to.include('Your password is changed');
    });
    secrets.add('a changed password');
    expect(mails).to.have.length(1);
    checkNotice(mails[0]!, { to: user.email, subject: 'Your password was changed', what: /The password of your account was changed\. Your second sign-in step stays as it was\./, where: fromHere });

    const wrong = await mailsFrom(user.email, () => user.agent.submit(page, '/account/password', { current: 'not it at all', password: 'another password', confirm: 'another password' }));
    expect(wrong, 'a refused change is not a change').to.have.length(0);
    secrets.add('not it at all');

    const admin = await registerClient(rig.server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
    const { access_token } = await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' });
    secrets.add(access_token).add(admin.secret!).add('set by the administrator');
    const byAdmin = await mailsFrom(user.email, async () => {
      const res = await fetch(`${rig.server.issuer}${ADMIN_PREFIX}/users/${user.username}/password`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'set by the administrator' }),
      });
      expect(res.status).to.equal(204);
    });
    expect(byAdmin).to.have.length(1);
    checkNotice(byAdmin[0]!, { to: user.email, subject: 'Your password was changed', what: /The password of your account was changed/, where: /^by an administrator$/ });
  });

  it('[item 37] the right password then wrong codes: one notice for the burst, one for the lockout', async () => {
    const user = await userWithApp('attacked');
    const { lockoutThreshold, challengeMaxFailures } = rig.server.config.mfa;
    // Three wrong codes in one sign-in: one notice.
    let mails = await mailsFrom(user.email, async () => {
      const start = await startSignIn(rig.client, user, {}, browser());
      let page = start.page;
      for (let i = 0; i < 3; i++) {
        const code = await wrongCode(user.secret, rig.clock);
        codes.add(code);
        page = await submitChallenge(start.agent, page, code);
        expect(page.status).to.equal(400);
      }
    });
    expect(mails).to.have.length(1);
    checkNotice(mails[0]!, { to: user.email, subject: 'Someone entered your password but not your second step', what: /correct password, then entered a wrong code/, where: fromHere });

    // More wrong codes up to the lockout: the failures are already reported; the lockout is new.
    mails = await mailsFrom(user.email, async () => {
      for (let sent = 3; sent < lockoutThreshold; ) {
        const start = await startSignIn(rig.client, user, {}, browser());
        let page = start.page;
        for (let i = 0; i < challengeMaxFailures && sent < lockoutThreshold; i++, sent++) page = await submitChallenge(start.agent, page, await wrongCode(user.secret, rig.clock));
      }
    });
    expect(mails.map((m) => m.subject)).to.deep.equal(['Your second sign-in step is locked after too many wrong codes']);
    checkNotice(mails[0]!, { to: user.email, subject: 'Your second sign-in step is locked after too many wrong codes', what: /too many wrong codes/, where: fromHere });

    // A wrong password is not this notice (the attacker does not have the password).
    const other = await userWithApp('wrong-password');
    const none = await mailsFrom(other.email, () => startSignIn(rig.client, { username: other.username, password: 'a guessed password' }, {}, browser()));
    expect(none).to.have.length(0);
    // A right code sends nothing.
    const fine = await mailsFrom(other.email, async () => {
      const start = await startSignIn(rig.client, other, {}, browser());
      const code = await nextCode(other.secret, rig.clock);
      codes.add(code);
      await submitChallenge(start.agent, start.page, code);
    });
    expect(fine).to.have.length(0);
  });

  it('a user without an email address gets no notice, and the sign-in goes on', async () => {
    const user = await createUser(rig.server, 'no-mail');
    const before = smtp.mails.length;
    const start = await startSignIn(rig.client, user, {}, browser());
    const { page } = await enrolTotpOnPage(start.agent, start.page, rig.clock);
    await finishAndExchange(rig.client, start, page);
    await rig.server.services.events.settle();
    expect(smtp.mails.length).to.equal(before);
    expect(rig.server.logs.text).to.include('security notice not sent: the account has no email address');
  });

  it('no code or secret in any notice', async () => {
    expect(smtp.mails.length).to.be.at.least(9);
    for (const mail of smtp.mails) {
      const all = `${mail.raw}\n${mail.subject}\n${mail.text}`.toLowerCase();
      for (const secret of secrets) expect(all, mail.subject).to.not.include(secret.toLowerCase());
      for (const code of codes) expect(`${mail.subject}\n${mail.text}`, mail.subject).to.not.include(code);
      expect(all).to.not.include(E164.slice(1));
    }
  });
});
