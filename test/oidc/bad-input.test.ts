// Bad input, each answered with a clear error and never a 500 or a stack trace, and without
// changing anything: no session, no sign-in, no failure counted where none was earned.
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, formOf, textOf, toPage, type Page } from '../support/agent.js';
import { authorizationUrl, createUser, exchange, isCallback, openAuthorization, REDIRECT_URI, registerClient, submitPassword, type TestClient } from '../support/oidc.js';
import { keys } from '../../src/store/session-store.js';
import { usernameKey } from '../../src/db/repos/accounts.js';

const PASSWORD = 'correct horse battery staple';

/** A response that is one of our pages with this status, with no internals in it. */
async function expectOurPage(res: Response, status: number): Promise<Page> {
  const page = await toPage(res, res.url);
  expect(page.status, textOf(page)).to.equal(status);
  expect(page.headers.get('content-type')).to.match(/^text\/html/);
  expect(page.$('header.brand').length, 'our layout').to.equal(1);
  expect(page.html).to.not.match(/\n\s+at |Error:|node_modules|stack/i);
  return page;
}

/** Starts an authorization in a fresh browser and returns the sign-in page. */
async function signInPage(client: TestClient) {
  const agent = new Agent();
  const auth = await authorizationUrl(client);
  const page = await openAuthorization(agent, auth);
  expect(page.$('input[name=password]').length, textOf(page)).to.equal(1);
  return { agent, auth, page, action: new URL(formOf(page, '/login').action, page.url).href, csrf: formOf(page, '/login').values._csrf! };
}

async function failuresFor(server: TestServer, username: string): Promise<number> {
  return (await server.services.store.peek(keys.signInFailuresAccount(usernameKey(username)))).count;
}

async function sessionCookie(agent: Agent, server: TestServer): Promise<string | undefined> {
  return (await agent.jar.getCookies(server.issuer)).find((c) => c.key === '_session')?.value;
}

