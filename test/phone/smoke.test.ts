import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, exchange, isCallback, openAuthorization, registerClient, submitPassword } from '../support/oidc.js';
import { startFakeVonage, type FakeVonage } from '../fakes/vonage-server.js';

describe('smoke: SMS and voice through the real Vonage SDK and a fake Vonage', () => {
  let server: TestServer;
  let vonage: FakeVonage;
  before(async () => {
    vonage = await startFakeVonage();
    server = await startTestServer({ store: 'redis', config: vonage.config() });
  });
  after(async () => {
    await server?.close();
    await vonage?.stop();
  });

  it('enrols SMS, then voice via Setup, finishes, and later signs in by SMS', async () => {
    const client = await registerClient(server, { requireMfa: true });
    const user = await createUser(server, 'carol');
    const agent = new Agent();
    const auth = await authorizationUrl(client);
    const chooser = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    const enrol = await agent.submit(chooser, '/enrol', { method: 'sms' });
    expect(textOf(enrol)).to.include('Text and data rates may apply.');
    const sent = await agent.submit(enrol, '/enrol/action', { phone: '+1 202 555 0123' });
    expect(textOf(sent)).to.include('+1 ••• ••• 0123');
    expect(vonage.sms).to.have.length(1);
    const enrolled = await agent.submit(sent, '/enrol/verify', { code: vonage.lastSmsCode() });
    expect(textOf(enrolled)).to.include('Finish');
    const chooser2 = await agent.submit(enrolled, '/setup');
    const voice = await agent.submit(chooser2, '/enrol', { method: 'voice' });
    const called = await agent.submit(voice, '/enrol/action', { phone: '+1 202 555 0123' });
    expect(vonage.calls).to.have.length(1);
    const enrolled2 = await agent.submit(called, '/enrol/verify', { code: vonage.lastCallCode() });
    const done = await agent.submit(enrolled2, '/finish', {}, { stopAt: isCallback });
    const tokens = await exchange(client, auth, done.redirectedTo!);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'sms', 'mfa']);

    const agent2 = new Agent();
    const auth2 = await authorizationUrl(client);
    const challenge = await submitPassword(agent2, await openAuthorization(agent2, auth2), user.username, user.password);
    expect(vonage.sms).to.have.length(2);
    expect(textOf(challenge)).to.include('Resend code');
    const finished = await agent2.submit(challenge, '/challenge/verify', { code: vonage.lastSmsCode() }, { stopAt: isCallback });
    const tokens2 = await exchange(client, auth2, finished.redirectedTo!);
    expect(tokens2.claims()!.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
  });
});
