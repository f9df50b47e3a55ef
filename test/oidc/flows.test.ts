// The relying party's view of Twofold: openid-client 6 against a real server, the Agent playing
// the user's browser. The main flow runs on both the embedded setup (SQLite + memory) and the
// production one (PostgreSQL + Redis); the client kinds and grants run on the embedded one.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent, textOf } from '../support/agent.js';
import { authorizationUrl, createUser, exchange, isCallback, openAuthorization, passwordSignIn, registerClient, relyingParty, submitPassword, type TestClient } from '../support/oidc.js';
import { rejection, signOut } from './helpers.js';

const SETUPS = [
  { db: 'sqlite', store: 'memory' },
  { db: 'postgres', store: 'redis' },
] as const;

for (const setup of SETUPS) {
  describe(`OIDC flows with openid-client (${setup.db} + ${setup.store})`, () => {
    let server: TestServer;
    let client: TestClient;
    let user: Awaited<ReturnType<typeof createUser>>;

    before(async () => {
      server = await startTestServer(setup);
      client = await registerClient(server, { name: 'CRM' });
      user = await createUser(server, 'Alice', 'correct horse battery staple', { email: 'alice@example.com', name: 'Alice Liddell', role: 'sales' });
    });
    after(() => server?.close());

    it('publishes discovery metadata that matches what the provider does', async () => {
      const meta = client.rp.serverMetadata();
      expect(meta.issuer).to.equal(server.issuer);
      for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint', 'jwks_uri'] as const) {
        expect(meta[endpoint], endpoint).to.be.a('string').and.satisfy((u: string) => u.startsWith(server.issuer));
      }
      expect(meta.response_types_supported).to.deep.equal(['code']);
      expect(meta.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(meta.grant_types_supported).to.include.members(['authorization_code', 'refresh_token', 'client_credentials']);
      expect(meta.acr_values_supported).to.have.members(['pwd', 'mfa']);
      expect(meta.claims_supported).to.include.members(['sub', 'acr', 'amr', 'auth_time', 'preferred_username', 'name', 'email', 'email_verified', 'role']);
      expect(meta.id_token_signing_alg_values_supported).to.include.members(['RS256', 'ES256']);
      const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Array<{ alg?: string; kty: string; d?: string }> };
      expect(jwks.keys.map((k) => k.kty)).to.include.members(['RSA', 'EC']);
      expect(jwks.keys.every((k) => k.d === undefined), 'no private key material').to.equal(true);
    });

    it('signs in with code + PKCE and issues an ID token with exactly the expected claims', async () => {
      const before = Math.floor(Date.now() / 1000);
      const { tokens } = await passwordSignIn(server, client, user);
      const claims = tokens.claims()!;
      expect(claims.sub).to.equal(user.account.id);
      expect(claims.aud).to.equal(client.clientId);
      expect(claims.acr).to.equal('pwd');
      expect(claims.amr).to.deep.equal(['pwd']);
      expect(claims.auth_time).to.be.within(before - 1, Math.floor(Date.now() / 1000) + 1);
      expect(Object.keys(claims)).to.have.members(['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'acr', 'amr', 'auth_time']);
      expect(tokens.token_type.toLowerCase()).to.equal('bearer');
      expect(tokens.refresh_token).to.be.a('string');
      expect(tokens.scope!.split(' ')).to.have.members(['openid', 'profile', 'email']);
    });

    it('answers userinfo with the account claims the scopes release', async () => {
      const { tokens } = await passwordSignIn(server, client, user);
      const info = await oidc.fetchUserInfo(client.rp, tokens.access_token, user.account.id);
      expect(info).to.deep.include({ sub: user.account.id, preferred_username: 'Alice', name: 'Alice Liddell', email: 'alice@example.com', email_verified: false, role: 'sales' });

      const { tokens: openidOnly } = await passwordSignIn(server, client, user, { scope: 'openid' });
      const bare = await oidc.fetchUserInfo(client.rp, openidOnly.access_token, user.account.id);
      expect(Object.keys(bare)).to.deep.equal(['sub']);
    });

    it('refreshes tokens for a confidential client without rotating its refresh token', async () => {
      const { tokens } = await passwordSignIn(server, client, user);
      const refreshed = await oidc.refreshTokenGrant(client.rp, tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string').and.not.equal(tokens.access_token);
      expect(refreshed.claims()!.sub).to.equal(user.account.id);
      expect(refreshed.claims()!.acr).to.equal('pwd');
      expect(refreshed.claims()!.auth_time).to.equal(tokens.claims()!.auth_time);
      expect(refreshed.refresh_token ?? tokens.refresh_token).to.equal(tokens.refresh_token);
      const again = await oidc.refreshTokenGrant(client.rp, tokens.refresh_token!);
      expect((await oidc.tokenIntrospection(client.rp, again.access_token)).active).to.equal(true);
    });

    it('rotates a public client’s refresh token, and a replayed one revokes the whole grant', async () => {
      const publicClient = await registerClient(server, { public: true });
      const { tokens } = await passwordSignIn(server, publicClient, user);
      const first = await oidc.refreshTokenGrant(publicClient.rp, tokens.refresh_token!);
      expect(first.refresh_token).to.be.a('string').and.not.equal(tokens.refresh_token);
      const second = await oidc.refreshTokenGrant(publicClient.rp, first.refresh_token!);
      expect(second.refresh_token).to.not.equal(first.refresh_token);

      // Someone replays a refresh token already used: refused, and the current one dies with it.
      const replay = await rejection(oidc.refreshTokenGrant(publicClient.rp, tokens.refresh_token!));
      expect(replay.error).to.equal('invalid_grant');
      const current = await rejection(oidc.refreshTokenGrant(publicClient.rp, second.refresh_token!));
      expect(current.error).to.equal('invalid_grant');
    });

    it('introspects an access token: active, scope, client_id, sub', async () => {
      const { tokens } = await passwordSignIn(server, client, user);
      const info = await oidc.tokenIntrospection(client.rp, tokens.access_token);
      expect(info.active).to.equal(true);
      expect(info.client_id).to.equal(client.clientId);
      expect(info.sub).to.equal(user.account.id);
      expect(String(info.scope).split(' ')).to.have.members(['openid', 'profile', 'email']);
      expect(info.exp).to.be.greaterThan(Date.now() / 1000);

      expect((await oidc.tokenIntrospection(client.rp, 'not-a-token')).active).to.equal(false);
    });

    it('revokes an access token: it no longer introspects active or opens userinfo', async () => {
      const { tokens } = await passwordSignIn(server, client, user);
      await oidc.tokenRevocation(client.rp, tokens.access_token);
      expect((await oidc.tokenIntrospection(client.rp, tokens.access_token)).active).to.equal(false);
      const userinfo = await rejection(oidc.fetchUserInfo(client.rp, tokens.access_token, user.account.id));
      expect(userinfo.status).to.equal(401);
      // Another client can neither revoke nor introspect it (RFC 7009 2.1).
      const { tokens: other } = await passwordSignIn(server, client, user);
      const stranger = await registerClient(server);
      expect((await rejection(oidc.tokenRevocation(stranger.rp, other.access_token))).error).to.equal('invalid_request');
      expect((await oidc.tokenIntrospection(stranger.rp, other.access_token)).active).to.equal(false);
      expect((await oidc.tokenIntrospection(client.rp, other.access_token)).active).to.equal(true);
    });

    it('revokes a refresh token, and the access tokens of its grant with it', async () => {
      const { tokens } = await passwordSignIn(server, client, user);
      expect((await oidc.tokenIntrospection(client.rp, tokens.refresh_token!)).active).to.equal(true);
      await oidc.tokenRevocation(client.rp, tokens.refresh_token!);
      expect((await oidc.tokenIntrospection(client.rp, tokens.refresh_token!)).active).to.equal(false);
      expect((await oidc.tokenIntrospection(client.rp, tokens.access_token)).active).to.equal(false);
      expect((await rejection(oidc.refreshTokenGrant(client.rp, tokens.refresh_token!))).error).to.equal('invalid_grant');
    });

    it('reuses the SSO session for the next authorization, without a sign-in page', async () => {
      const { agent } = await passwordSignIn(server, client, user);
      const auth = await authorizationUrl(client);
      const page = await openAuthorization(agent, auth);
      expect(page.redirectedTo, textOf(page)).to.be.a('string');
      const tokens = await exchange(client, auth, page.redirectedTo!);
      expect(tokens.claims()!.sub).to.equal(user.account.id);
    });

    it('ends the session through our logout page and returns to post_logout_redirect_uri', async () => {
      const { tokens, agent } = await passwordSignIn(server, client, user);
      const endUrl = oidc.buildEndSessionUrl(client.rp, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'https://rp.example.com/signed-out',
        state: 'bye-123',
      });
      const confirm = await agent.open(endUrl.href);
      expect(confirm.status).to.equal(200);
      expect(confirm.$('h1').text()).to.equal('Sign out?');
      expect(textOf(confirm)).to.include('CRM');
      const done = await signOut(agent, confirm, (l) => l.startsWith('https://rp.example.com/'));
      const back = new URL(done.redirectedTo!);
      expect(back.origin + back.pathname).to.equal('https://rp.example.com/signed-out');
      expect(back.searchParams.get('state')).to.equal('bye-123');

      // The session is gone: its tokens are revoked and the next authorization asks to sign in.
      expect((await oidc.tokenIntrospection(client.rp, tokens.access_token)).active).to.equal(false);
      expect((await rejection(oidc.refreshTokenGrant(client.rp, tokens.refresh_token!))).error).to.equal('invalid_grant');
      const next = await openAuthorization(agent, await authorizationUrl(client));
      expect(next.redirectedTo).to.equal(undefined);
      expect(next.$('form[action$="/login"] input[name=password]').length).to.equal(1);
    });

    it('signs out of one application only when the user asks, keeping the session for others', async () => {
      const other = await registerClient(server, { name: 'Wiki' });
      const { tokens, agent } = await passwordSignIn(server, client, user);
      const confirm = await agent.open(oidc.buildEndSessionUrl(client.rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://rp.example.com/signed-out' }).href);
      const done = await agent.submit(confirm, '/session/end/confirm', {}, { button: 'Sign out of CRM only', stopAt: (l) => l.startsWith('https://rp.example.com/') });
      expect(done.redirectedTo).to.match(/^https:\/\/rp\.example\.com\/signed-out/);
      expect((await oidc.tokenIntrospection(client.rp, tokens.access_token)).active).to.equal(false);
      const sso = await openAuthorization(agent, await authorizationUrl(other));
      expect(sso.redirectedTo, 'still signed in for other applications').to.satisfy(isCallback);
    });

    it('switches accounts: signing in as someone else replaces the session (works without JavaScript)', async () => {
      const bob = await createUser(server, `bob-${setup.db}`, 'another long passphrase');
      const { agent } = await passwordSignIn(server, client, user);
      const auth = await authorizationUrl(client, { prompt: 'login' });
      const login = await openAuthorization(agent, auth);
      let page = await submitPassword(agent, login, bob.username, bob.password);
      // oidc-provider ends the old session first through a self-submitting form.
      if (!page.redirectedTo) page = await agent.submit(page, '/session/end/confirm', {}, { stopAt: isCallback });
      expect(page.redirectedTo, `${page.status} ${page.url} ${page.html.slice(0, 800)}`).to.be.a('string').and.satisfy(isCallback);
      const tokens = await exchange(client, auth, page.redirectedTo!);
      expect(tokens.claims()!.sub).to.equal(bob.account.id);
    });

    it('signs out without a relying party and shows our signed-out page', async () => {
      const { agent } = await passwordSignIn(server, client, user);
      const confirm = await agent.open(`${server.issuer}/session/end`);
      expect(confirm.$('h1').text()).to.equal('Sign out?');
      const done = await signOut(agent, confirm);
      expect(done.status).to.equal(200);
      expect(done.$('h1').text()).to.equal('Signed out');
      expect(done.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
    });
  });
}

describe('OIDC client kinds and grants', () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof createUser>>;

  before(async () => {
    server = await startTestServer();
    user = await createUser(server, 'carol');
  });
  after(() => server?.close());

  /** A full sign-in whose code the given relying-party configuration redeems. */
  async function signInWith(client: TestClient, rp: oidc.Configuration) {
    const agent = new Agent();
    const auth = await authorizationUrl(client);
    const done = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    expect(done.redirectedTo, textOf(done)).to.satisfy(isCallback);
    return exchange({ ...client, rp }, auth, done.redirectedTo!);
  }

  it('accepts a confidential client’s secret by client_secret_basic and by client_secret_post', async () => {
    const client = await registerClient(server);
    const basic = await signInWith(client, client.rp);
    expect(basic.claims()!.sub).to.equal(user.account.id);

    const postRp = await oidc.discovery(new URL(server.issuer), client.clientId, undefined, oidc.ClientSecretPost(client.secret!), { execute: [oidc.allowInsecureRequests] });
    const post = await signInWith(client, postRp);
    expect(post.claims()!.sub).to.equal(user.account.id);
    expect((await oidc.tokenIntrospection(postRp, post.access_token)).active).to.equal(true);
  });

  it('refuses a confidential client with a wrong secret or without one', async () => {
    const client = await registerClient(server);
    const wrong = await relyingParty(server, client.clientId, 'x'.repeat(43));
    const err = await rejection(signInWith(client, wrong));
    expect(err.error).to.equal('invalid_client');
    expect(err.status).to.equal(401);

    const none = await oidc.discovery(new URL(server.issuer), client.clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    expect((await rejection(signInWith(client, none))).error).to.equal('invalid_client');
  });

  it('lets a public client redeem its code with PKCE and no secret, and never without the verifier', async () => {
    const client = await registerClient(server, { public: true });
    expect(client.secret).to.equal(null);
    const tokens = await signInWith(client, client.rp);
    expect(tokens.claims()!.amr).to.deep.equal(['pwd']);

    const agent = new Agent();
    const auth = await authorizationUrl(client);
    const done = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    const err = await rejection(oidc.authorizationCodeGrant(client.rp, new URL(done.redirectedTo!), { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: auth.state, expectedNonce: auth.nonce }));
    expect(err.error).to.equal('invalid_grant');
  });

  it('redeems an authorization code once only', async () => {
    const client = await registerClient(server);
    const agent = new Agent();
    const auth = await authorizationUrl(client);
    const done = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    const tokens = await exchange(client, auth, done.redirectedTo!);
    expect((await rejection(exchange(client, auth, done.redirectedTo!))).error).to.equal('invalid_grant');
    // Replaying the code also revokes what it issued (RFC 6749 4.1.2).
    expect((await oidc.tokenIntrospection(client.rp, tokens.access_token)).active).to.equal(false);
  });

  it('issues a client credentials token to a client registered for the grant', async () => {
    const machine = await registerClient(server, { grantTypes: ['client_credentials'], redirectUris: [] });
    const tokens = await oidc.clientCredentialsGrant(machine.rp);
    expect(tokens.access_token).to.be.a('string');
    expect(tokens.refresh_token).to.equal(undefined);
    const info = await oidc.tokenIntrospection(machine.rp, tokens.access_token);
    expect(info.active).to.equal(true);
    expect(info.client_id).to.equal(machine.clientId);
    expect(info.sub).to.equal(undefined);

    const withScope = await oidc.clientCredentialsGrant(machine.rp, { scope: 'profile' });
    expect(withScope.scope).to.equal('profile');
  });

  it('gives the admin scope only to admin clients', async () => {
    const machine = await registerClient(server, { grantTypes: ['client_credentials'], redirectUris: [] });
    const refused = await rejection(oidc.clientCredentialsGrant(machine.rp, { scope: 'admin' }));
    expect(refused.error).to.equal('invalid_scope');

    const admin = await registerClient(server, { grantTypes: ['client_credentials'], redirectUris: [], admin: true });
    const tokens = await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' });
    expect(tokens.scope).to.equal('admin');
    expect((await oidc.tokenIntrospection(admin.rp, tokens.access_token)).scope).to.equal('admin');
  });

  it('lets an admin client introspect any token, and other clients only their own', async () => {
    const rp = await registerClient(server);
    const { tokens } = await passwordSignIn(server, rp, user);
    const admin = await registerClient(server, { grantTypes: ['client_credentials'], redirectUris: [], admin: true });
    const seen = await oidc.tokenIntrospection(admin.rp, tokens.access_token);
    expect(seen.active).to.equal(true);
    expect(seen.client_id).to.equal(rp.clientId);
    const machine = await registerClient(server, { grantTypes: ['client_credentials'], redirectUris: [] });
    expect((await oidc.tokenIntrospection(machine.rp, tokens.access_token)).active).to.equal(false);
  });

  it('refuses client credentials to a client not registered for the grant', async () => {
    const interactive = await registerClient(server);
    // oidc-provider answers invalid_request here (RFC 6749 would say unauthorized_client).
    const refused = await rejection(oidc.clientCredentialsGrant(interactive.rp));
    expect(refused.error).to.equal('invalid_request');
    expect(refused.error_description).to.equal('requested grant type is not allowed for this client');
  });

  it('never puts the admin scope into a token a user signed in for', async () => {
    const admin = await registerClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], admin: true });
    const { tokens } = await passwordSignIn(server, admin, user, { scope: 'openid admin' });
    expect(String(tokens.scope).split(' ')).to.not.include('admin');
    expect(String((await oidc.tokenIntrospection(admin.rp, tokens.access_token)).scope).split(' ')).to.not.include('admin');
  });
});
