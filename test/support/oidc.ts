// The relying party side of the tests: real openid-client 6 against a real Twofold, with the
// Agent playing the user's browser.
import * as oidc from 'openid-client';
import type { TestServer } from './server.js';
import { Agent, type Page, toPage } from './agent.js';
import type { ClientInput } from '../../src/clients/service.js';
import { totp } from '../../src/factors/totp/otp.js';

export const REDIRECT_URI = 'https://rp.example.com/callback';

export interface TestClient {
  clientId: string;
  secret: string | null;
  rp: oidc.Configuration;
}

let clientCounter = 0;

export async function registerClient(server: TestServer, input: Partial<ClientInput> = {}): Promise<TestClient> {
  const clientId = input.clientId ?? `rp-${++clientCounter}-${Date.now().toString(36)}`;
  const { secret } = await server.services.clients.add({ clientId, redirectUris: [REDIRECT_URI], postLogoutRedirectUris: ['https://rp.example.com/signed-out'], ...input });
  return { clientId, secret, rp: await relyingParty(server, clientId, secret) };
}

export async function relyingParty(server: TestServer, clientId: string, secret: string | null): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), clientId, secret ?? undefined, secret ? oidc.ClientSecretBasic(secret) : oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
}

export interface Authorization {
  url: string;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationUrl(client: TestClient, params: Record<string, string> = {}): Promise<Authorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(client.rp, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url: url.href, verifier, state, nonce };
}

export const isCallback = (location: string) => location.startsWith(REDIRECT_URI);

/** Opens the authorization URL in the agent: returns the first page shown, or the callback URL. */
export async function openAuthorization(agent: Agent, auth: Authorization): Promise<Page & { redirectedTo?: string }> {
  const { res, url } = await agent.follow(await agent.get(auth.url), isCallback);
  if (res.status >= 300 && res.status < 400) return { ...(await toPage(res, url)), redirectedTo: url };
  return toPage(res, url);
}

export async function submitPassword(agent: Agent, page: Page, username: string, password: string) {
  return agent.submit(page, '/login', { username, password }, { stopAt: isCallback });
}

export async function exchange(client: TestClient, auth: Authorization, callbackUrl: string) {
  return oidc.authorizationCodeGrant(client.rp, new URL(callbackUrl), {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
  });
}

export async function createUser(server: TestServer, username: string, password = 'correct horse battery staple', extra: Record<string, unknown> = {}) {
  const account = await server.services.accounts.create({ username, password, ...extra });
  return { account, username, password };
}

/** A full password-only sign-in; returns the token response. */
export async function passwordSignIn(server: TestServer, client: TestClient, user: { username: string; password: string }, params: Record<string, string> = {}, agent = new Agent()) {
  const auth = await authorizationUrl(client, params);
  const login = await openAuthorization(agent, auth);
  const done = await submitPassword(agent, login, user.username, user.password);
  if (!done.redirectedTo) throw new Error(`expected a redirect to the client, got ${done.status} ${done.url}: ${done.$('main').text().replace(/\s+/g, ' ').slice(0, 300)}`);
  return { tokens: await exchange(client, auth, done.redirectedTo), agent };
}

/** The current TOTP code for a Base32 secret (at `at` ms, default now). */
export function currentTotp(secret: string, at = Date.now()): Promise<string> {
  return totp(secret, Math.floor(at / 1000), { period: 30, digits: 6, algorithm: 'sha1' });
}

/** Reads the setup key off the enrolment page, as a person would type it. */
export const keyFromPage = (page: Page): string => page.$('.key span').map((_, el) => page.$(el).text()).get().join('');