describe('bad input: authorization requests and routes', () => {
  let server: TestServer;
  let client: TestClient;

  before(async () => {
    server = await startTestServer();
    client = await registerClient(server);
    await createUser(server, 'dora', PASSWORD);
  });
  after(() => server?.close());

  const authorize = (params: Record<string, string>) => fetch(`${server.issuer}/auth?${new URLSearchParams(params)}`, { redirect: 'manual' });
  const valid = () => ({ client_id: client.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's1' });

  it('answers an unknown client with our error page, status 400, and no redirect', async () => {
    const res = await authorize({ ...valid(), client_id: 'no-such-client' });
    expect(res.headers.get('location')).to.equal(null);
    expect(res.headers.get('set-cookie')).to.equal(null);
    const page = await expectOurPage(res, 400);
    expect(textOf(page)).to.include('not registered');
  });

  it('answers an unregistered redirect URI with our error page, never a redirect', async () => {
    for (const redirect of ['https://evil.example.com/callback', `${REDIRECT_URI}/extra`, `${REDIRECT_URI}?x=1`, 'javascript:alert(1)']) {
      const res = await authorize({ ...valid(), redirect_uri: redirect });
      expect(res.headers.get('location'), redirect).to.equal(null);
      const page = await expectOurPage(res, 400);
      expect(textOf(page)).to.include('has not registered');
    }
  });

  it('refuses a request without PKCE, or with the plain method, by telling the client', async () => {
    const { code_challenge: _c, ...withoutPkce } = valid();
    for (const params of [withoutPkce, { ...valid(), code_challenge_method: 'plain' }]) {
      const res = await authorize(params);
      expect(res.status).to.equal(303);
      const location = new URL(res.headers.get('location')!);
      expect(location.href.startsWith(REDIRECT_URI)).to.equal(true);
      expect(location.searchParams.get('error')).to.equal('invalid_request');
      expect(location.searchParams.get('error_description')).to.match(/code_challenge|PKCE/i);
      expect(location.searchParams.get('state')).to.equal('s1');
      expect(res.headers.get('set-cookie'), 'no interaction started').to.equal(null);
    }
  });

  it('refuses malformed authorization requests with a clear error', async () => {
    const res = await authorize({ ...valid(), response_type: 'token' });
    expect(res.status).to.equal(303);
    const fragment = new URLSearchParams(new URL(res.headers.get('location')!).hash.slice(1)); // a token response type answers in the fragment
    expect(fragment.get('error')).to.equal('unsupported_response_type');
    await expectOurPage(await authorize({}), 400);
    await expectOurPage(await fetch(`${server.issuer}/auth?client_id=${client.clientId}&client_id=other`, { redirect: 'manual' }), 400);
  });

  it('answers unknown routes with our 404 page (HTML) or a problem document (JSON)', async () => {
    for (const path of ['/nope', '/interaction', '/interaction/', '/static/../../etc/passwd', '/.well-known/nope', '/auth/x/y']) {
      const page = await expectOurPage(await fetch(server.issuer + path, { redirect: 'manual' }), 404);
      expect(page.$('h1').text(), path).to.equal('Not found');
    }
    const json = await fetch(`${server.issuer}/nope`, { headers: { accept: 'application/json' } });
    expect(json.status).to.equal(404);
    expect(json.headers.get('content-type')).to.match(/json/);
    expect(((await json.json()) as { status: number }).status).to.equal(404);
  });

  it('answers a wrong HTTP method with 405 and the methods the address takes', async () => {
    const { page } = await signInPage(client);
    const uid = new URL(page.url).pathname.split('/')[2];
    const cases: Array<[string, string, string]> = [
      ['PUT', `/interaction/${uid}/login`, 'POST'],
      ['GET', `/interaction/${uid}/challenge/verify`, 'POST'],
      ['DELETE', `/interaction/${uid}`, 'GET'],
      ['GET', '/token', 'POST'],
      ['DELETE', '/token', 'POST'],
      ['GET', '/token/introspection', 'POST'],
      ['PUT', '/.well-known/openid-configuration', 'GET'],
      ['POST', '/jwks', 'GET'],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await fetch(server.issuer + path, { method, redirect: 'manual' });
      const shown = await expectOurPage(res, 405);
      expect(res.headers.get('allow'), `${method} ${path}`).to.include(allowed);
      expect(shown.$('h1').text()).to.equal('Method not allowed');
    }
  });

  it('answers token-endpoint garbage with OAuth errors, not 500s', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.issuer}/token`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['grant_type=authorization_code&code=x', {}, 400, 'invalid_request'],
      [`grant_type=authorization_code&code=x&client_id=nope&client_secret=${'y'.repeat(40)}`, {}, 401, 'invalid_client'],
      [`grant_type=nonsense&client_id=${client.clientId}&client_secret=${client.secret}`, {}, 400, 'unsupported_grant_type'],
      [`grant_type=authorization_code&code=x&client_id=${client.clientId}`, { authorization: 'Basic !!!' }, 400, 'invalid_request'],
      [`grant_type=authorization_code&code=nope&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${'a'.repeat(43)}`, { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}` }, 400, 'invalid_grant'],
    ];
    for (const [body, headers, status, error] of cases) {
      const res = await post(body, headers);
      expect(res.status, body).to.equal(status);
      expect(((await res.json()) as { error: string }).error, body).to.equal(error);
    }
    const huge = await post(`grant_type=client_credentials&scope=${'x'.repeat(100_000)}`);
    expect(huge.status).to.be.within(400, 499);
  });
});

