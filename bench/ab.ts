// npm run bench:ab -- --base <dir> [--duration 60 --rounds 6 --concurrency 8 --scenario mfa|password]
// Two builds of the provider side by side: one from <dir>/dist (e.g. a `git worktree` of main,
// built) and one from this checkout's dist, each against its own PostgreSQL database and Redis key
// prefix, both driven with the same concurrent sign-ins in the same seconds. A noisy machine then
// slows both alike, and the ratio of their CPU per sign-in shows a change of a few percent that
// two separate `npm run bench` runs cannot. Both databases are seeded with this checkout's code.
// AB_THIS_ENV="NAME=value ..." sets environment variables for this checkout's provider only (to
// try a setting or a flag); AB_THIS_NODE=<path> runs it on another Node.js binary. Two identical
// builds measure about 0.98 (0.95 to 1.06 per round).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadKeys, signIn } from './signin.js';
import { freePort, postgresDatabase, providerCpuSeconds, REDIRECT, REDIS_URL, seed, Users, waitReady } from './harness.js';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    duration: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '6' },
    scenario: { type: 'string', default: 'mfa' },
  },
});
if (!args.base) throw new Error('--base <dir with a built dist/> is required');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const USERS = 1500;
const ROUNDS = Number(args.rounds);
const ROUND_MS = (Number(args.duration) * 1000) / ROUNDS;
const CONCURRENCY = Number(args.concurrency);
const MFA = args.scenario === 'mfa';
const thisEnv = Object.fromEntries((process.env.AB_THIS_ENV ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

interface Side {
  name: string;
  provider: ChildProcess;
  run: () => Promise<void>;
  drop: () => Promise<void>;
}

/**
 * The databases are seeded with this checkout's code, so they hold its migrations; the base build
 * refuses to start on a database with migrations it does not have. Its database forgets those (the
 * schema they added stays, unused by the base build).
 */
async function forgetNewerMigrations(url: string): Promise<void> {
  const { migrationProvider } = (await import(path.resolve(args.base!, 'dist/db/migrations.js'))) as typeof import('../src/db/migrations.js');
  const known = Object.keys(await migrationProvider.getMigrations());
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('delete from kysely_migration where not (name = any($1))', [known]);
  } finally {
    await client.end();
  }
}

async function side(name: string, main: string): Promise<Side> {
  const db = await postgresDatabase('twofold_ab');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const prefix = `ab${randomBytes(3).toString('hex')}:`;
  const { clientSecrets, totpSecret } = await seed(
    { issuer, databaseUrl: db.url, secret: SECRET, redisUrl: REDIS_URL, redisKeyPrefix: prefix },
    [{ clientId: 'ab', redirectUris: [REDIRECT], requireMfa: MFA }],
    USERS,
  );
  if (name === 'base') await forgetNewerMigrations(db.url);
  const node = name === 'this' && process.env.AB_THIS_NODE ? process.env.AB_THIS_NODE : process.execPath;
  const provider = spawn(node, [main, 'serve'], {
    env: { ...process.env, ISSUER: issuer, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: db.url, TWOFOLD_SECRET: SECRET, LOG_LEVEL: 'info', REDIS_URL, REDIS_KEY_PREFIX: prefix, ...(name === 'this' ? thisEnv : {}) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitReady(issuer, provider);
  const target = { issuer, clientId: 'ab', clientSecret: clientSecrets.ab!, redirectUri: REDIRECT, keys: await loadKeys(issuer) };
  const users = new Users(totpSecret, USERS);
  return {
    name,
    provider,
    async run() {
      const u = users.take(MFA);
      await signIn(target, u, u.code ?? null);
    },
    async drop() {
      provider.kill('SIGTERM');
      await new Promise((r) => provider.once('exit', r));
      await db.drop();
    },
  };
}

async function drive(s: Side, ms: number): Promise<{ ok: number; errors: number; cpu: number }> {
  const cpu0 = providerCpuSeconds(s.provider.pid!);
  const until = performance.now() + ms;
  let ok = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        try {
          await s.run();
          ok++;
        } catch (err) {
          if (errors++ === 0) console.error(`${s.name}: ${(err as Error).message}`);
        }
      }
    }),
  );
  return { ok, errors, cpu: providerCpuSeconds(s.provider.pid!) - cpu0 };
}

const a = await side('base', path.resolve(args.base, 'dist/cli/main.js'));
const b = await side('this', path.join(ROOT, 'dist/cli/main.js'));
try {
  await Promise.all([drive(a, 3000), drive(b, 3000)]);
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [ra, rb] = await Promise.all([drive(a, ROUND_MS), drive(b, ROUND_MS)]);
    const [ma, mb] = [(ra.cpu / ra.ok) * 1000, (rb.cpu / rb.ok) * 1000];
    ratios.push(mb / ma);
    console.log(`round ${r + 1}: base ${ma.toFixed(1)} ms CPU/sign-in (${ra.ok} ok, ${ra.errors} errors) · this ${mb.toFixed(1)} ms (${rb.ok} ok, ${rb.errors} errors) · this/base ${(mb / ma).toFixed(3)}`);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  console.log(`median this/base CPU per ${args.scenario} sign-in: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} (range ${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)})`);
} finally {
  await a.drop();
  await b.drop();
}
process.exit(0);
