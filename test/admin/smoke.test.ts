import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.js';
import { registerClient } from '../support/oidc.js';

describe('smoke: admin API', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('creates a user and sets require_mfa with an admin client credentials token', async () => {
    const admin = await registerClient(server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
    const { access_token } = await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' });
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${server.issuer}/admin/api/v1${path}`, { method, headers: { authorization: `Bearer ${access_token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    let res = await call('POST', '/users', { username: 'dave', password: 'a long enough password', role: 'salesperson' });
    expect(res.status).to.equal(201);
    res = await call('POST', '/clients', { client_id: 'crm', redirect_uris: ['https://crm.example.com/cb'] });
    expect(res.status).to.equal(201);
    expect(((await res.json()) as { client_secret: string }).client_secret).to.be.a('string');
    res = await call('PATCH', '/clients/crm', { require_mfa: true });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { require_mfa: boolean }).require_mfa).to.equal(true);
    res = await call('GET', '/audit?type=admin.');
    const audit = (await res.json()) as { items: Array<{ type: string }> };
    expect(audit.items.map((e: { type: string }) => e.type)).to.include.members(['admin.user_added', 'admin.client_added', 'admin.client_updated']);
    res = await fetch(`${server.issuer}/admin/api/v1/users`);
    expect(res.status).to.equal(401);
    expect(res.headers.get('content-type')).to.match(/problem\+json/);
    const doc = (await (await fetch(`${server.issuer}/admin/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).to.equal('3.1.0');
    expect(Object.keys(doc.paths)).to.include('/users/{username}');
  });
});
