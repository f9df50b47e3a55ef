// Shared pieces of the fault tests: what a "temporarily unavailable" answer must look like, timing
// a request, polling until something recovers, and a sign-in driven step by step so a test can
// break a store between two steps.
import { expect } from 'chai';
import type { TestServer } from '../support/server.js';
import { Agent, textOf, type Page } from '../support/agent.js';
import { authorizationUrl, exchange, isCallback, openAuthorization, submitPassword, type Authorization, type TestClient } from '../support/oidc.js';

/** The 503 page a person sees while Redis or the database is away: clear words, a retry hint, never a token. */
export function expectUnavailablePage(page: Page & { redirectedTo?: string }, what = 'page'): void {
  expect(page.redirectedTo, `${what}: redirected to the client during an outage`).to.equal(undefined);
  expect(page.status, `${what}: ${textOf(page).slice(0, 200)}`).to.equal(503);
  expect(page.headers.get('retry-after'), `${what}: Retry-After`).to.match(/^\d+$/);
  const text = textOf(page).toLowerCase();
  expect(text, what).to.include('temporarily unavailable');
  expect(text, what).to.include('try again');
  expect(text, what).to.not.match(/something went wrong|stack|error:/);
}

/** Runs `work` and says how long it took, in milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Polls `check` every 100 ms until it returns true; returns the milliseconds it took. */
export async function until(check: () => Promise<boolean>, withinMs: number, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false;
    }
    const ms = performance.now() - started;
    if (ok) return ms;
    if (ms > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function readyz(server: { issuer: string } | string): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const base = typeof server === 'string' ? server : server.issuer;
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

/** A sign-in opened and the password entered: the page after it (chooser or challenge). */
export async function toSecondFactor(client: TestClient, user: { username: string; password: string }, agent = new Agent()): Promise<{ agent: Agent; auth: Authorization; page: Page & { redirectedTo?: string } }> {
  const auth = await authorizationUrl(client);
  const login = await openAuthorization(agent, auth);
  const page = await submitPassword(agent, login, user.username, user.password);
  return { agent, auth, page };
}

/** Submits a code on the challenge screen and, when it reaches the client, exchanges the code. */
export async function passChallenge(client: TestClient, flow: { agent: Agent; auth: Authorization }, page: Page, code: string) {
  const done = await flow.agent.submit(page, '/challenge/verify', { code }, { stopAt: isCallback });
  if (!done.redirectedTo) return { page: done, tokens: undefined };
  return { page: done, tokens: await exchange(client, flow.auth, done.redirectedTo) };
}

/** Reads a Prometheus text exposition into "name{labels}" -> value. */
export async function scrape(server: TestServer | string): Promise<Map<string, number>> {
  const base = typeof server === 'string' ? server : server.issuer;
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels include all of `labels`. */
export function metric(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of samples) {
    const brace = series.indexOf('{');
    const seriesName = brace < 0 ? series : series.slice(0, brace);
    if (seriesName !== name) continue;
    const text = brace < 0 ? '' : series.slice(brace);
    if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}
