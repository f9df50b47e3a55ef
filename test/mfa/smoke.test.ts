import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, currentTotp, exchange, isCallback, keyFromPage, openAuthorization, registerClient, submitPassword } from '../support/oidc.js';

describe('smoke: second factor with an authenticator app', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store: 'redis' });
  });
  after(() => server?.close());

  it('enrols a new user at first sign-in, then challenges them next time', async () => {
    const client = await registerClient(server, { requireMfa: true });
    const user = await createUser(server, 'bob');
    const agent = new Agent();
    const auth = await authorizationUrl(client);
    const chooser = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    expect(textOf(chooser)).to.include('Authenticator app');
    const enrol = await agent.submit(chooser, '/enrol', { method: 'totp' });
    const secret = keyFromPage(enrol);
    expect(secret).to.have.length(32);
    const enrolled = await agent.submit(enrol, '/enrol/verify', { code: await currentTotp(secret) });
    expect(textOf(enrolled)).to.include('Finish');
    const done = await agent.submit(enrolled, '/finish', {}, { stopAt: isCallback });
    const tokens = await exchange(client, auth, done.redirectedTo!);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).to.equal('mfa');

    const agent2 = new Agent();
    const auth2 = await authorizationUrl(client);
    const challenge = await submitPassword(agent2, await openAuthorization(agent2, auth2), user.username, user.password);
    expect(textOf(challenge)).to.include('Verify');
    const next = Date.now() + 30_000; // the current step was used at enrolment
    const finished = await agent2.submit(challenge, '/challenge/verify', { code: await currentTotp(secret, next) }, { stopAt: isCallback });
    const tokens2 = await exchange(client, auth2, finished.redirectedTo!);
    expect(tokens2.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
  });

  it('answers the password form with the next screen itself, and that address opened again shows where the sign-in stands', async () => {
    const client = await registerClient(server, { requireMfa: true });
    const user = await createUser(server, 'carol');
    const agent = new Agent();
    const login = await openAuthorization(agent, await authorizationUrl(client));
    const chooser = await submitPassword(agent, login, user.username, user.password);
    expect(chooser.status, 'no redirect between the password and the next screen').to.equal(200);
    expect(new URL(chooser.url).pathname).to.match(/^\/interaction\/[^/]+\/login$/);
    expect(textOf(chooser)).to.include('Authenticator app');
    const reopened = await agent.open(chooser.url);
    expect(reopened.status).to.equal(200);
    expect(new URL(reopened.url).pathname).to.match(/^\/interaction\/[^/]+$/);
    expect(textOf(reopened)).to.include('Authenticator app');
    // Another browser opening that address gets the expired page, not this sign-in.
    const stranger = await new Agent().open(chooser.url);
    expect(stranger.status).to.equal(400);
    expect(textOf(stranger)).to.not.include('Authenticator app');
  });
});
