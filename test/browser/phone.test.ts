// Screens in a real browser (Debian's Chromium): the demo user sets up a text message, then a
// voice call through "Setup", finishes; signs out; and at the next sign-in, whose text message is
// on its way, moves to the voice call with "Use another method". Codes are read off the fake
// Vonage, as a phone would show them.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../support/browser.js';
import { seedDemo } from '../../src/demo/seed.js';
import { startPhoneRig, type PhoneRig } from '../phone/helpers.js';

describe('browser: text message and voice call sign-in', function () {
  this.timeout(90_000);
  let rig: PhoneRig;
  let browser: Browser;
  let demo: { username: string; password: string };

  before(async () => {
    rig = await startPhoneRig({ store: 'redis', config: { demo: true } });
    demo = await seedDemo(rig.server.services);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await rig?.close();
  });

  async function signIn(page: Page) {
    await page.goto(`${rig.server.issuer}/demo`);
    await page.getByRole('link', { name: 'Sign in with a second factor' }).click();
    await page.getByLabel('Username').fill(demo.username);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  const claimsOn = async (page: Page) => {
    await page.waitForURL(/\/demo\/callback/);
    return JSON.parse((await page.locator('#claims').textContent())!) as { acr: string; amr: string[] };
  };

  it('enrols SMS, then voice via Setup, then Finish; later switches from SMS to voice with "Use another method"', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await signIn(page);

    // Text message: Phone number -> Send code -> Code -> Verify
    await page.getByRole('button', { name: 'Text message (SMS)' }).click();
    await page.getByLabel('Phone number').waitFor();
    expect(await page.textContent('main')).to.include('Text and data rates may apply.');
    await screenshot(page, 'phone-01-enrol-sms');
    await page.getByLabel('Phone number').fill('+1 202 555 0123');
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Code').waitFor();
    expect(await page.textContent('main')).to.include('+1 ••• ••• 0123');
    expect(rig.vonage.sms).to.have.length(1);
    await screenshot(page, 'phone-02-sms-code-sent');
    await page.getByLabel('Code').fill(rig.vonage.lastSmsCode());
    await page.getByRole('button', { name: 'Verify' }).click();

    // Setup another method: Voice call -> Phone number -> Call -> Code -> Verify
    await page.getByRole('button', { name: 'Finish' }).waitFor();
    await screenshot(page, 'phone-03-sms-set-up');
    await page.getByRole('button', { name: 'Setup' }).click();
    await page.getByRole('button', { name: 'Voice call' }).click();
    await page.getByLabel('Phone number').fill('+1 202 555 0123');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await page.getByLabel('Code').waitFor();
    expect(rig.vonage.calls).to.have.length(1);
    await screenshot(page, 'phone-04-voice-calling');
    await page.getByLabel('Code').fill(rig.vonage.lastCallCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Finish' }).waitFor();
    await screenshot(page, 'phone-05-both-set-up');
    await page.getByRole('button', { name: 'Finish' }).click();
    let claims = await claimsOn(page);
    expect(claims.acr).to.equal('mfa');
    expect(claims.amr).to.deep.equal(['pwd', 'sms', 'mfa']);

    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/demo$/);

    // The next sign-in: the text goes out as the challenge starts; the user takes a call instead.
    await signIn(page);
    await page.getByLabel('Code').waitFor();
    expect(rig.vonage.sms).to.have.length(2);
    const main = (await page.textContent('main'))!;
    expect(main).to.include('We sent a text message with a 6-digit code to +1 ••• ••• 0123.');
    expect(await page.getByRole('button', { name: 'Resend code' }).count()).to.equal(1);
    await screenshot(page, 'phone-06-sms-challenge');
    await page.reload();
    await page.getByLabel('Code').waitFor();
    expect(rig.vonage.sms, 'a reload sends nothing').to.have.length(2);

    await page.getByRole('button', { name: 'Use another method' }).click();
    await page.getByRole('button', { name: /Voice call/ }).waitFor();
    await screenshot(page, 'phone-07-other-methods');
    await page.getByRole('button', { name: /Voice call/ }).click();
    await page.getByLabel('Code').waitFor();
    expect(rig.vonage.calls).to.have.length(2);
    expect(await page.textContent('main')).to.include('We are calling +1 ••• ••• 0123');
    expect(await page.getByRole('button', { name: 'Call again' }).count()).to.equal(1);
    await screenshot(page, 'phone-08-voice-challenge');
    await page.getByLabel('Code').fill(rig.vonage.lastCallCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    claims = await claimsOn(page);
    expect(claims.acr).to.equal('mfa');
    expect(claims.amr).to.deep.equal(['pwd', 'tel', 'mfa']);
    await screenshot(page, 'phone-09-signed-in-by-call');
    await context.close();
  });
});
