// The account page in a real browser (Debian's Chromium): a user who set up an authenticator app
// through the demo relying party adds SMS, makes it preferred, removes the app and makes new
// recovery codes; then, in a fresh browser, signs in through the demo app with one of the new
// codes ("Use a recovery code"). Screenshots go to test-artifacts/screens/.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../support/browser.js';
import { currentTotp } from '../support/oidc.js';
import { testClock, type TestClock } from '../support/mfa.js';
import { seedDemo } from '../../src/demo/seed.js';
import { startPhoneRig, NUMBER, type PhoneRig } from '../phone/helpers.js';

describe('browser: the account page', function () {
  this.timeout(90_000);
  let rig: PhoneRig;
  let clock: TestClock;
  let browser: Browser;
  let demo: { username: string; password: string };

  before(async () => {
    clock = testClock();
    rig = await startPhoneRig({ store: 'redis', now: () => clock.now(), config: { demo: true } });
    demo = await seedDemo(rig.server.services);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await rig?.close();
  });

  const issuer = () => rig.server.issuer;
  const codesOnPage = async (page: Page) => (await page.locator('.codes code').allTextContents()).map((c) => c.trim());

  async function signInToDemo(page: Page) {
    await page.goto(`${issuer()}/demo`);
    await page.getByRole('link', { name: 'Sign in with a second factor' }).click();
    await page.getByLabel('Username').fill(demo.username);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('adds SMS, makes it preferred, removes the authenticator app, makes new recovery codes, then signs in with one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();

    // Set up an authenticator app at a sign-in to the demo app (recovery codes come with it).
    await signInToDemo(page);
    await page.getByRole('button', { name: 'Authenticator app' }).click();
    const key = (await page.locator('.key').textContent())!.replace(/\s+/g, '');
    await page.getByLabel('Code').fill(await currentTotp(key, clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Finish' }).waitFor();
    const firstCodes = await codesOnPage(page);
    expect(firstCodes).to.have.length(10);
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.waitForURL(/\/demo\/callback/);
    clock.advance(30);

    // The account page: signed in through the same SSO session, recent enough for changes.
    await page.goto(`${issuer()}/account`);
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    expect(await page.textContent('main')).to.include('Signed in as demo');
    await screenshot(page, 'account-01-page');

    // Add SMS with the same screens as at sign-in.
    await page.getByRole('button', { name: 'Text message (SMS)' }).click();
    await page.getByLabel('Phone number').fill(NUMBER);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Code').waitFor();
    await screenshot(page, 'account-02-sms-code');
    await page.getByLabel('Code').fill(rig.vonage.lastSmsCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('Text message (SMS) is set up.').waitFor();
    const smsRow = page.locator('tr', { hasText: 'Text message (SMS)' });
    expect(await smsRow.textContent()).to.include('+1 ••• ••• 0123');

    // Make it preferred.
    await smsRow.getByRole('button', { name: 'Make preferred' }).click();
    await page.getByText('Your preferred method is changed').waitFor();
    expect(await page.locator('tr', { hasText: 'Text message (SMS)' }).textContent()).to.include('Preferred');
    await screenshot(page, 'account-03-sms-preferred');

    // Remove the authenticator app.
    await page.getByRole('button', { name: 'Remove Authenticator app' }).click();
    await page.getByText('Removed.').waitFor();
    expect(await page.locator('tbody tr').count()).to.equal(1);
    expect(await page.locator('tbody').textContent()).to.not.include('Authenticator app');

    // New recovery codes: shown once, with download and print.
    await page.getByRole('button', { name: 'Make new recovery codes' }).click();
    await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
    const newCodes = await codesOnPage(page);
    expect(newCodes).to.have.length(10);
    for (const code of newCodes) expect(firstCodes).to.not.include(code);
    expect(await page.getByRole('link', { name: 'Download' }).getAttribute('href')).to.equal('/account/recovery-codes.txt');
    expect(await page.getByRole('link', { name: 'Print' }).getAttribute('href')).to.equal('/account/recovery-codes/print');
    await screenshot(page, 'account-04-new-recovery-codes');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Your new recovery codes are hidden now.').waitFor();
    expect(await page.locator('.codes code').count()).to.equal(0);
    expect(await page.locator('#recovery-left').textContent()).to.include('10 unused recovery codes');
    await context.close();

    // A fresh browser: the demo app, the password, the text message challenge, then a recovery code.
    const fresh = await browser.newContext();
    const again = await fresh.newPage();
    const texts = rig.vonage.sms.length;
    await signInToDemo(again);
    await again.getByLabel('Code').waitFor();
    expect(rig.vonage.sms.length, 'the preferred method, SMS, is asked first').to.equal(texts + 1);
    expect(await again.textContent('main')).to.include('We sent a text message');
    await screenshot(again, 'account-05-sms-challenge');
    await again.getByRole('button', { name: 'Use a recovery code' }).click();
    await again.getByText('Enter one of the recovery codes').waitFor();
    await screenshot(again, 'account-06-recovery-challenge');
    // The old set is dead...
    await again.getByLabel('Code').fill(firstCodes[0]!);
    await again.getByRole('button', { name: 'Verify' }).click();
    await again.getByText("That code didn't work").waitFor();
    // ...the new one works.
    await again.getByLabel('Code').fill(newCodes[0]!);
    await again.getByRole('button', { name: 'Verify' }).click();
    await again.waitForURL(/\/demo\/callback/);
    await screenshot(again, 'account-07-signed-in-with-recovery-code');
    const claims = JSON.parse((await again.locator('#claims').textContent())!);
    expect(claims.acr).to.equal('mfa');
    expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    await fresh.close();
  });
});
