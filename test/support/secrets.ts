// The secrets the tests used, so that the log of the whole run can be searched for them after it
// (test/support/leak-hooks.ts, a mocha root hook). Two ways in:
//   - registerSecret(kind, value): a test names what it handled, e.g. a TOTP key it read off a
//     page or a code a fake Vonage delivered;
//   - observeFetch(): every request and response the tests make with fetch (the Agent, openid-client)
//     is looked at on the way: password, code and phone fields a "user" types, the TOTP key an
//     enrolment page shows, the tokens and authorization codes the provider hands out. So even
//     tests that never heard of this file register what they typed.
// The list is a file (test-artifacts/secrets.txt, one JSON line each) so processes the tests
// start can add to it too.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS_DIR } from './env.js';

export type SecretKind = 'password' | 'totp' | 'code' | 'token' | 'phone';

export interface Secret {
  kind: SecretKind;
  value: string;
}

/** Paths can be moved by environment, so a test can run the leak check on a log of its own. */
export const SECRETS_FILE = process.env.TWOFOLD_SECRETS_FILE ?? path.join(ARTIFACTS_DIR, 'secrets.txt');
export const SERVER_LOG = process.env.TWOFOLD_LEAK_LOG ?? path.join(ARTIFACTS_DIR, 'server.log');

/** The default password of test/support/oidc.ts createUser; every run uses it. */
export const DEFAULT_PASSWORD = 'correct horse battery staple';

/**
 * Digests of the secrets registered lately, so a value seen on every request is written once. A
 * digest and a bound, not the values: the soak test measures the heap of this process (its server
 * runs here), and thousands of tokens kept here, each pinning the response text it was cut from,
 * would grow it with every sign-in. A value seen again after it fell out is written again;
 * readSecrets drops the repeats.
 */
const seen = new Set<string>();
const SEEN_MAX = 5000;

function firstSighting(key: string): boolean {
  const digest = createHash('sha256').update(key).digest('base64');
  if (seen.has(digest)) return false;
  seen.add(digest);
  if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value!);
  return true;
}

/** Whether a value is specific enough to search for without matching ordinary log text. */
function worthSearching(kind: SecretKind, value: string): boolean {
  switch (kind) {
    case 'password':
      // Wrong guesses like "x" or "p" * 100k say nothing; a real password is long and varied.
      return value.length >= 8 && new Set(value).size >= 4;
    case 'code':
      return /^\d{6,8}$/.test(value);
    case 'totp':
      return /^[A-Z2-7]{16,}$/.test(value);
    case 'token':
      return value.length >= 16;
    case 'phone':
      return value.replace(/\D/g, '').length >= 8;
  }
}

export function registerSecret(kind: SecretKind, value: string | undefined | null): void {
  if (!value) return;
  const v = kind === 'totp' ? value.replace(/\s+/g, '').toUpperCase() : value;
  if (!worthSearching(kind, v)) return;
  if (!firstSighting(`${kind}\u0000${v}`)) return;
  mkdirSync(path.dirname(SECRETS_FILE), { recursive: true });
  appendFileSync(SECRETS_FILE, `${JSON.stringify({ kind, value: v })}\n`);
}

/** Starts a new list (at the start of a run). */
export function resetSecrets(): void {
  seen.clear();
  mkdirSync(path.dirname(SECRETS_FILE), { recursive: true });
  writeFileSync(SECRETS_FILE, '');
  registerSecret('password', DEFAULT_PASSWORD);
}

export function readSecrets(file = SECRETS_FILE): Secret[] {
  if (!existsSync(file)) return [];
  const lines = new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
  return [...lines].map((line) => JSON.parse(line) as Secret);
}

// --- what fetch traffic reveals

const SECRET_FIELDS: Record<string, SecretKind> = { password: 'password', current_password: 'password', new_password: 'password', code: 'code', phone: 'phone' };

function registerFields(params: URLSearchParams): void {
  for (const [name, value] of params) {
    const kind = SECRET_FIELDS[name];
    if (kind) registerSecret(kind, value);
  }
}

