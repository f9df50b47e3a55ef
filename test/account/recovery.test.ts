// Recovery codes (checklist item 31): made with the first factor and shown once on the Setup /
// Finish screen with download and print, at least 64 bits each, stored only as keyed hashes,
// single use (also under 20 parallel submissions), throttled with the account's other codes, and
// renewed from the account page (the old set dies). Signing in with one gives amr [pwd, otp, mfa].
import { expect } from 'chai';
import { Agent, formOf, textOf, type Page } from '../support/agent.js';
import { createUser, exchange, isCallback } from '../support/oidc.js';
import { enrolTotpOnPage, failureState, finishAndExchange, startSignIn, submitChallenge, uidOf } from '../support/mfa.js';
import { accountUrl, codesOn, openAccount, startAccountRig, userWithApp, type AccountRig, type AccountUser } from './helpers.js';

/** From the password onwards: the challenge, "Use a recovery code", the recovery code screen. */
async function recoveryScreen(rig: AccountRig, user: { username: string; password: string }, agent = new Agent()) {
  const start = await startSignIn(rig.client, user, {}, agent);
  expect(start.page.$('label[for=code]').text(), textOf(start.page)).to.match(/^Code/);
  const page = await agent.submit(start.page, '/methods/choose', {}, { button: 'Use a recovery code' });
  expect(textOf(page), 'the recovery code screen').to.include('Enter one of the recovery codes');
  expect(page.$('label[for=code]').text()).to.match(/^Code/);
  return { ...start, page };
}

/** Signs in with a recovery code; returns the page after Verify (the callback when it worked). */
async function useRecoveryCode(rig: AccountRig, user: { username: string; password: string }, code: string) {
  const screen = await recoveryScreen(rig, user);
  const done = await submitChallenge(screen.agent, screen.page, code);
  return { ...screen, done };
}

async function storedCodes(rig: AccountRig, accountId: string) {
  return rig.server.services.db.kysely.selectFrom('recovery_codes').selectAll().where('account_id', '=', accountId).execute();
}

