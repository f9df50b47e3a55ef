// The admin API over HTTP, as an automation script and an attacker use it: bearer tokens from the
// client credentials grant (and every way to get that wrong), every operation in the route table,
// bad input of every kind, the effect of require_mfa on the very next sign-in, and the OpenAPI
// document held against the router and against every response the tests receive.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf } from '../support/agent.js';
import { createUser, exchange, passwordSignIn, registerClient, relyingParty, REDIRECT_URI, type TestClient } from '../support/oidc.js';
import { failureState, nextCode, startSignIn, submitChallenge, testClock, userWithTotp, wrongCode, type TestClock } from '../support/mfa.js';
import { adminRoutes, ADMIN_PREFIX } from '../../src/admin/routes.js';
import { OPERATIONS, type Operation } from '../../src/admin/operations.js';
import { toOpenApiPath } from '../../src/admin/openapi.js';
import { ACCOUNT_CLIENT_ID } from '../../src/account/client.js';
import { validate } from './json-schema.js';

interface Answer {
  status: number;
  type: string;
  headers: Headers;
  body: any;
  text: string;
}

type Doc = { openapi: string; servers: Array<{ url: string }>; paths: Record<string, Record<string, any>>; components: Record<string, any> };

const matches = (op: Operation, method: string, path: string) =>
  op.method === method.toLowerCase() && new RegExp(`^${op.path.replace(/:[A-Za-z_]+/g, '[^/]+')}$`).test(path);

