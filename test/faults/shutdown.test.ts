// Graceful shutdown of the built provider (`node dist/cli/main.js serve`, as in production): on
// SIGTERM the requests in flight (password sign-ins, each an argon2 hash) finish with their normal
// answer, new connections are refused at once, and the process exits with code 0 within 10 s, also
// when a client holds a request open and never finishes it. Its log goes to
// test-artifacts/server.log with the others, for the secret-leak check.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort } from '../support/server.js';
import { ARTIFACTS_DIR, TEST_REDIS_URL } from '../support/env.js';
import { Agent } from '../support/agent.js';
import { authorizationUrl, openAuthorization, relyingParty, type TestClient } from '../support/oidc.js';
import type { TestServer } from '../support/server.js';
import { formOf, type Page } from '../support/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { buildServices } from '../../src/services.js';
import { createLogger } from '../../src/log.js';
import { until } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = path.join(ROOT, 'dist/cli/main.js');
const EXIT_WITHIN_MS = 10_000;
/** Dearer than the default hash, so a handful of sign-ins is surely still running at SIGTERM. */
const ARGON2 = { memoryKiB: 19 * 1024, iterations: 6, parallelism: 1 };
const PASSWORD = `shutdown-${randomBytes(8).toString('hex')}`;

interface Provider {
  child: ChildProcess;
  url: string;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function spawnProvider(env: Record<string, string>, port: number, cwd: string): Promise<Provider> {
  const child = spawn(process.execPath, [MAIN, 'serve'], { cwd, env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => appendFileSync(path.join(ARTIFACTS_DIR, 'server.log'), d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const url = `http://localhost:${port}`;
  await Promise.race([
    until(async () => (await fetch(`${url}/readyz`)).status === 200, 20_000, 'the provider to be ready'),
    exited.then((e) => Promise.reject(new Error(`the provider exited (${e.code}) before it was ready: ${stderr}`))),
  ]);
  return { child, url, port, exited };
}

const tryConnect = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });

/** Tries a new connection every 10 ms; resolves with the time the first one was refused. */
async function waitUntilRefused(port: number): Promise<number> {
  for (let i = 0; i < 300; i++) {
    if ((await tryConnect(port)) === 'ECONNREFUSED') return performance.now();
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('new connections were still accepted 3 s after SIGTERM');
}

interface Answer {
  status?: number;
  location?: string;
  connection?: string;
  error?: string;
  at: number;
  sent: number;
}

/**
 * Submits a page's form on a connection of its own and resolves once every byte of the request
 * has been handed to the OS, so the request is surely in flight; `answer` settles later.
 */
async function postOnNewConnection(agent: Agent, page: Page, fields: Record<string, string>): Promise<{ answer: Promise<Answer> }> {
  const { action, values } = formOf(page, '/login');
  const target = new URL(action, page.url);
  const body = new URLSearchParams({ ...values, ...fields }).toString();
  const cookie = await agent.jar.getCookieString(target.href);
  const req = http.request({ host: '127.0.0.1', port: target.port, method: 'POST', path: target.pathname, agent: false, headers: { host: target.host, cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } });
  let sent = 0;
  const answer = new Promise<Answer>((resolve) => {
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode, location: String(res.headers.location ?? ''), connection: String(res.headers.connection ?? ''), at: performance.now(), sent }));
    });
    req.once('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message, at: performance.now(), sent }));
  });
  await new Promise<void>((resolve) => req.end(body, () => resolve()));
  sent = performance.now();
  return { answer };
}

