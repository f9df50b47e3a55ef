#!/usr/bin/env node
// `npm test`: makes sure the Redis and PostgreSQL the suite needs are reachable (starting the
// local ones if they are installed but stopped), then runs mocha. Says clearly what is missing.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';

const redisUrl = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
const pgUrl = new URL(process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

function reachable(host, port, probe) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      if (!probe) return done(true);
      socket.write(probe);
      socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  });
}

async function waitFor(check, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

async function ensureRedis() {
  const check = () => reachable(redisUrl.hostname, redisUrl.port || 6379, 'PING\r\n');
  if (await check()) return;
  if (!['127.0.0.1', 'localhost'].includes(redisUrl.hostname) || !which('redis-server')) {
    throw new Error(`Redis is not reachable at ${redisUrl.host} and no local redis-server can be started. Install Redis (apt-get install redis-server) or set TEST_REDIS_URL.`);
  }
  console.log(`starting redis-server on port ${redisUrl.port || 6379}`);
  spawnSync('redis-server', ['--daemonize', 'yes', '--port', String(redisUrl.port || 6379), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  if (!(await waitFor(check, 10))) throw new Error('redis-server was started but does not answer PING');
}

async function ensurePostgres() {
  const check = () => reachable(pgUrl.hostname, pgUrl.port || 5432);
  if (await check()) return;
  if (['127.0.0.1', 'localhost'].includes(pgUrl.hostname) && existsSync('/etc/postgresql') && which('pg_ctlcluster')) {
    const [version] = readdirSync('/etc/postgresql');
    console.log(`starting PostgreSQL ${version}`);
    spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
    if (await waitFor(check, 20)) return;
  }
  throw new Error(`PostgreSQL is not reachable at ${pgUrl.host}. Install and start it (apt-get install postgresql) or set TEST_PG_URL.`);
}

try {
  await Promise.all([ensureRedis(), ensurePostgres()]);
} catch (err) {
  console.error(`npm test: ${err.message}`);
  process.exit(1);
}

rmSync(new URL('../../test-artifacts/server.log', import.meta.url), { force: true });
const args = process.argv.slice(2);
// With no test files named, run the whole suite.
if (!args.some((a) => !a.startsWith('-'))) args.push('test/**/*.test.ts');
const mocha = spawn(process.execPath, ['node_modules/mocha/bin/mocha.js', ...args], { stdio: 'inherit' });
mocha.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
