// Issue 5: the policy an administrator sets through the API includes the authenticator app
// parameters and the send limits, and each takes effect at once.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, exchange, isCallback, keyFromPage, openAuthorization, registerClient, submitPassword } from '../support/oidc.js';
import { totp } from '../../src/factors/totp/otp.js';
import { requestEnrolmentCode, sent, startPhoneRig, type PhoneRig } from '../phone/helpers.js';

describe('admin API: TOTP parameters and send limits in the policy', () => {
  let rig: PhoneRig;
  let call: (method: string, path: string, body?: unknown) => Promise<Response>;

  before(async () => {
    rig = await startPhoneRig({ store: 'redis' });
    const admin = await registerClient(rig.server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
    const { access_token } = await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' });
    call = (method, path, body) =>
      fetch(`${rig.server.issuer}/admin/api/v1${path}`, { method, headers: { authorization: `Bearer ${access_token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  });
  after(() => rig?.close());

  it('shows the values in force, configured ones where nothing is overridden', async () => {
    const policy = (await (await call('GET', '/policy')).json()) as { totp: Record<string, unknown>; send_limits: Record<string, number> };
    expect(policy.totp).to.deep.equal({ period: 30, digits: 6, algorithm: 'sha1' });
    expect(policy.send_limits.per_number_hour).to.equal(rig.server.config.sendLimits.perNumberHour);
    expect(policy.send_limits.cooldown_seconds).to.equal(30);
  });

  it('authenticator apps set up from now on use the TOTP parameters set', async () => {
    const res = await call('PATCH', '/policy', { totp: { period: 60, digits: 8, algorithm: 'sha256' } });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { totp: unknown }).totp).to.deep.equal({ period: 60, digits: 8, algorithm: 'sha256' });

    const user = await createUser(rig.server, 'tina');
    const agent = new Agent();
    const auth = await authorizationUrl(rig.client);
    const chooser = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    const enrol = await agent.submit(chooser, '/enrol', { method: 'totp' });
    const uri = enrol.$('a[href^="otpauth://"]').attr('href')!;
    expect(uri).to.include('period=60').and.include('digits=8').and.include('algorithm=SHA256');
    const code = await totp(keyFromPage(enrol), Math.floor(Date.now() / 1000), { period: 60, digits: 8, algorithm: 'sha256' });
    const enrolled = await agent.submit(enrol, '/enrol/verify', { code });
    const done = await agent.submit(enrolled, '/finish', {}, { stopAt: isCallback });
    expect((await exchange(rig.client, auth, done.redirectedTo!)).claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    // null puts a field back to the configured value.
    const reset = (await (await call('PATCH', '/policy', { totp: { period: null, digits: null, algorithm: null } })).json()) as { totp: unknown };
    expect(reset.totp).to.deep.equal({ period: 30, digits: 6, algorithm: 'sha1' });
  });

  it('a send limit set through the API trips at once and Vonage receives nothing more [item 22]', async () => {
    const res = await call('PATCH', '/policy', { send_limits: { per_account_hour: 1 } });
    expect(((await res.json()) as { send_limits: Record<string, number> }).send_limits.per_account_hour).to.equal(1);
    const user = await createUser(rig.server, 'uma');
    const agent = new Agent();
    const chooser = await submitPassword(agent, await openAuthorization(agent, await authorizationUrl(rig.client)), user.username, user.password);
    const before = sent(rig.vonage);
    await requestEnrolmentCode(agent, chooser, 'sms');
    expect(sent(rig.vonage)).to.equal(before + 1);
    const voice = await agent.submit(await agent.submit(chooser, '/enrol', { method: 'voice' }), '/enrol/action', { phone: '+1 202 555 0123' });
    expect(voice.status).to.equal(400);
    expect(textOf(voice)).to.match(/Too many codes requested for your account/);
    expect(sent(rig.vonage)).to.equal(before + 1);
    await call('PATCH', '/policy', { send_limits: { per_account_hour: null } });
  });

  it('refuses unknown limits and out-of-range TOTP parameters with a problem document', async () => {
    for (const body of [{ send_limits: { per_fortnight: 3 } }, { totp: { period: 5 } }, { totp: { digits: 7 } }, { send_limits: { per_ip_day: -1 } }]) {
      const res = await call('PATCH', '/policy', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/problem\+json/);
    }
  });
});