describe('faults: graceful shutdown on SIGTERM (the built provider in its own process)', function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;

  before(async function () {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
    dir = mkdtempSync(path.join(tmpdir(), 'twofold-shutdown-'));
    writeFileSync(path.join(dir, 'twofold.json'), JSON.stringify({ argon2: ARGON2 }));
    env = {
      DATABASE_URL: `sqlite:${path.join(dir, 'twofold.db')}`,
      TWOFOLD_SECRET: `shutdown-secret-${randomBytes(16).toString('hex')}`,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `sd${randomBytes(4).toString('hex')}:`,
      TWOFOLD_CONFIG: path.join(dir, 'twofold.json'),
      LOG_LEVEL: 'info',
    };
    // The same database the provider will open: a user and a password-only client.
    const config = parseConfig({ databaseUrl: env.DATABASE_URL, secret: env.TWOFOLD_SECRET, dataDir: dir, argon2: ARGON2, logLevel: 'silent' });
    const services = await buildServices(config, { withSessionStore: false, log: createLogger('silent') });
    try {
      for (let i = 0; i < 6; i++) await services.accounts.create({ username: `sd${i}`, password: PASSWORD });
      await services.clients.add({ clientId: 'shutdown-rp', redirectUris: ['https://rp.example.com/callback'] });
    } finally {
      await services.close();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lets the password sign-ins in flight finish, refuses new connections, and exits 0 within 10 s', async () => {
    const port = await freePort();
    const provider = await spawnProvider({ ...env, ISSUER: `http://localhost:${port}` }, port, dir);
    try {
      const client: TestClient = { clientId: 'shutdown-rp', secret: null, rp: await relyingParty({ issuer: provider.url } as TestServer, 'shutdown-rp', null) };
      const forms: Array<{ agent: Agent; page: Page }> = [];
      for (let i = 0; i < 6; i++) {
        const agent = new Agent();
        forms.push({ agent, page: await openAuthorization(agent, await authorizationUrl(client)) });
      }
      // Six password sign-ins at once, each on its own connection, fully sent before SIGTERM.
      const inFlight = await Promise.all(forms.map(async ({ agent, page }, i) => postOnNewConnection(agent, page, { username: `sd${i}`, password: PASSWORD })));
      await new Promise((r) => setTimeout(r, 20));
      const termAt = performance.now();
      provider.child.kill('SIGTERM');
      const refusedAt = waitUntilRefused(port);

      const answers = await Promise.all(inFlight.map((r) => r.answer));
      const exit = await provider.exited;
      const exitMs = exit.at - termAt;
      const lastAnswerMs = Math.max(...answers.map((a) => a.at)) - termAt;
      const refusedMs = (await refusedAt) - termAt;
      console.log(`      SIGTERM: ${answers.length} sign-ins in flight all answered (the last ${Math.round(lastAnswerMs)} ms later), new connections refused after ${Math.round(refusedMs)} ms, exit code ${exit.code} after ${Math.round(exitMs)} ms`);

      if (answers.some((a) => a.error)) console.log(answers.map((a) => ({ ...a, at: Math.round(a.at - termAt), sent: Math.round(a.sent - termAt) })));
      for (const answer of answers) {
        expect(answer.error, 'a sign-in in flight was cut').to.equal(undefined);
        expect(answer.status, 'the sign-in in flight got its normal answer').to.equal(303);
        expect(answer.location).to.match(/\/auth\/|rp\.example\.com\/callback/);
        expect(answer.connection, 'a stopping server closes each connection after its answer').to.equal('close');
      }
      expect(refusedMs, 'new connections were refused while the sign-ins in flight were still running').to.be.below(lastAnswerMs);
      expect(exit).to.deep.include({ code: 0, signal: null });
      expect(exitMs).to.be.below(EXIT_WITHIN_MS);
    } finally {
      if (provider.child.exitCode === null) provider.child.kill('SIGKILL');
    }
  });

  it('exits 0 within 10 s even when a client holds a request open and never finishes it', async () => {
    const port = await freePort();
    const provider = await spawnProvider({ ...env, ISSUER: `http://localhost:${port}` }, port, dir);
    const stuck = net.connect({ host: '127.0.0.1', port });
    try {
      await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
      stuck.on('error', () => {});
      // Headers promise a body that never comes.
      stuck.write(`POST /interaction/x/login HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nusername=`);
      await new Promise((r) => setTimeout(r, 100));
      const termAt = performance.now();
      provider.child.kill('SIGTERM');
      const exit = await provider.exited;
      const exitMs = exit.at - termAt;
      console.log(`      SIGTERM with a request held open: exit code ${exit.code} after ${Math.round(exitMs)} ms`);
      expect(exit).to.deep.include({ code: 0, signal: null });
      expect(exitMs).to.be.below(EXIT_WITHIN_MS);
    } finally {
      stuck.destroy();
      if (provider.child.exitCode === null) provider.child.kill('SIGKILL');
    }
  });
});
