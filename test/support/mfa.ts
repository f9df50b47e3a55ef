// Helpers for second-factor tests: a clock the test moves (so every TOTP code can belong to a new
// time step), signing in up to the second-factor screen, enrolling an authenticator app the way a
// person does (reading the key off the page), and reading the real failure counters.
import type { TestServer } from './server.js';
import { Agent, type Page } from './agent.js';
import {
  authorizationUrl,
  createUser,
  currentTotp,
  exchange,
  isCallback,
  keyFromPage,
  openAuthorization,
  submitPassword,
  type Authorization,
  type TestClient,
} from './oidc.js';
import { keys } from '../../src/store/session-store.js';

export interface TestClock {
  /** Epoch milliseconds as the server sees them. */
  now(): number;
  advance(seconds: number): void;
}

/**
 * A frozen server clock that starts `behindSeconds` in the past and only moves when told to (so a
 * test knows the exact second a factor passed). It stays behind the real clock, so oidc-provider,
 * which uses the real one, sees every login time as past.
 */
export function testClock(behindSeconds = 3 * 3600): TestClock {
  let at = Date.now() - behindSeconds * 1000;
  return {
    now: () => at,
    advance(seconds: number) {
      at += seconds * 1000;
      if (at > Date.now()) throw new Error('the test clock ran ahead of the real clock; start it further behind');
    },
  };
}

/** The TOTP code for the server's current time. */
export const codeNow = (secret: string, clock: TestClock): Promise<string> => currentTotp(secret, clock.now());

/** Moves to the next 30-second step and returns its code: a step never accepted before. */
export async function nextCode(secret: string, clock: TestClock): Promise<string> {
  clock.advance(30);
  return codeNow(secret, clock);
}

/** A six-digit code that is not valid for the secret in the window around the server's time. */
export async function wrongCode(secret: string, clock: TestClock): Promise<string> {
  const valid = new Set(await Promise.all([-30_000, 0, 30_000].map((d) => currentTotp(secret, clock.now() + d))));
  for (let n = 0; ; n++) {
    const candidate = String((123_456 + n * 7_919) % 1_000_000).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

/** The interaction id in a sign-in page's URL. */
export function uidOf(page: Page): string {
  const match = /\/interaction\/([^/?#]+)/.exec(page.url);
  if (!match) throw new Error(`not an interaction page: ${page.url}`);
  return match[1]!;
}

/** The visible heading of a page. */
export const headingOf = (page: Page): string => page.$('h1').first().text().trim();

export interface SignInStart {
  auth: Authorization;
  agent: Agent;
  /** The page after the password (the chooser, the challenge...), or the callback when nothing more was asked. */
  page: Page & { redirectedTo?: string };
}

/** Opens an authorization request and, if the sign-in page asks for it, enters the password. */
export async function startSignIn(
  client: TestClient,
  user: { username: string; password: string },
  params: Record<string, string> = {},
  agent = new Agent(),
): Promise<SignInStart> {
  const auth = await authorizationUrl(client, params);
  const first = await openAuthorization(agent, auth);
  if (first.redirectedTo || first.$('form[action$="/login"]').length === 0) return { auth, agent, page: first };
  return { auth, agent, page: await submitPassword(agent, first, user.username, user.password) };
}

/** From the method chooser: picks the authenticator app, types the key into "the app", verifies. Returns the Setup/Finish page. */
export async function enrolTotpOnPage(agent: Agent, chooser: Page, clock: TestClock): Promise<{ secret: string; page: Page & { redirectedTo?: string } }> {
  const enrol = await agent.submit(chooser, '/enrol', { method: 'totp' }, { button: 'Authenticator app' });
  const secret = keyFromPage(enrol);
  if (!secret) throw new Error(`no setup key on the page: ${enrol.$('main').text().slice(0, 300)}`);
  const page = await agent.submit(enrol, '/enrol/verify', { code: await codeNow(secret, clock) }, { stopAt: isCallback });
  return { secret, page };
}

/** Presses Finish on the Setup/Finish page and returns the tokens. */
export async function finishAndExchange(client: TestClient, start: SignInStart, page: Page) {
  const done = await start.agent.submit(page, '/finish', {}, { stopAt: isCallback });
  if (!done.redirectedTo) throw new Error(`Finish did not return to the client: ${done.status} ${done.$('main').text().replace(/\s+/g, ' ').slice(0, 300)}`);
  return exchange(client, start.auth, done.redirectedTo);
}

/** A user who has enrolled an authenticator app through the real flow (on an MFA client); the SSO session stays in `agent`. */
export async function userWithTotp(server: TestServer, client: TestClient, clock: TestClock, username: string) {
  const user = await createUser(server, username);
  const start = await startSignIn(client, user);
  const { secret, page } = await enrolTotpOnPage(start.agent, start.page, clock);
  const tokens = await finishAndExchange(client, start, page);
  clock.advance(30); // the step just used is spent
  return { ...user, secret, agent: start.agent, tokens };
}

/** Submits a code on the challenge screen; stops at the client's callback. */
export function submitChallenge(agent: Agent, page: Page, code: string | Record<string, string>) {
  return agent.submit(page, '/challenge/verify', typeof code === 'string' ? { code } : code, { stopAt: isCallback });
}

/** Follows the resume URL (/auth/:uid) the way a browser would; returns where it ends. */
export async function resume(agent: Agent, server: TestServer, uid: string) {
  const { res, url } = await agent.follow(await agent.get(`${server.issuer}/auth/${uid}`), isCallback);
  await res.body?.cancel();
  return { status: res.status, url, reachedClient: isCallback(url) };
}

/** The account's second-factor failure state, read from the real session store. */
export async function failureState(server: TestServer, accountId: string, interactionUid?: string) {
  const k = keys.account(accountId);
  const store = server.services.store;
  return {
    accountFailures: (await store.peek(k.failures)).count,
    lockouts: (await store.peek(k.lockouts)).count,
    lockedFor: await store.lockedFor(k),
    challengeFailures: interactionUid ? (await store.peek(keys.challengeFailures(accountId, interactionUid))).count : undefined,
  };
}

/** The value of oidc-provider's session cookie in an agent's jar. */
export async function sessionCookie(agent: Agent, server: TestServer): Promise<string | undefined> {
  const cookies = await agent.jar.getCookies(server.issuer);
  return cookies.find((c) => c.key === '_session')?.value;
}
