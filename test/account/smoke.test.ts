import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf, type Page } from '../support/agent.js';
import { createUser, currentTotp, keyFromPage } from '../support/oidc.js';

describe('smoke: account page', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store: 'redis' });
  });
  after(() => server?.close());

  it('signs in through Twofold, steps up, adds an authenticator app and shows the factor', async () => {
    const user = await createUser(server, 'erin', undefined, { email: 'erin@example.com' });
    const agent = new Agent();
    const signIn = async (page: Page) => {
      const next = await agent.submit(page, '/login', { username: user.username, password: user.password });
      return next;
    };
    let page = await agent.open(`${server.issuer}/account`);
    expect(textOf(page)).to.include('Sign in');
    page = await signIn(page);
    expect(page.url).to.equal(`${server.issuer}/account`);
    expect(textOf(page)).to.include('Signed in as erin');
    expect(textOf(page)).to.include('Confirm it’s you');
    // Step up: the password is minutes old, so a user without a factor sets one up right away.
    page = await agent.open(`${server.issuer}/account/step-up`);
    page = await agent.submit(page, '/enrol', { method: 'totp' });
    const secret = keyFromPage(page);
    page = await agent.submit(page, '/enrol/verify', { code: await currentTotp(secret) });
    expect(textOf(page)).to.include('Your recovery codes');
    page = await agent.submit(page, '/finish');
    expect(page.url).to.equal(`${server.issuer}/account`);
    expect(textOf(page)).to.include('Authenticator app');
    expect(textOf(page)).to.include('Sign out other sessions');
  });
});