function registerRequest(input: unknown, init: RequestInit | undefined): void {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : (input as Request | undefined)?.url;
  if (url) registerFields(new URL(url).searchParams);
  const body = init?.body;
  if (typeof body === 'string' && /^[^{<]/.test(body)) registerFields(new URLSearchParams(body));
  else if (body instanceof URLSearchParams) registerFields(body);
}

async function registerResponse(res: Response): Promise<void> {
  const location = res.headers.get('location');
  if (location) {
    const params = new URL(location, 'http://x').searchParams;
    registerSecret('token', params.get('code'));
    registerSecret('token', params.get('access_token'));
  }
  const type = res.headers.get('content-type') ?? '';
  if (!/json|html/.test(type)) return;
  const text = await res.clone().text();
  if (type.includes('html')) {
    for (const m of text.matchAll(/secret=([A-Z2-7]{16,})/g)) registerSecret('totp', m[1]);
    return;
  }
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    for (const name of ['access_token', 'refresh_token', 'device_code', 'client_secret']) registerSecret('token', typeof body[name] === 'string' ? (body[name] as string) : undefined);
    // An ID token is public to the client, but its signature part stands for the whole token.
    if (typeof body.id_token === 'string') registerSecret('token', body.id_token.split('.')[2]);
  } catch {
    // not JSON after all
  }
}

let observing = false;

/** Wraps globalThis.fetch once: every call still goes through unchanged. */
export function observeFetch(): void {
  if (observing) return;
  observing = true;
  const original = globalThis.fetch;
  globalThis.fetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    try {
      registerRequest(input, init);
    } catch {
      // never let the observer break a test
    }
    const res = await original(input, init);
    await registerResponse(res).catch(() => {});
    return res;
  };
}

// --- the search

export interface Leak {
  kind: SecretKind;
  /** The secret with its middle masked, so the report does not spread it further. */
  secret: string;
  line: number;
  excerpt: string;
}

const mask = (s: string) => (s.length <= 6 ? `${s.slice(0, 1)}***` : `${s.slice(0, 3)}…${s.slice(-2)}`);

/** Lines a development build writes on purpose: console delivery puts the code in the log, as documented. */
const intended = (line: string) => line.includes('"delivery":"console"');

/**
 * Every place a registered secret appears in the log text. Codes and phone numbers match only as
 * whole numbers (not inside a longer run of digits or letters, such as a uuid); TOTP keys and
 * tokens as whole tokens; passwords anywhere.
 */
export function findLeaks(logText: string, secrets: Secret[]): Leak[] {
  const leaks: Leak[] = [];
  const byKind = (kind: SecretKind) => secrets.filter((s) => s.kind === kind);
  const passwords = byKind('password');
  const codes = new Set(byKind('code').map((s) => s.value));
  const tokens = new Set([...byKind('totp'), ...byKind('token')].map((s) => s.value));
  const phones = byKind('phone').map((s) => s.value.replace(/\D/g, ''));
  const kindOf = new Map(secrets.map((s) => [s.value, s.kind]));
  const lines = logText.split('\n');
  lines.forEach((line, i) => {
    if (!line || intended(line)) return;
    const report = (kind: SecretKind, value: string) => {
      const at = Math.max(0, line.indexOf(value) - 40);
      leaks.push({ kind, secret: mask(value), line: i + 1, excerpt: line.slice(at, at + 120).split(value).join(mask(value)) });
    };
    for (const { value } of passwords) if (line.includes(value)) report('password', value);
    for (const m of line.matchAll(/(?<![0-9A-Za-z_-])\d{6,8}(?![0-9A-Za-z_-])/g)) if (codes.has(m[0])) report('code', m[0]);
    for (const m of line.matchAll(/[A-Za-z0-9_-]{16,}/g)) if (tokens.has(m[0])) report(kindOf.get(m[0]) ?? 'token', m[0]);
    if (phones.length) {
      for (const m of line.matchAll(/\d{8,}/g)) {
        const run = m[0];
        if (phones.some((p) => run === p || run.endsWith(p.slice(-10)) || p.endsWith(run))) report('phone', run);
      }
    }
  });
  return leaks;
}
