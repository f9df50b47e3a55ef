// Issue 3's screen test: a new user signs in to a require_mfa client in Chromium, enrols an
// authenticator app by reading the key off the page, finishes, signs out, and signs in again with
// a fresh code. The relying party is openid-client; the browser's visit to its callback URL is
// caught by the test (the RP's host does not exist here) and exchanged for tokens.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { REDIRECT_URI, authorizationUrl, createUser, currentTotp, exchange, registerClient, type TestClient } from '../support/oidc.js';
import * as oidc from 'openid-client';

async function signInUntilCallback(page: Page, url: string, act: () => Promise<void>): Promise<string> {
  let callback = '';
  await page.route(`${REDIRECT_URI}**`, async (route) => {
    callback = route.request().url();
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>RP</title><h1>Signed in at the relying party</h1>' });
  });
  await page.goto(url);
  await act();
  await page.waitForURL(`${REDIRECT_URI}**`);
  await page.unroute(`${REDIRECT_URI}**`);
  return callback;
}

describe('browser: a new user enrols an authenticator app at a require_mfa client [checklist 33, 34]', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: Browser;
  let client: TestClient;

  before(async () => {
    server = await startTestServer({ store: 'redis' });
    client = await registerClient(server, { requireMfa: true, name: 'Acme CRM' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('enrols, finishes, signs out, and signs in again with a fresh code', async () => {
    const user = await createUser(server, 'frank');
    const context = await browser.newContext();
    const page = await context.newPage();

    let auth = await authorizationUrl(client);
    let key = '';
    const first = await signInUntilCallback(page, auth.url, async () => {
      await page.getByLabel('Username').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: /Authenticator app/ }).click();
      await page.getByLabel('Code').waitFor();
      await screenshot(page, 'mfa-01-enrol-authenticator');
      key = (await page.locator('.key').textContent())!.replace(/\s+/g, '');
      expect(key).to.match(/^[A-Z2-7]{32}$/);
      await page.getByLabel('Code').fill(await currentTotp(key));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('button', { name: 'Finish' }).waitFor();
      await screenshot(page, 'mfa-02-setup-or-finish');
      await page.getByRole('button', { name: 'Finish' }).click();
    });
    let tokens = await exchange(client, auth, first);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).to.equal('mfa');

    // RP-initiated logout through Twofold's own page.
    await page.goto(oidc.buildEndSessionUrl(client.rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://rp.example.com/signed-out' }).href);
    await page.route('https://rp.example.com/signed-out**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>RP</title><h1>Signed out</h1>' }));
    await screenshot(page, 'mfa-03-sign-out');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL('https://rp.example.com/signed-out**');

    auth = await authorizationUrl(client);
    const second = await signInUntilCallback(page, auth.url, async () => {
      await page.getByLabel('Username').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Code').waitFor();
      await screenshot(page, 'mfa-04-challenge');
      expect(await page.getByRole('button', { name: 'Verify' }).count()).to.equal(1);
      // The step used at enrolment is spent; the next one is inside the accepted window.
      await page.getByLabel('Code').fill(await currentTotp(key, Date.now() + 30_000));
      await page.getByRole('button', { name: 'Verify' }).click();
    });
    tokens = await exchange(client, auth, second);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    await context.close();
  });
});