describe('admin API', function () {
  this.timeout(60_000);
  let server: TestServer;
  let clock: TestClock;
  let doc: Doc;
  let admin: TestClient;
  let token: string;
  const exercised = new Set<string>();
  /** Every problem answer, to check the document names its status. */
  const checkedProblems: string[] = [];

  /**
   * Calls the API. Every answer is held against the OpenAPI document: a success against its
   * documented status and schema, a failure against the Problem schema and its documented status.
   */
  async function api(method: string, path: string, options: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string>; contentType?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    const bearer = options.token === undefined ? token : options.token;
    if (bearer !== null && !('authorization' in headers)) headers.authorization = `Bearer ${bearer}`;
    let payload: string | undefined = options.raw;
    if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(`${server.issuer}${ADMIN_PREFIX}${path}`, { method, headers, body: payload });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const answer: Answer = { status: res.status, type, headers: res.headers, text, body: text && /json/.test(type) ? JSON.parse(text) : undefined };
    const pathOnly = path.split('?')[0]!;
    const op = OPERATIONS.find((o) => matches(o, method, pathOnly));
    expect(res.status, `${method} ${path}: ${text.slice(0, 300)}`).to.be.below(500);
    if (res.status >= 400) {
      expect(type, `${method} ${path}`).to.match(/^application\/problem\+json/);
      const problems = validate({ $ref: '#/components/schemas/Problem' }, answer.body, doc);
      expect(problems, `${method} ${path}: ${text}`).to.deep.equal([]);
      expect(answer.body.status).to.equal(res.status);
      expect(answer.body.detail.length, 'a detail a person can act on').to.be.greaterThan(10);
      if (op) {
        expect(doc.paths[toOpenApiPath(op.path)]![op.method].responses, `${op.id} documents ${res.status}`).to.have.property(String(res.status));
        checkedProblems.push(`${op.id} ${res.status}`);
      }
    } else {
      expect(op, `${method} ${path} is an operation`).to.not.equal(undefined);
      expect(res.status, op!.id).to.equal(op!.status);
      const documented = doc.paths[toOpenApiPath(op!.path)]![op!.method].responses[String(res.status)];
      expect(documented, `${op!.id} documents ${res.status}`).to.not.equal(undefined);
      if (res.status === 204) expect(text).to.equal('');
      else {
        expect(type).to.match(/^application\/json/);
        const problems = validate(documented.content['application/json'].schema, answer.body, doc);
        expect(problems, `${op!.id}: ${text.slice(0, 500)}`).to.deep.equal([]);
      }
      exercised.add(op!.id);
    }
    return answer;
  }

  async function adminToken(client: TestClient = admin, scope = 'admin'): Promise<string> {
    return (await oidc.clientCredentialsGrant(client.rp, scope ? { scope } : {})).access_token;
  }

  before(async () => {
    clock = testClock();
    server = await startTestServer({ store: 'redis', now: () => clock.now() });
    doc = (await (await fetch(`${server.issuer}${ADMIN_PREFIX}/openapi.json`)).json()) as Doc;
    admin = await registerClient(server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
    token = await adminToken();
  });
  after(() => server?.close());

  describe('authentication', () => {
    it('every operation without a token: 401 problem+json with a Bearer challenge', async () => {
      for (const op of OPERATIONS) {
        const path = op.path.replace(/:[A-Za-z_]+/g, 'x');
        const res = await api(op.method.toUpperCase(), path, { token: null, ...(op.body ? { body: {} } : {}) });
        expect(res.status, op.id).to.equal(401);
        expect(res.headers.get('www-authenticate'), op.id).to.match(/^Bearer realm="twofold-admin"/);
      }
    });

    it('malformed Authorization headers and unknown tokens: 401', async () => {
      const headers = ['Bearer', 'Bearer ', `Basic ${Buffer.from('a:b').toString('base64')}`, `Bearer ${token} extra`, `Bearer "${token}"`, `Token ${token}`, 'Bearer \u00e9t\u00e9', `${token}`];
      for (const authorization of headers) {
        const res = await api('GET', '/clients', { headers: { authorization } });
        expect(res.status, authorization).to.equal(401);
      }
      const unknown = await api('GET', '/clients', { token: 'a'.repeat(43) });
      expect(unknown.status).to.equal(401);
      expect(unknown.headers.get('www-authenticate')).to.include('error="invalid_token"');
      expect((await api('GET', '/clients', { token: 'a'.repeat(8_000) })).status).to.equal(401);
      // Headers past Node's 16 kB limit never reach the application: refused by the HTTP parser.
      const huge = await fetch(`${server.issuer}${ADMIN_PREFIX}/clients`, { headers: { authorization: `Bearer ${'a'.repeat(20_000)}` } });
      expect(huge.status).to.equal(431);
      // The scheme is case-insensitive (RFC 9110).
      expect((await api('GET', '/clients', { headers: { authorization: `bearer ${token}` } })).status).to.equal(200);
    });

    it('an expired token: 401 (ttl.clientCredentials of 1 second)', async () => {
      const shortLived = await startTestServer({ config: { ttl: { clientCredentials: 1 } } });
      try {
        const client = await registerClient(shortLived, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
        const expiring = await adminToken(client);
        const call = () => fetch(`${shortLived.issuer}${ADMIN_PREFIX}/policy`, { headers: { authorization: `Bearer ${expiring}` } });
        expect((await call()).status).to.equal(200);
        await new Promise((r) => setTimeout(r, 2100));
        const res = await call();
        expect(res.status).to.equal(401);
        expect(res.headers.get('content-type')).to.match(/problem\+json/);
        expect(((await res.json()) as { detail: string }).detail).to.match(/expired/);
      } finally {
        await shortLived.close();
      }
    });

    it('wrong scope: a machine client without --admin cannot get the admin scope, and its tokens get 403', async () => {
      const machine = await registerClient(server, { grantTypes: ['client_credentials'], redirectUris: [] });
      let refused: unknown;
      try {
        await adminToken(machine, 'admin');
      } catch (err) {
        refused = err;
      }
      expect((refused as { error?: string })?.error).to.equal('invalid_scope');
      const plain = await adminToken(machine, '');
      const res = await api('GET', '/users', { token: plain });
      expect(res.status).to.equal(403);
      expect(res.headers.get('www-authenticate')).to.include('error="insufficient_scope"');
      // The admin client itself, without asking for the admin scope: 403 too.
      const unscoped = await adminToken(admin, 'openid');
      expect((await api('GET', '/users', { token: unscoped })).status).to.equal(403);
    });

    it("a user's access token: 403", async () => {
      const rp = await registerClient(server);
      const user = await createUser(server, 'token-holder');
      const { tokens } = await passwordSignIn(server, rp, user);
      const res = await api('GET', '/users', { token: tokens.access_token });
      expect(res.status).to.equal(403);
      expect(res.body.detail).to.match(/user's access token/);
    });

    it('a revoked token: 401; a token of a client no longer marked admin: 403', async () => {
      const second = await registerClient(server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
      const revoked = await adminToken(second);
      expect((await api('GET', '/policy', { token: revoked })).status).to.equal(200);
      await oidc.tokenRevocation(second.rp, revoked);
      expect((await api('GET', '/policy', { token: revoked })).status).to.equal(401);

      const demoted = await adminToken(second);
      const patched = await api('PATCH', `/clients/${second.clientId}`, { body: { admin: false, scope: 'openid' } });
      expect(patched.status, patched.text).to.equal(200);
      expect((await api('GET', '/policy', { token: demoted })).status).to.equal(403);
    });
  });

  describe('every operation', () => {
    it('clients: create (secret returned once), list, get, update, rotate the secret (the old one stops working), delete', async () => {
      let res = await api('POST', '/clients', { body: { client_id: 'crm', client_name: 'CRM', redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: ['https://rp.example.com/bye'] } });
      expect(res.status).to.equal(201);
      const secret = res.body.client_secret as string;
      expect(secret).to.be.a('string').with.length.greaterThan(31);
      expect(res.body).to.include({ client_id: 'crm', client_name: 'CRM', require_mfa: false, public: false, admin: false });
      res = await api('POST', '/clients', { body: { client_id: 'spa', redirect_uris: ['http://localhost:5173/cb'], public: true } });
      expect(res.status).to.equal(201);
      expect(res.body).to.not.have.property('client_secret');

      res = await api('GET', '/clients');
      expect(res.body.items.map((c: { client_id: string }) => c.client_id)).to.include.members(['crm', 'spa', ACCOUNT_CLIENT_ID]);
      expect(res.text).to.not.include(secret);
      res = await api('GET', '/clients/crm');
      expect(res.body.redirect_uris).to.deep.equal([REDIRECT_URI]);
      expect(res.text).to.not.include(secret);

      res = await api('PATCH', '/clients/crm', { body: { require_mfa: true, client_name: 'The CRM' } });
      expect(res.body).to.include({ require_mfa: true, client_name: 'The CRM' });
      expect(res.body.redirect_uris, 'fields not given stay').to.deep.equal([REDIRECT_URI]);

      // The secret works at the token endpoint until it is rotated.
      const tokenWith = async (s: string) => {
        const res = await fetch(`${server.issuer}/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`crm:${s}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&code=x&redirect_uri=' + encodeURIComponent(REDIRECT_URI) });
        return ((await res.json()) as { error: string }).error;
      };
      expect(await tokenWith(secret), 'authenticated, then refused for the bogus code').to.equal('invalid_grant');
      res = await api('POST', '/clients/crm/rotate-secret');
      expect(res.body.client_id).to.equal('crm');
      expect(res.body.client_secret).to.be.a('string').and.not.equal(secret);
      expect(await tokenWith(secret)).to.equal('invalid_client');
      expect(await tokenWith(res.body.client_secret)).to.equal('invalid_grant');
      expect((await api('POST', '/clients/spa/rotate-secret')).status, 'a public client has no secret').to.equal(400);

      res = await api('DELETE', '/clients/spa');
      expect(res.status).to.equal(204);
      expect((await api('GET', '/clients/spa')).status).to.equal(404);
      expect((await api('DELETE', '/clients/spa')).status).to.equal(404);
      expect((await api('POST', '/clients', { body: { client_id: 'crm', redirect_uris: [REDIRECT_URI] } })).status).to.equal(409);
    });

    it("refuses to change or remove Twofold's own account-page client", async () => {
      for (const [method, path, body] of [
        ['DELETE', `/clients/${ACCOUNT_CLIENT_ID}`, undefined],
        ['PATCH', `/clients/${ACCOUNT_CLIENT_ID}`, { redirect_uris: ['https://evil.example.com/cb'] }],
        ['POST', `/clients/${ACCOUNT_CLIENT_ID}/rotate-secret`, undefined],
      ] as const) {
        const res = await api(method, path, body ? { body } : {});
        expect(res.status, `${method} ${path}`).to.be.within(400, 409);
        expect(res.body.detail).to.match(/account page/);
      }
      expect((await api('GET', `/clients/${ACCOUNT_CLIENT_ID}`)).body.redirect_uris).to.deep.equal([`${server.issuer}/account/callback`]);
    });

    it('users: create, list with search and paging, get with factors, update, disable, enable, set password (factors stay), reset factors, unlock, delete', async () => {
      const mfa = await registerClient(server, { requireMfa: true });
      let res = await api('POST', '/users', { body: { username: 'dana', password: 'dana password 1', email: 'dana@example.com', name: 'Dana', role: 'salesperson', locale: 'en-GB' } });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ username: 'dana', email: 'dana@example.com', role: 'salesperson', disabled: false });
      expect(res.text).to.not.include('dana password 1');
      for (let i = 0; i < 5; i++) await api('POST', '/users', { body: { username: `page-user-${i}`, email: `page${i}@example.com` } });

      res = await api('GET', '/users?search=page-user&limit=2&offset=0');
      expect(res.body.total).to.equal(5);
      expect(res.body.items).to.have.length(2);
      expect(res.body).to.include({ limit: 2, offset: 0 });
      const firstPage = res.body.items.map((u: { username: string }) => u.username);
      res = await api('GET', '/users?search=page-user&limit=2&offset=4');
      expect(res.body.items).to.have.length(1);
      expect(firstPage).to.not.include(res.body.items[0].username);
      res = await api('GET', '/users?search=dana%40example');
      expect(res.body.items.map((u: { username: string }) => u.username)).to.deep.equal(['dana']);

      // A user who set up an authenticator app through the real sign-in.
      const eve = await userWithTotp(server, mfa, clock, 'eve');
      res = await api('GET', '/users/eve');
      expect(res.body.factors.map((f: { type: string }) => f.type).sort()).to.deep.equal(['recovery', 'totp']);
      expect(res.text).to.not.include(eve.secret);

      res = await api('PATCH', '/users/dana', { body: { name: 'Dana Scully', role: 'sales-manager', email: null } });
      expect(res.body).to.include({ name: 'Dana Scully', role: 'sales-manager', email: null });
      res = await api('PATCH', '/users/dana', { body: { disabled: true } });
      expect(res.body.disabled).to.equal(true);
      res = await api('POST', '/users/dana/enable');
      expect(res.body.disabled).to.equal(false);
      res = await api('POST', '/users/dana/disable');
      expect(res.body.disabled).to.equal(true);
      const refused = await startSignIn(mfa, { username: 'dana', password: 'dana password 1' });
      expect(refused.page.status).to.equal(403);
      await api('POST', '/users/dana/enable');

      // A new password: the old one stops, the new one signs in, the second factor is still asked.
      res = await api('POST', '/users/eve/password', { body: { password: 'eve new password' } });
      expect(res.status).to.equal(204);
      expect((await startSignIn(mfa, eve)).page.status).to.equal(401);
      const signIn = await startSignIn(mfa, { username: 'eve', password: 'eve new password' });
      expect(signIn.page.$('label[for=code]').text(), textOf(signIn.page)).to.match(/^Code/);
      res = await api('GET', '/users/eve');
      expect(res.body.factors).to.have.length(2);
      expect(res.body.password_changed_at).to.be.a('string');

      // Lock eve's second factor with wrong codes, then unlock her.
      let page = signIn.page;
      for (let i = 0; i < server.config.mfa.lockoutThreshold && page.$('form[action$="/challenge/verify"]').length; i++) {
        page = await submitChallenge(signIn.agent, page, await wrongCode(eve.secret, clock));
        if (!page.$('form[action$="/challenge/verify"]').length && i < server.config.mfa.lockoutThreshold - 1) {
          page = (await startSignIn(mfa, { username: 'eve', password: 'eve new password' }, {}, signIn.agent)).page;
        }
      }
      expect((await failureState(server, eve.account.id)).lockedFor).to.be.greaterThan(0);
      res = await api('POST', '/users/eve/unlock');
      expect(res.status).to.equal(204);
      expect((await failureState(server, eve.account.id)).lockedFor).to.equal(0);
      const after = await startSignIn(mfa, { username: 'eve', password: 'eve new password' });
      const done = await submitChallenge(after.agent, after.page, await nextCode(eve.secret, clock));
      expect(done.redirectedTo, textOf(done)).to.be.a('string');

      res = await api('POST', '/users/eve/reset-mfa');
      expect(res.body).to.deep.equal({ removed: 2 });
      expect((await api('GET', '/users/eve')).body.factors).to.deep.equal([]);
      const leftover = await server.services.db.kysely.selectFrom('recovery_codes').select('id').where('account_id', '=', eve.account.id).execute();
      expect(leftover, 'the recovery codes go with the factors').to.deep.equal([]);
      const enrolAgain = await startSignIn(mfa, { username: 'eve', password: 'eve new password' });
      expect(enrolAgain.page.$('form[action$="/enrol"]').length, 'enrols again at the next sign-in').to.be.greaterThan(0);

      res = await api('DELETE', '/users/dana');
      expect(res.status).to.equal(204);
      expect((await api('GET', '/users/dana')).status).to.equal(404);
      expect((await api('POST', '/users', { body: { username: 'eve' } })).status).to.equal(409);
    });

    it('policy: get and update; a change applies to the next sign-in', async () => {
      let res = await api('GET', '/policy');
      expect(res.body).to.include({ require_mfa: 'per-client', grace_skips: 0, grace_until: null });
      res = await api('PATCH', '/policy', { body: { require_mfa: 'all', allowed_factors: ['totp', 'sms'], grace_skips: 2, grace_until: '2099-01-31T00:00:00Z' } });
      expect(res.body).to.deep.include({ require_mfa: 'all', allowed_factors: ['totp', 'sms'], grace_skips: 2, grace_until: '2099-01-31T00:00:00Z' });
      expect(res.body.totp).to.deep.equal({ period: 30, digits: 6, algorithm: 'sha1' });
      const plain = await registerClient(server);
      const start = await startSignIn(plain, await createUser(server, 'policy-user'));
      const offered = start.page.$('form[action$="/enrol"] input[name=method]').map((_, el) => start.page.$(el).attr('value')).get();
      expect(offered, textOf(start.page)).to.deep.equal(['totp', 'sms']);
      res = await api('PATCH', '/policy', { body: { require_mfa: 'per-client', allowed_factors: ['totp', 'sms', 'voice'], grace_skips: 0, grace_until: null } });
      expect(res.body.require_mfa).to.equal('per-client');
      const after = await startSignIn(plain, await createUser(server, 'policy-user-2'));
      expect(after.page.redirectedTo, 'password only again').to.be.a('string');
    });

    it('audit: by user, client, type (or a family), time range, with paging', async () => {
      await server.services.events.settle();
      let res = await api('GET', '/audit?user=eve&limit=500');
      const types = res.body.items.map((e: { type: string }) => e.type);
      expect(types).to.include.members(['factor.enrolled', 'admin.user_unlocked', 'factor.reset', 'password.changed']);
      expect(res.body.items.every((e: { username: string | null }) => e.username === 'eve')).to.equal(true);
      res = await api('GET', '/audit?type=admin.&client=crm');
      expect(res.body.items.map((e: { type: string }) => e.type)).to.include.members(['admin.client_added', 'admin.client_updated', 'admin.client_secret_rotated']);
      expect(res.body.items.every((e: { type: string; client_id: string }) => e.type.startsWith('admin.') && e.client_id === 'crm')).to.equal(true);
      res = await api('GET', '/audit?type=admin.client_added');
      expect(res.body.items.every((e: { type: string }) => e.type === 'admin.client_added')).to.equal(true);
      const all = (await api('GET', '/audit?limit=1000')).body;
      expect(all.total).to.be.greaterThan(10);
      const page1 = (await api('GET', '/audit?limit=3&offset=0')).body;
      const page2 = (await api('GET', '/audit?limit=3&offset=3')).body;
      expect(page1.items).to.have.length(3);
      expect(page1.total).to.equal(all.total);
      expect(page2.items.map((e: { id: string }) => e.id)).to.deep.equal(all.items.slice(3, 6).map((e: { id: string }) => e.id));
      // Times are newest first; since/until cut the range.
      const times = all.items.map((e: { at: string }) => Date.parse(e.at));
      expect([...times].sort((a, b) => b - a)).to.deep.equal(times);
      const middle = new Date(times[Math.floor(times.length / 2)]).toISOString();
      const since = (await api('GET', `/audit?since=${encodeURIComponent(middle)}&limit=1000`)).body.items;
      const until = (await api('GET', `/audit?until=${encodeURIComponent(middle)}&limit=1000`)).body.items;
      expect(since.every((e: { at: string }) => e.at >= middle)).to.equal(true);
      expect(until.every((e: { at: string }) => e.at < middle)).to.equal(true);
      expect(since.length + until.length).to.equal(all.total);
      expect((await api('GET', '/audit?since=1h')).body.total).to.equal(all.total);
    });
  });

  describe('bad input: 4xx problem+json with a useful detail, never a 500', () => {
    /** Cases the request schema of the document must also refuse: [method, path, body, status, detail]. */
    const invalidBodies: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/users', { username: 42 }, 400, /username/],
      ['POST', '/users', { username: 'ok-name', role: ['admin'] }, 400, /role/],
      ['POST', '/users', { username: 'ok-name', is_admin: true }, 400, /is_admin/],
      ['POST', '/users', {}, 400, /username/],
      ['POST', '/users', [], 400, /object|expected/i],
      ['POST', '/clients', { client_id: 'x', require_mfa: 'yes' }, 400, /require_mfa/],
      ['POST', '/clients', { client_id: 'x', redirect_uris: 'https://a.example/cb' }, 400, /redirect_uris/],
      ['POST', '/clients', { client_id: 'x', grant_types: ['implicit'] }, 400, /grant_types/],
      ['POST', '/clients', { client_id: 'x', secret: 'a'.repeat(40) }, 400, /secret/],
      ['PATCH', '/clients/crm', { require_mfa: 1 }, 400, /require_mfa/],
      ['PATCH', '/clients/crm', { client_id: 'renamed' }, 400, /client_id/],
      ['PATCH', '/users/eve', { disabled: 'no' }, 400, /disabled/],
      ['PATCH', '/users/eve', { username: 'mallory' }, 400, /username/],
      ['POST', '/users/eve/password', { password: 12345678 }, 400, /password/],
      ['POST', '/users/eve/password', { password: 'long enough', extra: 1 }, 400, /extra/],
      ['PATCH', '/policy', { require_mfa: 'sometimes' }, 400, /require_mfa/],
      ['PATCH', '/policy', { allowed_factors: [] }, 400, /allowed_factors/],
      ['PATCH', '/policy', { grace_skips: -1 }, 400, /grace_skips/],
      ['PATCH', '/policy', { grace_skips: 1.5 }, 400, /grace_skips/],
      ['PATCH', '/policy', { totp_digits: 8 }, 400, /totp_digits/],
    ];

    it('wrong types and unknown fields: 400 naming the field; the documented request schema refuses them too', async () => {
      for (const [method, path, body, status, detail] of invalidBodies) {
        const res = await api(method, path, { body });
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).to.equal(status);
        expect(res.body.detail, `${method} ${path} ${JSON.stringify(body)}`).to.match(detail);
        const op = OPERATIONS.find((o) => matches(o, method, path))!;
        const schema = doc.paths[toOpenApiPath(op.path)]![op.method].requestBody.content['application/json'].schema;
        expect(validate(schema, body, doc), `the document's schema for ${op.id} refuses ${JSON.stringify(body)}`).to.not.deep.equal([]);
      }
    });

    it('values that pass the shape but not the rules: 400 naming what to change', async () => {
      const cases: Array<[string, string, unknown, RegExp]> = [
        ['POST', '/users', { username: '' }, /username/],
        ['POST', '/users', { username: 'has space' }, /username/],
        ['POST', '/users', { username: 'x'.repeat(65) }, /username/],
        ['POST', '/users', { username: 'shortpw', password: 'short' }, /at least 8/],
        ['POST', '/users', { username: 'bad-mail', email: 'not an email' }, /email/],
        ['POST', '/users', { username: 'bad-locale', locale: 'english please' }, /locale/],
        ['POST', '/clients', { client_id: 'has space', redirect_uris: [REDIRECT_URI] }, /client_id/],
        ['POST', '/clients', { client_id: 'no-redirect' }, /redirect/],
        ['POST', '/clients', { client_id: 'bad-redirect', redirect_uris: ['http://evil.example.com/cb'] }, /redirect/],
        ['POST', '/clients', { client_id: 'frag', redirect_uris: ['https://a.example.com/cb#x'] }, /redirect/],
        ['POST', '/clients', { client_id: 'short', redirect_uris: [REDIRECT_URI], client_secret: 'short' }, /secret/],
        ['POST', '/clients', { client_id: 'pubcc', public: true, grant_types: ['client_credentials'] }, /public/],
        ['POST', '/clients', { client_id: 'sneaky', redirect_uris: [REDIRECT_URI], scope: 'openid admin' }, /admin/],
        ['POST', '/clients', { client_id: 'bad-scope', redirect_uris: [REDIRECT_URI], scope: 'openid root' }, /scope/],
        ['PATCH', '/policy', { grace_until: 'next tuesday' }, /grace_until|date|time/i],
        ['POST', '/users/eve/password', { password: 'short' }, /at least 8/],
      ];
      for (const [method, path, body, detail] of cases) {
        const res = await api(method, path, { body });
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${res.text}`).to.equal(400);
        expect(res.body.detail, `${method} ${path} ${JSON.stringify(body)}`).to.match(detail);
      }
    });

    it('bad query strings: 400 naming the parameter', async () => {
      const cases: Array<[string, RegExp]> = [
        ['/users?limit=abc', /limit/],
        ['/users?limit=0', /limit/],
        ['/users?limit=100000', /limit/],
        ['/users?offset=-1', /offset/],
        ['/users?limit=1&limit=2', /limit/],
        ['/users?sort=name', /sort/],
        ['/audit?since=yesterday-ish', /since/],
        ['/audit?until=soon', /until/],
        ['/audit?user[$ne]=x', /user/],
      ];
      for (const [path, detail] of cases) {
        const res = await api('GET', path);
        expect(res.status, `${path}: ${res.text}`).to.equal(400);
        expect(res.body.detail, path).to.match(detail);
      }
    });

    it('malformed JSON, a body over 64 kB, and a body that is not JSON', async () => {
      let res = await api('POST', '/users', { raw: '{"username": "x",' });
      expect(res.status).to.equal(400);
      expect(res.body.detail).to.match(/JSON/);
      res = await api('POST', '/users', { raw: 'null' });
      expect(res.status).to.equal(400);
      res = await api('POST', '/users', { raw: '"just a string"' });
      expect(res.status).to.equal(400);
      res = await api('POST', '/users', { body: { username: 'big', name: 'x'.repeat(70 * 1024) } });
      expect(res.status).to.equal(413);
      expect(res.body.detail).to.match(/64 kB/);
      res = await api('POST', '/users', { raw: JSON.stringify({ username: 'x'.repeat(1024 * 1024) }) });
      expect(res.status).to.equal(413);
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        res = await api('POST', '/users', { raw: 'username=form-user', contentType });
        expect(res.status, contentType).to.equal(415);
        expect(res.body.detail, contentType).to.match(/application\/json/);
      }
      res = await api('POST', '/users', { headers: { 'content-type': 'application/json' } });
      expect(res.status).to.equal(400);
      // Operations without a body or query take none: unknown fields are refused, not ignored.
      res = await api('POST', '/users/eve/disable', { body: { reason: 'left the company' } });
      expect(res.status).to.equal(400);
      expect(res.body.detail).to.match(/reason/);
      expect((await api('GET', '/users/eve')).body.disabled).to.equal(false);
      res = await api('GET', '/clients?include_secrets=1');
      expect(res.status).to.equal(400);
      expect(res.body.detail).to.match(/include_secrets/);
      expect((await api('GET', '/users/nobody-here')).status).to.equal(404);
      expect((await api('GET', '/users/%00')).status).to.equal(400);
      expect((await api('GET', '/users/' + 'x'.repeat(5000))).status).to.equal(404);
      expect((await api('POST', '/users/nobody-here/unlock')).status).to.equal(404);
      // Anything not in the table is a problem document too.
      res = await api('GET', '/nothing-here');
      expect(res.status).to.equal(404);
      expect(res.type).to.match(/problem\+json/);
      res = await api('PUT', '/users');
      expect(res.status).to.equal(405);
      expect(res.headers.get('allow')).to.match(/GET/).and.match(/POST/);
    });
  });

  describe('bad input on PostgreSQL, which refuses NUL bytes in text', () => {
    it('a NUL anywhere in the address, the query or the body: 400 naming where, never a 500', async () => {
      const pg = await startTestServer({ db: 'postgres' });
      try {
        const client = await registerClient(pg, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
        const bearer = await adminToken(client);
        await pg.services.accounts.create({ username: 'nul-target' });
        const cases: Array<[string, string, unknown, RegExp]> = [
          ['GET', '/clients/a%00b', undefined, /client_id/],
          ['PATCH', '/clients/a%00b', { require_mfa: true }, /client_id/],
          ['DELETE', '/clients/a%00b', undefined, /client_id/],
          ['POST', '/clients/a%00b/rotate-secret', undefined, /client_id/],
          ['GET', '/users/a%00b', undefined, /username/],
          ['GET', '/users?search=a%00b', undefined, /search/],
          ['GET', '/audit?user=a%00b', undefined, /user/],
          ['GET', '/audit?client=a%00b', undefined, /client/],
          ['GET', '/audit?type=a%00b', undefined, /type/],
          ['POST', '/users', { username: 'fine', name: 'a\u0000b' }, /name/],
          ['PATCH', '/users/nul-target', { name: 'x\u0000' }, /name/],
          ['POST', '/clients', { client_id: 'named', client_name: 'a\u0000b', redirect_uris: [REDIRECT_URI] }, /client_name/],
          ['POST', '/clients', { client_id: 'uris', redirect_uris: [`${REDIRECT_URI}\u0000`] }, /redirect_uris\[0\]/],
          ['POST', '/users/nul-target/password', { password: 'long enough\u0000' }, /password/],
        ];
        for (const [method, path, body, where] of cases) {
          const res = await fetch(`${pg.issuer}${ADMIN_PREFIX}${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
          const problem = (await res.json()) as { detail: string };
          expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${problem.detail}`).to.equal(400);
          expect(res.headers.get('content-type')).to.match(/problem\+json/);
          expect(problem.detail).to.match(where).and.include('NUL');
        }
        expect((await pg.services.clients.list()).map((c) => c.client_id)).to.not.include.members(['named', 'uris']);
      } finally {
        await pg.close();
      }
    });

    it('an audit span reaching before 1970 (or past any bigint) means "from the start": 200, never a 500', async () => {
      const pg = await startTestServer({ db: 'postgres' });
      try {
        const client = await registerClient(pg, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
        const bearer = await adminToken(client);
        // One admin action, so the trail has something in it.
        const created = await fetch(`${pg.issuer}${ADMIN_PREFIX}/users`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'span-target' }) });
        expect(created.status).to.equal(201);
        const get = async (query: string) => {
          const res = await fetch(`${pg.issuer}${ADMIN_PREFIX}/audit?${query}`, { headers: { authorization: `Bearer ${bearer}` } });
          return { status: res.status, body: (await res.json()) as { total: number; detail?: string } };
        };
        const all = await get('limit=1000');
        expect(all.status).to.equal(200);
        expect(all.body.total).to.be.above(0);
        for (const span of ['200000000000d', '9999999999999999999s', '600000d']) {
          const since = await get(`since=${span}`);
          expect(since.status, `since=${span}: ${since.body.detail}`).to.equal(200);
          expect(since.body.total, `since=${span}`).to.equal(all.body.total);
          const until = await get(`until=${span}`);
          expect(until.status, `until=${span}: ${until.body.detail}`).to.equal(200);
          expect(until.body.total, `until=${span}`).to.equal(0);
        }
      } finally {
        await pg.close();
      }
    });
  });

  describe('require_mfa through the API', () => {
    it('changes the very next sign-in of that client, also over an existing session', async () => {
      const created = await api('POST', '/clients', { body: { client_id: 'shop', redirect_uris: [REDIRECT_URI] } });
      const shop: TestClient = { clientId: 'shop', secret: created.body.client_secret, rp: await relyingParty(server, 'shop', created.body.client_secret) };
      const other = await registerClient(server, { requireMfa: true });
      const user = await userWithTotp(server, other, clock, 'shopper');
      const agent = new Agent();

      // Before: the password is enough.
      const first = await passwordSignIn(server, shop, user, {}, agent);
      expect(first.tokens.claims()!.acr).to.equal('pwd');

      expect((await api('PATCH', '/clients/shop', { body: { require_mfa: true } })).body.require_mfa).to.equal(true);
      // The same browser, over its password session: now the second factor is asked.
      const again = await startSignIn(shop, user, {}, agent);
      expect(again.page.$('label[for=code]').text(), textOf(again.page)).to.match(/^Code/);
      const done = await submitChallenge(agent, again.page, await nextCode(user.secret, clock));
      const tokens = await exchange(shop, again.auth, done.redirectedTo!);
      expect(tokens.claims()!.acr).to.equal('mfa');
      expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      // A new browser: the password alone gets nothing.
      const fresh = await startSignIn(shop, user);
      expect(fresh.page.redirectedTo).to.equal(undefined);
      expect(fresh.page.$('label[for=code]').text()).to.match(/^Code/);

      expect((await api('PATCH', '/clients/shop', { body: { require_mfa: false } })).body.require_mfa).to.equal(false);
      const relaxed = await passwordSignIn(server, shop, user);
      expect(relaxed.tokens.claims()!.acr).to.equal('pwd');
    });
  });

  describe('the OpenAPI document', () => {
    it('lists exactly the routes of the router, with the same methods and paths', async () => {
      const router = adminRoutes(server.twofold.provider, server.services);
      const routed = router.stack
        .filter((layer) => layer.methods.length > 0 && !String(layer.path).includes('*') && !String(layer.path).endsWith('/openapi.json'))
        .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${toOpenApiPath(String(layer.path).slice(ADMIN_PREFIX.length))}`));
      const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      expect([...routed].sort()).to.deep.equal([...documented].sort());
      expect(routed).to.have.length(OPERATIONS.length);
      expect(doc.openapi).to.equal('3.1.0');
      expect(doc.servers[0]!.url).to.equal(`${server.issuer}${ADMIN_PREFIX}`);
      const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o: { operationId: string }) => o.operationId));
      expect(new Set(ids).size).to.equal(ids.length);
      // The document is public (a client needs it before it has a token) and says how to get one.
      expect(doc.components.securitySchemes.adminToken.flows.clientCredentials.tokenUrl).to.equal(`${server.issuer}/token`);
    });

    it('the schema checker used above is not a rubber stamp', () => {
      const schema = doc.paths['/users/{username}']!.get.responses['200'].content['application/json'].schema;
      expect(validate(schema, { id: 'x' }, doc)).to.not.deep.equal([]);
      expect(validate({ $ref: '#/components/schemas/Problem' }, { type: 'about:blank', title: 'x', status: '400', detail: 'd' }, doc)).to.not.deep.equal([]);
      expect(validate({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }, { a: 'x', b: 1 }, doc)).to.deep.equal(['$: unexpected property "b"']);
      expect(validate({ unknownKeyword: true }, 1, doc)).to.not.deep.equal([]);
    });

    it('every operation was exercised with a success, and every answer matched the document', () => {
      const missing = OPERATIONS.map((op) => op.id).filter((id) => !exercised.has(id));
      expect(missing).to.deep.equal([]);
      expect(checkedProblems.length).to.be.greaterThan(OPERATIONS.length);
    });
  });
});
