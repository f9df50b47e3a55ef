// npm run bench [-- --duration 60 --concurrency 8]
// Starts the built provider as its own process (so its CPU time is its own, threadpool included)
// against PostgreSQL + Redis and then SQLite + the in-memory store, with the production argon2id
// parameters, and drives complete sign-ins the way a browser would. Password-only and
// second-factor sign-ins alternate in short rounds so both see the same machine; ratios come from
// one run, side by side. Writes bench/results/latest.json and bench/results/chart.svg.
// `--steps N` instead shows where the CPU goes: N sign-ins one at a time, each step measured on
// the provider's own CPU clock.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseConfig } from '../src/config/load.js';
import { PasswordHasher } from '../src/accounts/passwords.js';
import { freePort, postgresDatabase, providerCpuSeconds, providerTicks, REDIRECT, REDIS_URL, seed, Users, waitReady } from './harness.js';
import { clientCredentials, loadKeys, refresh, signIn, type SignInTarget, type Timings } from './signin.js';
import { writeChart } from './chart.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '14' },
    // Seconds of sign-ins before anything is measured on PostgreSQL + Redis (SQLite, whose figures
    // are not in the ratios, gets 10 s): a fresh provider spends its first half minute or so
    // compiling its hot code (V8's JIT), and a sign-in costs up to a third more CPU meanwhile.
    warmup: { type: 'string', default: '25' },
    concurrency: { type: 'string', default: '16' },
    users: { type: 'string', default: '1200' },
    // Where the CPU goes instead of how fast: N sign-ins one at a time on PostgreSQL + Redis, each
    // step timed on the provider's own CPU clock (every thread, from /proc/<pid>/task/*/schedstat).
    steps: { type: 'string', default: '0' },
  },
});
const DURATION = Number(args.duration) * 1000;
const WARMUP = Number(args.warmup) * 1000;
const SQLITE_WARMUP = Math.min(WARMUP, 10_000);
const CONCURRENCY = Number(args.concurrency);
const USERS = Number(args.users);
const STEPS = Number(args.steps);
const ROUNDS = 3;
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const production = parseConfig({}).argon2;

interface Sample {
  ok: number;
  errors: number;
  firstError?: string;
  latencies: Record<string, number[]>;
  cpuSeconds: number;
  wallSeconds: number;
  redisCommands: number;
}

const emptySample = (): Sample => ({ ok: 0, errors: 0, latencies: {}, cpuSeconds: 0, wallSeconds: 0, redisCommands: 0 });

/** The provider's CPU time in milliseconds, nanosecond-precise, summed over its threads. */
function providerCpuClock(pid: number): () => number {
  return () => {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* the thread ended between the listing and the read */
      }
    }
    return ns / 1e6;
  };
}

