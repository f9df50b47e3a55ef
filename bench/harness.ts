// What `npm run bench` (run.ts) and `npm run bench:ab` (ab.ts) share: the servers they use, a
// provider's CPU clock, a PostgreSQL database of their own, the seeded clients and users, and the
// picking of users so no authenticator-app code is used twice.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseConfig } from '../src/config/load.js';
import { buildServices } from '../src/services.js';
import { createLogger } from '../src/log.js';
import { newFactorId } from '../src/db/repos/factors.js';
import { newTotpSecret, timeStep, totp } from '../src/factors/totp/otp.js';
import type { ClientInput } from '../src/clients/service.js';

export const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PASSWORD = 'correct horse battery staple';
export const REDIRECT = 'https://rp.example.com/callback';
const CLK_TCK = 100;

export function providerTicks(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) }; // utime, stime: every thread
}

/** The provider process's CPU time so far (every thread, the threadpool included). */
export const providerCpuSeconds = (pid: number): number => {
  const { user, system } = providerTicks(pid);
  return (user + system) / CLK_TCK;
};

/**
 * A port nothing listens on now, for a provider about to start. A random pick in 40000–60000 could
 * land on a port the kernel had just given an outgoing connection (EADDRINUSE at start).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`the provider exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the provider did not become ready');
}

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A fresh PostgreSQL database on the PG_ADMIN server, and the way to drop it. */
export async function postgresDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Clients and users written straight into the store (one password hash shared by every user, one
 * authenticator-app secret shared by every user's factor). Returns each client's secret by id.
 */
export async function seed(
  store: { issuer: string; databaseUrl: string; secret: string; redisUrl?: string; redisKeyPrefix?: string },
  clients: ClientInput[],
  users: number,
): Promise<{ clientSecrets: Record<string, string>; totpSecret: string }> {
  const services = await buildServices(parseConfig(store), { log: createLogger('warn', process.stderr), withSessionStore: false });
  try {
    const clientSecrets: Record<string, string> = {};
    for (const client of clients) clientSecrets[client.clientId] = (await services.clients.add(client)).secret!;
    const hash = await services.accounts.hasher.hash(PASSWORD);
    const totpSecret = newTotpSecret();
    for (let i = 0; i < users; i++) {
      const account = await services.accounts.repo.create({ username: `user${i}`, passwordHash: hash });
      await services.factors.save(account, 'totp', newFactorId(), { secret: totpSecret, name: 'Authenticator app' });
    }
    return { clientSecrets, totpSecret };
  } finally {
    await services.close();
  }
}

/** Picks seeded users so no authenticator-app step is used twice for one factor (T-1..T+1 are valid). */
export class Users {
  private next = 0;
  private readonly lastStep = new Map<number, number>();
  constructor(
    private readonly secret: string,
    private readonly count: number,
  ) {}

  take(mfa: boolean): { username: string; password: string; code?: () => Promise<string> } {
    for (let tries = 0; tries < this.count; tries++) {
      const i = this.next++ % this.count;
      if (!mfa) return { username: `user${i}`, password: PASSWORD };
      const now = timeStep(Date.now() / 1000, 30);
      const step = Math.max(now, (this.lastStep.get(i) ?? -1) + 1);
      if (step > now + 1) continue;
      this.lastStep.set(i, step);
      return { username: `user${i}`, password: PASSWORD, code: () => totp(this.secret, step * 30, { period: 30, digits: 6, algorithm: 'sha1' }) };
    }
    throw new Error('not enough users for the second-factor rate: raise --users');
  }
}