describe('recovery codes', function () {
  this.timeout(60_000);
  let rig: AccountRig;

  before(async () => {
    rig = await startAccountRig();
  });
  after(() => rig?.close());

  it('[item 31] are shown once on the Setup / Finish screen with Download and Print, and nothing there blocks Finish', async () => {
    const user = await createUser(rig.server, 'shown-once');
    const start = await startSignIn(rig.client, user);
    const { page } = await enrolTotpOnPage(start.agent, start.page, rig.clock);
    const codes = codesOn(page);
    expect(codes).to.have.length(10);
    expect(page.$('h2').text()).to.include('Your recovery codes');
    const buttons = page.$('button').map((_, b) => page.$(b).text().trim()).get();
    expect(buttons).to.include.members(['Setup', 'Finish']);
    // Finish is a plain form: no checkbox, no required field, no script in the way.
    const finish = page.$('form[action$="/finish"]');
    expect(finish.find('input:not([type=hidden]), select, textarea').length).to.equal(0);

    const uid = uidOf(page);
    const download = await start.agent.get(`${rig.server.issuer}/interaction/${uid}/recovery-codes.txt`);
    expect(download.status).to.equal(200);
    expect(download.headers.get('content-type')).to.match(/^text\/plain/);
    expect(download.headers.get('content-disposition')).to.match(/attachment; filename="twofold-recovery-codes.txt"/);
    expect(download.headers.get('cache-control')).to.equal('no-store');
    const text = await download.text();
    for (const code of codes) expect(text).to.include(code);
    expect(page.$('a[href$="/recovery-codes.txt"]').text()).to.equal('Download');
    const print = await start.agent.open(`${rig.server.issuer}/interaction/${uid}/recovery-codes/print`);
    expect(codesOn(print)).to.deep.equal(codes);
    expect(page.$('a[href$="/recovery-codes/print"]').text()).to.equal('Print');
    // A different browser cannot fetch them.
    const stranger = await new Agent().get(`${rig.server.issuer}/interaction/${uid}/recovery-codes.txt`);
    expect(stranger.status).to.be.within(400, 499);
    expect(await stranger.text()).to.not.include(codes[0]!);

    const tokens = await finishAndExchange(rig.client, start, page);
    expect(tokens.claims()!.acr).to.equal('mfa');
    // Once finished, they are gone for good.
    const after = await start.agent.get(`${rig.server.issuer}/interaction/${uid}/recovery-codes.txt`);
    expect(after.status).to.be.within(400, 499);
    expect(await after.text()).to.not.include(codes[0]!);
  });

  it('[item 31] are at least 64 bits each and stored only as keyed hashes', async () => {
    const user = await userWithApp(rig, 'hashed');
    const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
    for (const code of user.recoveryCodes) {
      expect(code).to.match(/^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
      const symbols = code.replace(/-/g, '');
      for (const c of symbols) expect(alphabet).to.include(c);
      expect(symbols.length * Math.log2(alphabet.length)).to.be.at.least(64);
    }
    expect(new Set(user.recoveryCodes).size).to.equal(10);
    const rows = await storedCodes(rig, user.accountId);
    expect(rows).to.have.length(10);
    const stored = JSON.stringify(rows).toLowerCase();
    for (const code of user.recoveryCodes) {
      expect(stored).to.not.include(code);
      expect(stored).to.not.include(code.replace(/-/g, ''));
      for (const part of code.split('-')) expect(stored).to.not.include(`"${part}`);
    }
    // A keyed hash: the same code for another account has another digest.
    expect(new Set(rows.map((r) => r.digest)).size).to.equal(10);
    for (const row of rows) expect(row.digest.length).to.be.at.least(43);
  });

  it('[item 31] sign in once each, with amr [pwd, otp, mfa]; the second use of a code fails', async () => {
    const user = await userWithApp(rig, 'single-use');
    const [code] = user.recoveryCodes;
    const first = await useRecoveryCode(rig, user, code!.toUpperCase().replace(/-/g, ' '));
    expect(first.done.redirectedTo, textOf(first.done)).to.satisfy(isCallback);
    const tokens = await exchange(rig.client, first.auth, first.done.redirectedTo!);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).to.equal('mfa');
    expect(await rig.server.services.recovery.remaining(user.accountId)).to.equal(9);

    const second = await useRecoveryCode(rig, user, code!);
    expect(second.done.redirectedTo).to.equal(undefined);
    expect(second.done.status).to.equal(400);
    expect(textOf(second.done)).to.include("That code didn't work");
    expect(await rig.server.services.recovery.remaining(user.accountId)).to.equal(9);
  });

  it('[item 31] a code made before TWOFOLD_SECRET rotated signs in once after it (the old secret in TWOFOLD_PREVIOUS_SECRETS)', async () => {
    // An installation of its own: the second server (the same database, the new secret) registers
    // the account page's client under its own address, which would upset the shared rig.
    const before = await startAccountRig();
    let after: AccountRig | undefined;
    try {
      const user = await userWithApp(before, 'rotated');
      const [code] = user.recoveryCodes;
      after = await startAccountRig({
        databaseUrl: before.server.config.databaseUrl,
        secret: 'rotated-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
        config: { previousSecrets: [before.server.config.secret] },
      });
      const first = await useRecoveryCode(after, user, code!);
      expect(first.done.redirectedTo, textOf(first.done)).to.satisfy(isCallback);
      expect((await exchange(after.client, first.auth, first.done.redirectedTo!)).claims()!.acr).to.equal('mfa');
      const again = await useRecoveryCode(after, user, code!);
      expect(again.done.status).to.equal(400);
      expect(textOf(again.done)).to.include("That code didn't work");
      expect(await after.server.services.recovery.remaining(user.accountId)).to.equal(9);
    } finally {
      await after?.close();
      await before.close();
    }
  });

  it('[item 31] something not shaped like a recovery code says what one looks like (not "Enter the 6-digit code"), and counts', async () => {
    const user = await userWithApp(rig, 'misshapen');
    const screen = await recoveryScreen(rig, user);
    const answer = await submitChallenge(screen.agent, screen.page, '123456');
    expect(answer.status).to.equal(400);
    expect(textOf(answer)).to.include('Enter a recovery code: 16 letters and digits, like xxxx-xxxx-xxxx-xxxx');
    expect(textOf(answer)).to.not.include('6-digit');
    expect((await failureState(rig.server, user.accountId)).accountFailures).to.equal(1);
  });

  it('[item 31] wrong codes count toward the account lockout, and a right code is refused while locked', async () => {
    const user = await userWithApp(rig, 'guessing');
    const { lockoutThreshold, challengeMaxFailures } = rig.server.config.mfa;
    // A sign-in waiting at the recovery screen, for the right code once the account is locked.
    const waiting = await recoveryScreen(rig, user);
    let failures = 0;
    let last: (Page & { redirectedTo?: string }) | undefined;
    while (failures < lockoutThreshold) {
      const screen = await recoveryScreen(rig, user);
      last = screen.page;
      for (let i = 0; i < challengeMaxFailures && failures < lockoutThreshold; i++) {
        last = await submitChallenge(screen.agent, last, `wxyz-wxyz-wxyz-${String(1000 + failures).slice(-4)}`);
        failures++;
        expect(last.redirectedTo).to.equal(undefined);
        const state = await failureState(rig.server, user.accountId);
        if (failures < lockoutThreshold) expect(state.accountFailures, `after ${failures} wrong codes`).to.equal(failures);
      }
    }
    expect(last!.status).to.equal(429);
    expect(textOf(last!)).to.include('locked');
    expect((await failureState(rig.server, user.accountId)).lockedFor).to.be.greaterThan(0);

    // The right code is refused while the lock holds, and is not used up.
    const refused = await submitChallenge(waiting.agent, waiting.page, user.recoveryCodes[0]!);
    expect(refused.redirectedTo).to.equal(undefined);
    expect(refused.status).to.equal(429);
    expect(textOf(refused)).to.include('locked');
    const start = await startSignIn(rig.client, user);
    expect(start.page.status, textOf(start.page)).to.equal(429);
    expect(await rig.server.services.recovery.remaining(user.accountId)).to.equal(10);
  });

  it('[item 31] 20 parallel submissions of one code in one sign-in: exactly one signs in', async () => {
    const user = await userWithApp(rig, 'parallel');
    const code = user.recoveryCodes[3]!;
    const screen = await recoveryScreen(rig, user);
    const { action, values } = formOf(screen.page, '/challenge/verify');
    const url = new URL(action, screen.page.url).href;
    const responses = await Promise.all(Array.from({ length: 20 }, () => screen.agent.post(url, { ...values, code })));
    const results = await Promise.all(responses.map(async (r) => ({ status: r.status, location: r.headers.get('location') ?? '', body: await r.text() })));
    const through = results.filter((r) => r.status === 303 && r.location.includes('/auth/'));
    expect(through, results.map((r) => `${r.status} ${r.location}`).join(', ')).to.have.length(1);
    for (const r of results) expect(r.body).to.not.include(code);
    const rows = await storedCodes(rig, user.accountId);
    expect(rows.filter((r) => r.used_at !== null)).to.have.length(1);
  });

  it('[item 31] parallel submissions of one code from separate sign-ins: exactly one signs in', async () => {
    const user = await userWithApp(rig, 'parallel-tabs');
    const code = user.recoveryCodes[5]!;
    // Fewer sign-ins than the lockout threshold, so the losers' failures cannot lock out the winner.
    const count = rig.server.config.mfa.lockoutThreshold - 2;
    const screens = await Promise.all(Array.from({ length: count }, () => recoveryScreen(rig, user)));
    const results = await Promise.all(screens.map((s) => submitChallenge(s.agent, s.page, code)));
    const winners = results.filter((r) => r.redirectedTo && isCallback(r.redirectedTo));
    expect(winners, results.map((r) => `${r.status} ${textOf(r).slice(0, 80)}`).join('\n')).to.have.length(1);
    expect(results.filter((r) => !r.redirectedTo).every((r) => r.status === 400)).to.equal(true);
    const rows = await storedCodes(rig, user.accountId);
    expect(rows.filter((r) => r.used_at !== null)).to.have.length(1);
  });

  it('warns when 3 or fewer are left, on the recovery screen and the account page', async () => {
    const user = await userWithApp(rig, 'running-low');
    for (const code of user.recoveryCodes.slice(0, 6)) {
      const used = await useRecoveryCode(rig, user, code);
      expect(used.done.redirectedTo, textOf(used.done)).to.satisfy(isCallback);
    }
    // 4 left: no warning yet.
    let screen = await recoveryScreen(rig, user);
    expect(textOf(screen.page)).to.not.include('recovery codes left');
    let page = await openAccount(rig, user);
    expect(page.$('#recovery-left').text()).to.include('You have 4 unused recovery codes');
    expect(page.$('#recovery-left').attr('role')).to.equal(undefined);

    const used = await useRecoveryCode(rig, user, user.recoveryCodes[6]!);
    expect(used.done.redirectedTo).to.satisfy(isCallback);
    screen = await recoveryScreen(rig, user);
    expect(textOf(screen.page)).to.include('You have 3 recovery codes left. After signing in, make new ones on your account page.');
    page = await openAccount(rig, user);
    expect(page.$('#recovery-left').text()).to.include('You have 3 recovery codes left');
    expect(page.$('#recovery-left').attr('role')).to.equal('alert');
  });

  it('are renewed from the account page: the new set is shown once (download, print), the old set stops working', async () => {
    const user = await userWithApp(rig, 'renewer');
    let page = await openAccount(rig, user);
    page = await user.agent.submit(page, '/account/recovery/regenerate');
    expect(textOf(page)).to.include('New recovery codes are ready');
    const fresh = codesOn(page);
    expect(fresh).to.have.length(10);
    for (const code of fresh) expect(user.recoveryCodes).to.not.include(code);
    const download = await user.agent.get(accountUrl(rig, '/recovery-codes.txt'));
    expect(download.status).to.equal(200);
    expect(download.headers.get('content-disposition')).to.match(/attachment/);
    const text = await download.text();
    for (const code of fresh) expect(text).to.include(code);
    expect(codesOn(await user.agent.open(accountUrl(rig, '/recovery-codes/print')))).to.deep.equal(fresh);

    // "I have saved them": gone from the page and the download.
    page = await user.agent.submit(page, '/account/recovery/saved');
    expect(codesOn(page)).to.deep.equal([]);
    expect((await user.agent.get(accountUrl(rig, '/recovery-codes.txt'))).status).to.equal(404);
    expect(await rig.server.services.recovery.remaining(user.accountId)).to.equal(10);

    const old = await useRecoveryCode(rig, user, user.recoveryCodes[0]!);
    expect(old.done.redirectedTo).to.equal(undefined);
    expect(textOf(old.done)).to.include("That code didn't work");
    const renewed = await useRecoveryCode(rig, user, fresh[0]!);
    expect(renewed.done.redirectedTo, textOf(renewed.done)).to.satisfy(isCallback);
  });
});

describe('recovery codes: who sees them', function () {
  this.timeout(60_000);
  let rig: AccountRig;
  let user: AccountUser;

  before(async () => {
    rig = await startAccountRig();
    user = await userWithApp(rig, 'viewer');
  });
  after(() => rig?.close());

  it('the account page never lists the codes themselves, only how many are left', async () => {
    const page = await openAccount(rig, user);
    for (const code of user.recoveryCodes) expect(page.html).to.not.include(code);
    expect(page.$('#recovery-left').text()).to.include('10 unused recovery codes');
  });
});