describe('bad input: the sign-in interaction', () => {
  let server: TestServer;
  let client: TestClient;

  before(async () => {
    server = await startTestServer();
    client = await registerClient(server);
    await createUser(server, 'erin', PASSWORD);
  });
  after(() => server?.close());

  it('refuses a tampered interaction id in the URL and changes nothing', async () => {
    const mine = await signInPage(client);
    const theirs = await signInPage(client);
    const theirUid = new URL(theirs.page.url).pathname.split('/')[2]!;
    const myUid = new URL(mine.page.url).pathname.split('/')[2]!;

    // A changed id, and someone else's id, in my browser: expired page, nothing else.
    const tampered = myUid.slice(0, -1) + (myUid.endsWith('A') ? 'B' : 'A');
    for (const uid of [tampered, theirUid, '%00', '%2F', 'x'.repeat(500)]) {
      await expectOurPage(await mine.agent.get(`${server.issuer}/interaction/${uid}`), 400);
    }
    // My interaction cookie sent to their interaction's address, with my form token: refused.
    const myCookies = await mine.agent.jar.getCookieString(mine.page.url);
    const res = await fetch(`${server.issuer}/interaction/${theirUid}/login`, {
      method: 'POST',
      headers: { cookie: myCookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: mine.csrf, username: 'erin', password: PASSWORD }).toString(),
      redirect: 'manual',
    });
    await expectOurPage(res, 400);
    expect(res.headers.get('location')).to.equal(null);

    // Both interactions still work for their own browsers.
    const done = await submitPassword(theirs.agent, theirs.page, 'erin', PASSWORD);
    expect(done.redirectedTo).to.satisfy(isCallback);
    const mineDone = await submitPassword(mine.agent, mine.page, 'erin', PASSWORD);
    expect(mineDone.redirectedTo).to.satisfy(isCallback);
  });

  it('refuses a replayed interaction: posting to a finished sign-in', async () => {
    const { agent, auth, page, action, csrf } = await signInPage(client);
    const done = await submitPassword(agent, page, 'erin', PASSWORD);
    expect(done.redirectedTo).to.satisfy(isCallback);
    await exchange(client, auth, done.redirectedTo!);

    const replay = await agent.post(action, { _csrf: csrf, username: 'erin', password: PASSWORD });
    const shown = await expectOurPage(replay, 400);
    expect(textOf(shown)).to.include('expired or was already used');
    expect(replay.headers.get('location')).to.equal(null);
    // The resume step cannot be replayed either.
    const resume = `${server.issuer}/auth/${new URL(page.url).pathname.split('/')[2]}`;
    const again = await agent.get(resume);
    expect(again.headers.get('location')).to.equal(null);
    await expectOurPage(again, 400);
  });

  it('refuses a form without its CSRF token, or with a wrong one: 403, no sign-in, no failure counted', async () => {
    const { agent, page, action } = await signInPage(client);
    const other = await signInPage(client);
    for (const token of [undefined, '', 'wrong', other.csrf]) {
      const form: Record<string, string> = { username: 'erin', password: token === other.csrf ? PASSWORD : 'wrong password' };
      if (token !== undefined) form._csrf = token;
      const res = await agent.post(action, form);
      const shown = await expectOurPage(res, 403);
      expect(textOf(shown)).to.include('expired');
      expect(res.headers.get('location')).to.equal(null);
    }
    expect(await failuresFor(server, 'erin')).to.equal(0);
    expect(await sessionCookie(agent, server)).to.equal(undefined);
    // The real form still works.
    const done = await submitPassword(agent, page, 'erin', PASSWORD);
    expect(done.redirectedTo).to.satisfy(isCallback);
  });

  it('refuses an oversized form body with our 413 page', async () => {
    const { agent, action, csrf } = await signInPage(client);
    const res = await agent.post(action, { _csrf: csrf, username: 'erin', password: 'p'.repeat(100 * 1024) });
    const shown = await expectOurPage(res, 413);
    expect(textOf(shown)).to.include('too large');
    expect(await failuresFor(server, 'erin')).to.equal(0);
    const json = await agent.request(action, { method: 'POST', body: JSON.stringify({ _csrf: csrf, junk: 'j'.repeat(100 * 1024) }), headers: { 'content-type': 'application/json' } });
    await expectOurPage(json, 413);
  });

  it('refuses bodies it cannot read (bad compression, unknown type) without a 500', async () => {
    const { agent, action, csrf } = await signInPage(client);
    const gzip = await agent.request(action, { method: 'POST', body: `_csrf=${csrf}&username=erin&password=x`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' } });
    expect(gzip.status).to.be.within(400, 499);
    await expectOurPage(gzip, gzip.status);
    const xml = await agent.request(action, { method: 'POST', body: '<login/>', headers: { 'content-type': 'application/xml' } });
    await expectOurPage(xml, 403); // no form token could be read
  });

  it('expires an interaction after ttl.interaction: the page and the form answer "expired"', async () => {
    const shortLived = await startTestServer({ config: { ttl: { interaction: 2 } } });
    try {
      const rp = await registerClient(shortLived);
      await createUser(shortLived, 'erin', PASSWORD);
      const { agent, page, action, csrf } = await signInPage(rp);
      const cookies = await agent.jar.getCookieString(page.url);
      await new Promise((r) => setTimeout(r, 2500));

      // The browser has dropped its expired cookie...
      await expectOurPage(await agent.get(page.url), 400);
      // ...and one that kept it finds nothing on the server either.
      const stale = await fetch(action, {
        method: 'POST',
        headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, username: 'erin', password: PASSWORD }).toString(),
        redirect: 'manual',
      });
      const shown = await expectOurPage(stale, 400);
      expect(textOf(shown)).to.include('expired');
      expect(stale.headers.get('location')).to.equal(null);
    } finally {
      await shortLived.close();
    }
  });
});