async function redisCommands(redis: Redis | undefined): Promise<number> {
  if (!redis) return 0;
  const info = await redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

interface Setup {
  name: string;
  databaseUrl: string;
  redisUrl?: string;
  drop(): Promise<void>;
}

async function postgresSetup(): Promise<Setup> {
  const db = await postgresDatabase('twofold_bench');
  return { name: 'postgres+redis', databaseUrl: db.url, redisUrl: REDIS_URL, drop: db.drop };
}

function sqliteSetup(): Setup {
  const dir = path.join(tmpdir(), `twofold-bench-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  return { name: 'sqlite+memory', databaseUrl: `sqlite:${dir}/twofold.db`, drop: async () => {} };
}

async function drive(ms: number, work: () => Promise<Timings | void>, sample: Sample, provider: ChildProcess, redis: Redis | undefined): Promise<void> {
  const cpu0 = providerCpuSeconds(provider.pid!);
  const cmd0 = await redisCommands(redis);
  const start = performance.now();
  const until = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        try {
          const timings = await work();
          sample.ok++;
          for (const [step, t] of Object.entries(timings ?? {})) (sample.latencies[step] ??= []).push(t);
        } catch (err) {
          sample.errors++;
          sample.firstError ??= (err as Error).message;
        }
      }
    }),
  );
  sample.wallSeconds += (performance.now() - start) / 1000;
  sample.cpuSeconds += providerCpuSeconds(provider.pid!) - cpu0;
  sample.redisCommands += (await redisCommands(redis)) - cmd0;
}

/** CPU time of one argon2id hash with the production parameters, measured here and now. */
/** CPU seconds of single argon2id hashes with the production parameters, measured one by one. */
async function hashSamples(n: number): Promise<Array<{ cpu: number; wall: number }>> {
  const hasher = new PasswordHasher(production);
  await hasher.hash('warm up');
  const samples = [];
  for (let i = 0; i < n; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await hasher.hash(`password ${i}`);
    const used = process.cpuUsage(cpu0);
    samples.push({ cpu: (used.user + used.system) / 1e6, wall: (performance.now() - t0) / 1000 });
  }
  return samples;
}

/** Hash CPU samples taken by bench/hash-probe.ts during each setup's sign-in rounds. */
const hashesUnderLoad = new Map<string, number[]>();

async function startHashProbe(): Promise<{ stop(): Promise<number[]> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/hash-probe.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 50));
  return {
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      return JSON.parse(out.split('\n').filter(Boolean).at(-1)!) as number[];
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function runSetup(setup: Setup) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const prefix = `bench${randomBytes(3).toString('hex')}:`;
  const seeded = await seed(
    { issuer, databaseUrl: setup.databaseUrl, secret: SECRET, ...(setup.redisUrl ? { redisUrl: setup.redisUrl, redisKeyPrefix: prefix } : {}) },
    [
      { clientId: 'bench-pwd', redirectUris: [REDIRECT] },
      { clientId: 'bench-mfa', redirectUris: [REDIRECT], requireMfa: true },
      { clientId: 'bench-cc', grantTypes: ['client_credentials'], admin: true },
    ],
    USERS,
  );
  // BENCH_PROVIDER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the provider.
  const flags = process.env.BENCH_PROVIDER_FLAGS?.split(' ').filter(Boolean) ?? [];
  const provider = spawn(process.execPath, [...flags, path.join(ROOT, 'dist/cli/main.js'), 'serve'], {
    env: {
      ...process.env,
      ISSUER: issuer,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: setup.databaseUrl,
      TWOFOLD_SECRET: SECRET,
      // The production default log level: every request writes its log line (to /dev/null here).
      LOG_LEVEL: 'info',
      ...(setup.redisUrl ? { REDIS_URL: setup.redisUrl, REDIS_KEY_PREFIX: prefix } : { REDIS_URL: '' }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const redis = setup.redisUrl ? new Redis(setup.redisUrl) : undefined;
  try {
    await waitReady(issuer, provider);
    const keys = await loadKeys(issuer);
    const target = (clientId: string, clientSecret: string): SignInTarget => ({ issuer, clientId, clientSecret, redirectUri: REDIRECT, keys });
    const pwdTarget = target('bench-pwd', seeded.clientSecrets['bench-pwd']!);
    const mfaTarget = target('bench-mfa', seeded.clientSecrets['bench-mfa']!);
    const users = new Users(seeded.totpSecret, USERS);
    const refreshTokens: string[] = [];

    const password = async () => {
      const u = users.take(false);
      const { timings, refreshToken } = await signIn(pwdTarget, u, null);
      if (refreshToken && refreshTokens.length < 200) refreshTokens.push(refreshToken);
      return timings;
    };
    const secondFactor = async () => {
      const u = users.take(true);
      return (await signIn(mfaTarget, u, u.code!)).timings;
    };

    // Warm-up (JIT, connection pools, caches): both flows, mixed, with no pause between them. The
    // provider's CPU per sign-in in the first and the last 5 s show what the warm-up changed.
    const warmup = setup.redisUrl ? WARMUP : SQLITE_WARMUP;
    const windows: Array<{ cpu: number; ok: number }> = [];
    const warm = emptySample();
    const tick = setInterval(() => windows.push({ cpu: providerCpuSeconds(provider.pid!), ok: warm.ok }), 5000);
    windows.push({ cpu: providerCpuSeconds(provider.pid!), ok: 0 });
    let turn = 0;
    await drive(warmup, () => (turn++ % 2 ? secondFactor() : password()), warm, provider, redis);
    clearInterval(tick);
    // Whole 5 s windows only: the drive's last seconds finish sign-ins without starting new ones.
    const perSignIn = (a: { cpu: number; ok: number }, b: { cpu: number; ok: number }) => (((b.cpu - a.cpu) / (b.ok - a.ok)) * 1000).toFixed(1);
    if (windows.length >= 3) {
      console.log(`${setup.name}: ${warmup / 1000} s warm-up; provider CPU per sign-in (both flows) ${perSignIn(windows[0]!, windows[1]!)} ms in its first 5 s, ${perSignIn(windows.at(-2)!, windows.at(-1)!)} ms in its last whole 5 s`);
    }

    if (STEPS > 0) {
      await stepCosts(provider.pid!, issuer, {
        password: (clock) => signIn(pwdTarget, users.take(false), null, clock),
        mfa: (clock) => {
          const u = users.take(true);
          return signIn(mfaTarget, u, u.code!, clock);
        },
      });
      return null;
    }

    const samples = { password: emptySample(), mfa: emptySample(), refresh: emptySample(), client_credentials: emptySample() };
    const probe = await startHashProbe();
    for (let round = 0; round < ROUNDS; round++) {
      await drive(DURATION / ROUNDS, password, samples.password, provider, redis);
      await drive(DURATION / ROUNDS, secondFactor, samples.mfa, provider, redis);
    }
    hashesUnderLoad.set(setup.name, await probe.stop());
    let cursor = 0;
    await drive(DURATION / 6, async () => {
      const i = cursor++ % refreshTokens.length;
      refreshTokens[i] = await refresh(pwdTarget, refreshTokens[i]!);
    }, samples.refresh, provider, redis);
    await drive(DURATION / 6, () => clientCredentials(issuer, 'bench-cc', seeded.clientSecrets['bench-cc']!), samples.client_credentials, provider, redis);
    return samples;
  } finally {
    provider.kill('SIGTERM');
    await new Promise((r) => provider.once('exit', r));
    redis?.disconnect();
    await setup.drop();
  }
}

/** `--steps N`: one sign-in at a time, so each step's CPU is the provider's work for that step alone. */
async function stepCosts(pid: number, issuer: string, scenarios: Record<'password' | 'mfa', (clock: () => number) => Promise<{ timings: Timings }>>): Promise<void> {
  const clock = providerCpuClock(pid);
  for (const route of ['/healthz', '/.well-known/openid-configuration']) {
    const start = clock();
    for (let i = 0; i < STEPS; i++) await (await fetch(`${issuer}${route}`)).arrayBuffer();
    console.log(`GET ${route}: ${((clock() - start) / STEPS).toFixed(2)} ms CPU per request (the floor under every step)`);
  }
  for (const [name, run] of Object.entries(scenarios)) {
    const perStep: Record<string, number[]> = {};
    const totals: number[] = [];
    const ticks0 = providerTicks(pid);
    for (let i = 0; i < STEPS; i++) {
      const start = clock();
      const { timings } = await run(clock);
      totals.push(clock() - start);
      for (const [step, ms] of Object.entries(timings)) (perStep[step] ??= []).push(ms);
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const ticks = providerTicks(pid);
    const [user, system] = [ticks.user - ticks0.user, ticks.system - ticks0.system];
    console.log(`\n${name}: ${mean(totals).toFixed(2)} ms CPU per sign-in (mean of ${STEPS}, one at a time; ${Math.round((100 * system) / (user + system))}% of it in the kernel)`);
    console.table(Object.fromEntries(Object.entries(perStep).map(([step, v]) => [step, { 'mean ms': mean(v).toFixed(2), 'median ms': median(v).toFixed(2) }])));
  }
}

function report(name: string, samples: Record<string, Sample>, hashCpu: number) {
  console.log(`\n== ${name}`);
  const rows = Object.entries(samples).map(([scenario, s]) => {
    const perSecond = s.ok / s.wallSeconds;
    const perCpu = s.ok / s.cpuSeconds;
    return {
      scenario,
      'ok/s': perSecond.toFixed(1),
      'per CPU-s': perCpu.toFixed(1),
      'CPU ms each': ((s.cpuSeconds / s.ok) * 1000).toFixed(1),
      'redis cmds each': s.redisCommands ? (s.redisCommands / s.ok).toFixed(1) : '-',
      errors: s.errors,
    };
  });
  console.table(rows);
  for (const [scenario, s] of Object.entries(samples)) {
    const steps = Object.entries(s.latencies).map(([step, v]) => `${step} ${percentile(v, 50).toFixed(1)}/${percentile(v, 95).toFixed(1)}/${percentile(v, 99).toFixed(1)}`);
    if (steps.length) console.log(`  ${scenario} p50/p95/p99 ms: ${steps.join(' · ')}`);
    if (s.firstError) console.log(`  ${scenario} first error: ${s.firstError}`);
  }
  return {
    hashCpuMs: hashCpu * 1000,
    scenarios: Object.fromEntries(
      Object.entries(samples).map(([scenario, s]) => [
        scenario,
        {
          completed: s.ok,
          errors: s.errors,
          perSecond: s.ok / s.wallSeconds,
          perCpuSecond: s.ok / s.cpuSeconds,
          cpuMsEach: (s.cpuSeconds / s.ok) * 1000,
          redisCommandsEach: s.redisCommands ? s.redisCommands / s.ok : null,
          latencyMs: Object.fromEntries(Object.entries(s.latencies).map(([step, v]) => [step, { p50: percentile(v, 50), p95: percentile(v, 95), p99: percentile(v, 99) }])),
        },
      ]),
    ),
  };
}

if (STEPS > 0) {
  console.log(`argon2id parameters (production defaults): m=${production.memoryKiB} KiB, t=${production.iterations}, p=${production.parallelism}`);
  const quiet = median((await hashSamples(15)).map((h) => h.cpu));
  console.log(`one argon2id hash: ${(quiet * 1000).toFixed(2)} ms CPU`);
  await runSetup(await postgresSetup());
  process.exit(0);
}

const started = Date.now();
console.log(`argon2id parameters (production defaults): m=${production.memoryKiB} KiB, t=${production.iterations}, p=${production.parallelism}`);
console.log(`${CONCURRENCY} concurrent browsers, ${DURATION / 1000} s per sign-in scenario in ${ROUNDS} alternating rounds after a ${WARMUP / 1000} s warm-up (${SQLITE_WARMUP / 1000} s on SQLite), ${USERS} users`);
// One hash's CPU is measured in the same run two ways: alone on a quiet machine (before and after
// the sign-ins), and in a process of its own during the sign-in rounds, on the same loaded machine
// as the provider's hashes. The ratio uses the second: like with like.
const hashesBefore = await hashSamples(15);

const results: Record<string, ReturnType<typeof report>> = {};
const sqlite = (await runSetup(sqliteSetup()))!;
const postgres = (await runSetup(await postgresSetup()))!;
const hashesAfter = await hashSamples(15);
const quiet = median([...hashesBefore, ...hashesAfter].map((h) => h.cpu));
const loaded = hashesUnderLoad.get('postgres+redis')!;
const hash = { cpu: median(loaded), wall: median([...hashesBefore, ...hashesAfter].map((h) => h.wall)) };
console.log(
  `\none argon2id hash: ${(hash.cpu * 1000).toFixed(1)} ms CPU during the PostgreSQL + Redis sign-ins (median of ${loaded.length}); ` +
    `${(quiet * 1000).toFixed(1)} ms on the quiet machine (median of 30, before and after)`,
);
results['sqlite+memory'] = report('SQLite + in-memory session store', sqlite, hash.cpu);
results['postgres+redis'] = report('PostgreSQL + Redis', postgres, hash.cpu);

const outDir = path.join(ROOT, 'bench/results');
mkdirSync(outDir, { recursive: true });
const pgr = results['postgres+redis'].scenarios;
const throughputRatio = pgr.mfa!.perSecond / pgr.password!.perSecond;
const hashLimitRatio = pgr.mfa!.perCpuSecond / (1 / hash.cpu);
writeFileSync(
  path.join(outDir, 'latest.json'),
  JSON.stringify({ at: new Date().toISOString(), node: process.version, argon2: production, concurrency: CONCURRENCY, durationSeconds: DURATION / 1000, warmupSeconds: WARMUP / 1000, hashCpuMs: hash.cpu * 1000, hashCpuMsQuiet: quiet * 1000, results, ratios: { throughputRatio, hashLimitRatio } }, null, 2),
);
writeChart(path.join(outDir, 'chart.svg'), results, { throughputRatio, hashLimitRatio, hashCpuMs: hash.cpu * 1000 });
const errors = Object.values(results).flatMap((r) => Object.values(r.scenarios)).reduce((n, s) => n + s.errors, 0);
console.log(`\nwrote bench/results/latest.json and bench/results/chart.svg in ${((Date.now() - started) / 1000).toFixed(0)} s; errors: ${errors}`);
console.log(`mfa/password throughput ratio: ${throughputRatio.toFixed(2)}`);
console.log(`sign-ins per CPU-second vs hash limit: ${hashLimitRatio.toFixed(2)}`);
process.exit(errors > 0 ? 1 : 0);
