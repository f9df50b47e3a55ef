// One complete sign-in the way a browser without JavaScript does it, timed step by step:
// authorize -> sign-in page -> password -> (second factor) -> resume -> code exchange -> ID token
// checked (signature, issuer, audience, nonce, acr/amr). Deliberately small: the load generator
// must stay cheap next to the provider it measures.
import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';

export type Step = 'authorize' | 'page' | 'password' | 'challenge' | 'second_factor' | 'resume' | 'token' | 'id_token';

export interface Timings {
  [step: string]: number;
}

class Jar {
  private readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

const b64url = (b: Buffer) => b.toString('base64url');

export interface SignInTarget {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  keys: Map<string, KeyObject>;
}

export async function loadKeys(issuer: string): Promise<Map<string, KeyObject>> {
  const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return new Map(jwks.keys.map((k) => [k.kid, createPublicKey({ key: k as never, format: 'jwk' })]));
}

function checkIdToken(target: SignInTarget, idToken: string, nonce: string, expectAcr: string): Record<string, unknown> {
  const [h, p, s] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as { kid: string; alg: string };
  const key = target.keys.get(header.kid);
  if (!key) throw new Error(`unknown signing key ${header.kid}`);
  const ok = verify(header.alg === 'ES256' ? 'sha256' : 'RSA-SHA256', Buffer.from(`${h}.${p}`), header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(s!, 'base64url'));
  if (!ok) throw new Error('ID token signature does not verify');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  if (claims.iss !== target.issuer || claims.aud !== target.clientId || claims.nonce !== nonce) throw new Error('ID token iss/aud/nonce mismatch');
  if (claims.acr !== expectAcr) throw new Error(`ID token acr ${String(claims.acr)}, expected ${expectAcr}`);
  if (!Array.isArray(claims.amr) || !claims.amr.includes('pwd') || (expectAcr === 'mfa') !== claims.amr.includes('mfa')) throw new Error(`ID token amr ${JSON.stringify(claims.amr)}`);
  return claims;
}

const formField = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

export async function signIn(
  target: SignInTarget,
  user: { username: string; password: string },
  secondFactor: (() => Promise<string>) | null,
  /** What a step's figure measures: wall milliseconds by default; `--steps` passes the provider's CPU clock. */
  clock: () => number = () => performance.now(),
): Promise<{ timings: Timings; refreshToken?: string }> {
  const jar = new Jar();
  const timings: Timings = {};
  const timed = async <T>(step: Step, run: () => Promise<T>): Promise<T> => {
    const start = clock();
    try {
      return await run();
    } finally {
      timings[step] = clock() - start;
    }
  };
  const request = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } });
    jar.take(res);
    return res;
  };
  const expectRedirect = async (res: Response, what: string) => {
    if (res.status !== 303 && res.status !== 302) throw new Error(`${what}: expected a redirect, got ${res.status}: ${(await res.text()).slice(0, 300)}`);
    await res.body?.cancel();
    return new URL(res.headers.get('location')!, target.issuer).href;
  };

  const verifier = b64url(randomBytes(32));
  const nonce = b64url(randomBytes(16));
  const state = b64url(randomBytes(16));
  const auth = new URL(`${target.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: target.clientId,
    response_type: 'code',
    redirect_uri: target.redirectUri,
    scope: 'openid profile',
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    nonce,
    state,
  }).toString();

  const interaction = await timed('authorize', async () => expectRedirect(await request(auth.href), 'authorize'));
  const loginPage = await timed('page', async () => (await request(interaction)).text());
  const csrf = formField(loginPage, '_csrf');
  if (!csrf) throw new Error(`no sign-in form: ${loginPage.slice(0, 300)}`);
  const form = (fields: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...fields }).toString() });

  // A browser follows a redirect or shows the page it is sent: the password form is answered with
  // the challenge page itself when a second factor follows, with a redirect when the sign-in is done.
  // Builds from before that change redirect to the challenge page (bench:ab against an older base).
  const answer = await timed('password', async (): Promise<{ page?: string; next?: string }> => {
    const res = await request(`${interaction}/login`, form({ username: user.username, password: user.password }));
    return res.status === 200 ? { page: await res.text() } : { next: await expectRedirect(res, 'password') };
  });
  if (!secondFactor && answer.page !== undefined) throw new Error(`password: expected a redirect, got a page: ${answer.page.slice(0, 300)}`);
  let next = answer.next ?? '';
  if (secondFactor) {
    const page = answer.page ?? (await timed('challenge', async () => (await request(next)).text()));
    if (!page.includes('challenge/verify')) throw new Error(`expected the challenge page: ${page.slice(0, 300)}`);
    const code = await secondFactor();
    next = await timed('second_factor', async () => expectRedirect(await request(`${interaction}/challenge/verify`, form({ code })), 'second factor'));
  }
  const callback = await timed('resume', async () => expectRedirect(await request(next), 'resume'));
  const url = new URL(callback);
  if (!callback.startsWith(target.redirectUri) || url.searchParams.get('state') !== state) throw new Error(`unexpected callback ${callback}`);

  const tokens = await timed('token', async () => {
    const res = await fetch(`${target.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${target.clientId}:${target.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: url.searchParams.get('code')!, redirect_uri: target.redirectUri, code_verifier: verifier }).toString(),
    });
    if (!res.ok) throw new Error(`token endpoint ${res.status}: ${await res.text()}`);
    return (await res.json()) as { id_token: string; refresh_token?: string };
  });
  await timed('id_token', async () => checkIdToken(target, tokens.id_token, nonce, secondFactor ? 'mfa' : 'pwd'));
  return { timings, ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}) };
}

export async function refresh(target: SignInTarget, refreshToken: string): Promise<string> {
  const res = await fetch(`${target.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${target.clientId}:${target.clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  if (!res.ok) throw new Error(`refresh ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { refresh_token?: string; access_token: string };
  return body.refresh_token ?? refreshToken;
}

export async function clientCredentials(issuer: string, clientId: string, secret: string): Promise<void> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }).toString(),
  });
  if (!res.ok) throw new Error(`client credentials ${res.status}: ${await res.text()}`);
  await res.json();
}