for (const setup of [{ db: 'sqlite', store: 'memory' }, { db: 'postgres', store: 'redis' }] as const) {
  describe(`bad input: sign-in form fields (${setup.db} + ${setup.store})`, () => {
    let server: TestServer;
    let client: TestClient;

    before(async () => {
      server = await startTestServer(setup);
      client = await registerClient(server);
      await createUser(server, 'frank', PASSWORD);
    });
    after(() => server?.close());

    async function post(body: string | Buffer, contentType = 'application/x-www-form-urlencoded') {
      const s = await signInPage(client);
      const res = await fetch(s.action, {
        method: 'POST',
        headers: { cookie: await s.agent.jar.getCookieString(s.action), 'content-type': contentType },
        body: typeof body === 'string' ? body.replace('CSRF', encodeURIComponent(s.csrf)) : Buffer.from(body.toString('latin1').replace('CSRF', s.csrf), 'latin1'),
        redirect: 'manual',
      });
      return { res, ...s };
    }

    it('answers username or password sent as arrays or objects with 400 and the normal message', async () => {
      for (const body of [
        '_csrf=CSRF&username[]=frank&password=x',
        '_csrf=CSRF&username[]=frank&username[]=other&password=x',
        '_csrf=CSRF&username=frank&password[]=x',
        '_csrf=CSRF&username[a]=frank&password=x',
        '_csrf=CSRF&username=frank&password[toString]=x',
        '_csrf=CSRF&username[__proto__][x]=1&password=x',
        '_csrf=CSRF&username=frank&username=frank&password=x',
      ]) {
        const { res } = await post(body);
        const shown = await expectOurPage(res, 400);
        expect(shown.$('.error').text(), body).to.equal('Enter your username and password.');
        expect(shown.$('form[action$="/login"]').length).to.equal(1);
      }
      expect(await failuresFor(server, 'frank')).to.equal(0);
    });

    it('answers a 10 kB password with the normal "Invalid username or password"', async () => {
      for (const username of ['frank', 'nobody']) {
        const { res } = await post(`_csrf=CSRF&username=${username}&password=${'p'.repeat(10 * 1024)}`);
        const shown = await expectOurPage(res, 401);
        expect(shown.$('.error').text()).to.equal('Invalid username or password');
      }
    });

    it('answers non-UTF-8 bytes, NUL and odd encodings in the form like any wrong sign-in', async () => {
      const bodies: Array<string | Buffer> = [
        Buffer.concat([Buffer.from('_csrf=CSRF&username='), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('&password=x')]),
        Buffer.concat([Buffer.from('_csrf=CSRF&username=frank&password='), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80])]),
        '_csrf=CSRF&username=%FF%FE&password=%C3%28',
        '_csrf=CSRF&username=%ED%A0%80&password=x',
        '_csrf=CSRF&username=fr%00ank&password=x%00y',
        `_csrf=CSRF&username=${'u'.repeat(10 * 1024)}&password=x`,
        '_csrf=CSRF&username=%E2%80%AEknarf&password=x',
      ];
      for (const body of bodies) {
        const { res } = await post(body);
        const shown = await expectOurPage(res, 401);
        expect(shown.$('.error').text(), String(body)).to.equal('Invalid username or password');
      }
      const { res } = await post(Buffer.from('_csrf=CSRF&username=frank&password=\xff'), 'application/x-www-form-urlencoded; charset=iso-8859-1');
      await expectOurPage(res, 401);
    });

    it('still signs the user in with the right password after all that', async () => {
      const { agent, page } = await signInPage(client);
      const done = await submitPassword(agent, page, 'frank', PASSWORD);
      expect(done.redirectedTo).to.satisfy(isCallback);
    });
  });
}
