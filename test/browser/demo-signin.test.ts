// Screens in a real browser: a newcomer signs in through the demo relying party, first with a
// password, then enrolling an authenticator app, then with a fresh code after signing out.
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { launchBrowser, screenshot } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { seedDemo } from '../../src/demo/seed.js';
import { currentTotp } from '../support/oidc.js';

describe('browser: signing in through the demo relying party', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: Browser;
  let demo: { username: string; password: string };

  before(async () => {
    server = await startTestServer({ store: 'redis', config: { demo: true } });
    demo = await seedDemo(server.services);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in with a password and shows acr pwd', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.issuer}/demo`);
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Sign in');
    await screenshot(page, '01-sign-in');
    await page.getByLabel('Username').fill(demo.username);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/demo\/callback/);
    await screenshot(page, '02-demo-signed-in');
    const claims = JSON.parse((await page.locator('#claims').textContent())!);
    expect(claims.acr).to.equal('pwd');
    expect(claims.amr).to.deep.equal(['pwd']);
  });

  it('enrols an authenticator app at a second-factor sign-in, then uses a fresh code after signing out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.issuer}/demo`);
    await page.getByRole('link', { name: 'Sign in with a second factor' }).click();
    await page.getByLabel('Username').fill(demo.username);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('button', { name: 'Authenticator app' }).waitFor();
    expect(await page.textContent('main')).to.match(/Google Authenticator/).and.match(/Okta Verify/);
    await screenshot(page, '03-choose-method');
    await page.getByRole('button', { name: 'Authenticator app' }).click();

    await page.getByLabel('Code').waitFor();
    await screenshot(page, '04-enrol-authenticator');
    expect(await page.locator('.qr svg').count()).to.equal(1);
    expect(await page.getByRole('link', { name: /authenticator app/ }).getAttribute('href')).to.match(/^otpauth:\/\/totp\//);
    const key = (await page.locator('.key').textContent())!.replace(/\s+/g, '');
    await page.getByLabel('Code').fill(await currentTotp(key));
    await page.getByRole('button', { name: 'Verify' }).click();

    await page.getByRole('button', { name: 'Finish' }).waitFor();
    expect(await page.getByRole('button', { name: 'Setup' }).count()).to.equal(1);
    await screenshot(page, '05-enrolled-setup-or-finish');
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.waitForURL(/\/demo\/callback/);
    let claims = JSON.parse((await page.locator('#claims').textContent())!);
    expect(claims.acr).to.equal('mfa');
    expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/demo$/);
    await screenshot(page, '06-signed-out');

    await page.getByRole('link', { name: 'Sign in with a second factor' }).click();
    await page.getByLabel('Username').fill(demo.username);
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code').waitFor();
    await screenshot(page, '07-challenge');
    // The step used at enrolment is spent; the next one is within the accepted window.
    await page.getByLabel('Code').fill(await currentTotp(key, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/demo\/callback/);
    claims = JSON.parse((await page.locator('#claims').textContent())!);
    expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    await context.close();
  });
});
