// The admin CLI as an operator runs it: the built `twofold` command in a child process, configured
// only through the environment (DATABASE_URL, TWOFOLD_SECRET, TWOFOLD_DATA_DIR, REDIS_URL), each
// command checked for its exit code, its output and its effect on the stores.
// Needs a build (npm test builds first; alone: npm run build).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Redis } from 'ioredis';
import { openDatabase, type Db } from '../../src/db/database.js';
import { AccountRepo } from '../../src/db/repos/accounts.js';
import { FactorRepo, newFactorId } from '../../src/db/repos/factors.js';
import { PasswordHasher } from '../../src/accounts/passwords.js';
import { RedisSessionStore } from '../../src/store/redis.js';
import { connectRedis, createRedisClient } from '../../src/store/redis-connection.js';
import { keys } from '../../src/store/session-store.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { relyingParty } from '../support/oidc.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const SECRET = 'cli-test-secret-0123456789-abcdefghijklmnop';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment an operator would set, and nothing from this process (no stray REDIS_URL). */
function cliEnv(db: TestDatabase, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: db.dataDir, DATABASE_URL: db.url, TWOFOLD_SECRET: SECRET, TWOFOLD_DATA_DIR: db.dataDir, ...extra };
}

function runCli(env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    // The working directory is the data directory, so no config/*.json of a developer applies.
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: env.TWOFOLD_DATA_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Runs the CLI in a pseudo-terminal (util-linux `script`), answering each prompt as it appears,
 * as a person at a terminal would. Returns everything the terminal showed.
 */
function runInTerminal(env: NodeJS.ProcessEnv, args: string[], answers: string[]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { env, cwd: env.TWOFOLD_DATA_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let answered = 0;
    const onData = (d: Buffer) => {
      screen += d;
      const prompts = screen.match(/password: /gi)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

function succeeded(run: Run): Run {
  expect(run.code, `exit code; stderr: ${run.stderr}`).to.equal(0);
  expect(run.stderr, 'nothing on stderr').to.equal('');
  return run;
}

/** A failure: non-zero exit, nothing on stdout, one line on stderr matching `reason`. */
function failed(run: Run, reason: RegExp): void {
  expect(run.code, `exit code; stdout: ${run.stdout}`).to.be.a('number').and.not.equal(0);
  expect(run.stdout).to.equal('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, `stderr: ${run.stderr}`).to.have.length(1);
  expect(lines[0]).to.match(reason);
}

const json = <T = any>(run: Run): T => JSON.parse(succeeded(run).stdout) as T;

/**
 * Runs commands that must each fail, three at a time (every one is a Node start), and checks
 * each the way failed() does. Only for commands that change nothing, so their order is free.
 */
async function allFail(run: (...args: string[]) => Promise<Run>, cases: Array<[string[], RegExp]>): Promise<void> {
  const results: Run[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) results[i] = await run(...cases[i]![0]);
  };
  await Promise.all([worker(), worker(), worker()]);
  results.forEach((result, i) => failed(result, cases[i]![1]));
}

describe('CLI: twofold <command>', function () {
  // Each command starts Node and opens the database: about a second on a busy machine.
  this.timeout(60_000);
  this.slow(5_000);

  let db: TestDatabase;
  let twofold: (...args: string[]) => Promise<Run>;

  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
    db = await createTestDatabase('sqlite');
    twofold = (...args) => runCli(cliEnv(db), args);
  });
  after(() => db?.drop());

  describe('--help', () => {
    it('lists every command group, and each group its commands', async () => {
      const top = succeeded(await twofold('--help')).stdout;
      for (const group of ['serve', 'client', 'user', 'policy', 'keys', 'audit']) expect(top).to.match(new RegExp(`^\\s+${group}\\b`, 'm'));
      const client = succeeded(await twofold('client', '--help')).stdout;
      for (const cmd of ['add', 'update', 'list', 'show', 'remove', 'rotate-secret']) expect(client).to.match(new RegExp(`^\\s+${cmd}\\b`, 'm'));
      const user = succeeded(await twofold('user', '--help')).stdout;
      for (const cmd of ['add', 'list', 'show', 'remove', 'set-password', 'disable', 'enable', 'reset-mfa', 'unlock']) expect(user).to.match(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    });

    it('documents every option of client add and client update from the contract', async () => {
      const add = succeeded(await twofold('client', 'add', '--help')).stdout;
      for (const option of ['--redirect-uri', '--secret', '--public', '--require-mfa', '--name', '--post-logout-redirect-uri', '--consent', '--grant-type', '--scope', '--admin', '--json']) {
        expect(add).to.include(option);
      }
      expect(succeeded(await twofold('client', 'update', '--help')).stdout).to.include('--no-require-mfa');
      const userAdd = succeeded(await twofold('user', 'add', '--help')).stdout;
      for (const option of ['--password', '--password-stdin', '--email', '--name', '--role', '--locale']) expect(userAdd).to.include(option);
      expect(succeeded(await twofold('policy', 'set', '--help')).stdout).to.include('--require-mfa');
    });

    it('an unknown command, a missing argument or an unknown option fails with one line', async () => {
      await allFail(twofold, [
        [['frobnicate'], /^twofold: unknown command 'frobnicate'/],
        [['client', 'show'], /^twofold: missing required argument 'client_id'/],
        [['user', 'list', '--colour'], /^twofold: unknown option '--colour'/],
      ]);
    });
  });

  describe('client', () => {
    it('add registers a confidential client and prints its generated secret once', async () => {
      const run = succeeded(await twofold('client', 'add', 'crm', '--redirect-uri', 'https://crm.example.com/callback', '--name', 'Our CRM'));
      expect(run.stdout).to.include('Registered client "crm"');
      expect(run.stdout).to.match(/client_secret: [A-Za-z0-9_-]{43}\b/);
      const shown = json(await twofold('client', 'show', 'crm', '--json'));
      expect(shown).to.include({ client_id: 'crm', client_name: 'Our CRM', public: false, require_mfa: false, consent: false, admin: false });
      expect(shown.redirect_uris).to.deep.equal(['https://crm.example.com/callback']);
      expect(shown.grant_types).to.deep.equal(['authorization_code', 'refresh_token']);
      expect(JSON.stringify(shown)).to.not.include('secret');
    });

    it('add --json with every option, and a secret given on the command line is not echoed', async () => {
      const secret = 'a-secret-of-at-least-32-characters-long';
      const added = json(
        await twofold(
          'client', 'add', 'portal', '--json', '--secret', secret,
          '--redirect-uri', 'https://portal.example.com/a', '--redirect-uri', 'https://portal.example.com/b',
          '--post-logout-redirect-uri', 'https://portal.example.com/bye',
          '--require-mfa', '--consent', '--scope', 'openid email', '--name', 'Portal',
        ),
      );
      expect(added).to.include({ client_id: 'portal', client_name: 'Portal', require_mfa: true, consent: true, public: false, scope: 'openid email' });
      expect(added.redirect_uris).to.deep.equal(['https://portal.example.com/a', 'https://portal.example.com/b']);
      expect(added.post_logout_redirect_uris).to.deep.equal(['https://portal.example.com/bye']);
      expect(added).to.not.have.property('client_secret');
    });

    it('add --public registers a client without a secret; rotate-secret refuses it', async () => {
      const added = json(await twofold('client', 'add', 'spa', '--public', '--redirect-uri', 'http://localhost:5173/cb', '--json'));
      expect(added).to.include({ public: true });
      expect(added).to.not.have.property('client_secret');
      failed(await twofold('client', 'rotate-secret', 'spa'), /^twofold: .*public client/);
      failed(await twofold('client', 'add', 'spa2', '--public', '--secret', 'a-secret-of-at-least-32-characters-long', '--redirect-uri', 'https://x.example.com/cb'), /^twofold: .*public client/);
      failed(await twofold('client', 'add', 'spa3', '--public', '--grant-type', 'client_credentials'), /^twofold: .*client_credentials/);
    });

    it('--admin needs the client_credentials grant, and then gets the admin scope', async () => {
      failed(await twofold('client', 'add', 'ops', '--admin', '--redirect-uri', 'https://ops.example.com/cb'), /^twofold: .*client_credentials/);
      const added = json(await twofold('client', 'add', 'ops', '--admin', '--grant-type', 'client_credentials', '--json'));
      expect(added).to.include({ admin: true });
      expect(added.grant_types).to.deep.equal(['client_credentials']);
      expect(added.scope.split(' ')).to.include('admin');
      expect(added.client_secret).to.be.a('string').with.length.greaterThan(30);
      failed(await twofold('client', 'add', 'sneaky', '--grant-type', 'client_credentials', '--scope', 'openid admin'), /^twofold: .*admin/);
    });

    it('refuses a duplicate id, a bad redirect URI, a short secret and a bad grant type, each in one line', async () => {
      await allFail(twofold, [
        [['client', 'add', 'crm', '--redirect-uri', 'https://crm.example.com/callback'], /^twofold: a client with id "crm" already exists$/],
        [['client', 'add', 'bad1', '--redirect-uri', 'http://crm.example.com/callback'], /^twofold: .*redirect URI/],
        [['client', 'add', 'bad2', '--redirect-uri', 'https://crm.example.com/cb#frag'], /^twofold: .*redirect URI/],
        [['client', 'add', 'bad3', '--redirect-uri', 'not a url'], /^twofold: .*redirect URI/],
        [['client', 'add', 'bad4'], /^twofold: .*--redirect-uri/],
        [['client', 'add', 'bad5', '--redirect-uri', 'https://x.example.com/cb', '--secret', 'short'], /^twofold: .*32 characters/],
        [['client', 'add', 'bad6', '--redirect-uri', 'https://x.example.com/cb', '--grant-type', 'implicit'], /^twofold: /],
        [['client', 'add', 'bad id!', '--redirect-uri', 'https://x.example.com/cb'], /^twofold: .*client_id/],
      ]);
      const ids = json<Array<{ client_id: string }>>(await twofold('client', 'list', '--json')).map((c) => c.client_id);
      expect(ids.filter((id) => id.startsWith('bad'))).to.deep.equal([]);
    });

    it('update --require-mfa / --no-require-mfa and other options change only what is given', async () => {
      expect(json(await twofold('client', 'update', 'crm', '--require-mfa', '--json'))).to.include({ require_mfa: true, client_name: 'Our CRM' });
      expect(json(await twofold('client', 'show', 'crm', '--json'))).to.include({ require_mfa: true });
      expect(json(await twofold('client', 'update', 'crm', '--no-require-mfa', '--json'))).to.include({ require_mfa: false });
      const updated = json(await twofold('client', 'update', 'crm', '--name', 'CRM', '--redirect-uri', 'https://crm.example.com/new', '--json'));
      expect(updated).to.include({ client_name: 'CRM', require_mfa: false, public: false });
      expect(updated.redirect_uris).to.deep.equal(['https://crm.example.com/new']);
      const plain = succeeded(await twofold('client', 'update', 'crm', '--consent'));
      expect(plain.stdout).to.include('Updated client "crm"');
      failed(await twofold('client', 'update', 'ghost', '--require-mfa'), /^twofold: no client "ghost"$/);
      failed(await twofold('client', 'update', 'crm', '--redirect-uri', 'ftp://crm.example.com/'), /^twofold: .*redirect URI/);
    });

    it('list prints a table and --json an array; show prints the client', async () => {
      const table = succeeded(await twofold('client', 'list')).stdout;
      expect(table.split('\n')[0]).to.match(/^CLIENT_ID\s+CLIENT_NAME\s+TYPE\s+REQUIRE_MFA/);
      expect(table).to.match(/^spa\s.*public/m);
      expect(table).to.match(/^crm\s.*confidential/m);
      const listed = json<Array<{ client_id: string }>>(await twofold('client', 'list', '--json'));
      expect(listed.map((c) => c.client_id)).to.include.members(['crm', 'portal', 'spa', 'ops']);
      const shown = succeeded(await twofold('client', 'show', 'portal')).stdout;
      expect(shown).to.match(/^client_id\s+portal$/m);
      expect(shown).to.match(/^require_mfa\s+true$/m);
      failed(await twofold('client', 'show', 'ghost'), /^twofold: no client "ghost"$/);
      failed(await twofold('client', 'show', 'ghost', '--json'), /^twofold: no client "ghost"$/);
    });

    it('remove deletes a client once', async () => {
      succeeded(await twofold('client', 'add', 'temp', '--redirect-uri', 'https://t.example.com/cb'));
      expect(succeeded(await twofold('client', 'remove', 'temp')).stdout).to.include('Removed client "temp"');
      failed(await twofold('client', 'show', 'temp'), /no client "temp"/);
      failed(await twofold('client', 'remove', 'temp'), /^twofold: no client "temp"$/);
    });
  });

  describe('client secrets reach a running provider at once', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ databaseUrl: db.url, secret: SECRET });
    });
    after(() => server?.close());

    it('a client added by the CLI gets tokens with its printed secret; rotate-secret replaces the secret without a restart', async () => {
      const { client_secret: first } = json<{ client_secret: string }>(await twofold('client', 'add', 'machine', '--grant-type', 'client_credentials', '--json'));
      const firstTokens = await oidc.clientCredentialsGrant(await relyingParty(server, 'machine', first));
      expect(firstTokens.access_token).to.be.a('string');

      const rotated = json<{ client_id: string; client_secret: string }>(await twofold('client', 'rotate-secret', 'machine', '--json'));
      expect(rotated.client_id).to.equal('machine');
      expect(rotated.client_secret).to.not.equal(first);
      expect((await oidc.clientCredentialsGrant(await relyingParty(server, 'machine', rotated.client_secret))).access_token).to.be.a('string');
      let refused: unknown;
      try {
        await oidc.clientCredentialsGrant(await relyingParty(server, 'machine', first));
      } catch (err) {
        refused = err;
      }
      // 401 with a WWW-Authenticate challenge naming invalid_client.
      expect(refused, 'the old secret still worked').to.have.property('status', 401);
      expect(JSON.stringify((refused as { cause: unknown }).cause)).to.include('invalid_client');

      const plain = succeeded(await twofold('client', 'rotate-secret', 'machine'));
      expect(plain.stdout).to.match(/New client_secret for "machine": [A-Za-z0-9_-]{43}/);
      failed(await twofold('client', 'rotate-secret', 'ghost'), /^twofold: no client "ghost"$/);
    });
  });

  describe('user', () => {
    let store: Db;
    let accounts: AccountRepo;
    const hasher = new PasswordHasher({ memoryKiB: 8192, iterations: 1, parallelism: 1 });

    before(async () => {
      store = await openDatabase(db.url);
      accounts = new AccountRepo(store.kysely);
    });
    after(() => store?.close());

    const passwordOf = async (username: string) => (await accounts.findByUsername(username))!.passwordHash!;

    it('add --password creates a user with every field and an argon2id hash of that password', async () => {
      const run = succeeded(await twofold('user', 'add', 'alice', '--password', 'correct horse battery', '--email', 'alice@example.com', '--name', 'Alice Adams', '--role', 'salesperson', '--locale', 'de-CH'));
      expect(run.stdout).to.include('Created user "alice"');
      const account = (await accounts.findByUsername('alice'))!;
      expect(account).to.include({ email: 'alice@example.com', name: 'Alice Adams', role: 'salesperson', locale: 'de-CH', disabled: false });
      expect(account.passwordHash).to.match(/^\$argon2id\$/);
      expect(await hasher.verify(account.passwordHash!, 'correct horse battery')).to.equal(true);
    });

    it('add --password-stdin reads the password from standard input, and --json prints the user', async () => {
      const added = JSON.parse(succeeded(await runCli(cliEnv(db), ['user', 'add', 'bob', '--password-stdin', '--json'], 'a password from stdin\n')).stdout);
      expect(added).to.include({ username: 'bob', disabled: false });
      expect(added).to.not.have.property('passwordHash');
      expect(JSON.stringify(added)).to.not.include('argon2');
      expect(await hasher.verify(await passwordOf('bob'), 'a password from stdin')).to.equal(true);
    });

    it('in a terminal, add and set-password ask for the password twice without showing it', async () => {
      const added = await runInTerminal(cliEnv(db), ['user', 'add', 'pat'], ['typed at a prompt', 'typed at a prompt']);
      expect(added.code, added.screen).to.equal(0);
      expect(added.screen).to.match(/Password: [\s\S]*Repeat password: [\s\S]*Created user "pat"/);
      expect(added.screen).to.not.include('typed at a prompt');
      expect(await hasher.verify(await passwordOf('pat'), 'typed at a prompt')).to.equal(true);

      const mismatch = await runInTerminal(cliEnv(db), ['user', 'set-password', 'pat'], ['first attempt here', 'second attempt here']);
      expect(mismatch.code).to.not.equal(0);
      expect(mismatch.screen).to.include('twofold: the passwords do not match');
      expect(await hasher.verify(await passwordOf('pat'), 'typed at a prompt')).to.equal(true);
      await accounts.remove((await accounts.findByUsername('pat'))!.id);
    });

    it('refuses a duplicate user (in any case), a short password, a bad email, a bad username and no password at all', async () => {
      await allFail(twofold, [
        [['user', 'add', 'ALICE', '--password', 'correct horse battery'], /^twofold: a user named "ALICE" already exists$/],
        [['user', 'add', 'carol', '--password', 'short'], /^twofold: password must be at least 8 characters$/],
        [['user', 'add', 'carol', '--password', 'long enough pw', '--email', 'not-an-email'], /^twofold: .*email/],
        [['user', 'add', '-carol', '--password', 'long enough pw'], /^twofold: /],
        [['user', 'add', 'car ol', '--password', 'long enough pw'], /^twofold: username may use/],
        // No --password, no --password-stdin, and standard input is not a terminal.
        [['user', 'add', 'carol'], /^twofold: give a password with --password, --password-stdin/],
      ]);
      failed(await runCli(cliEnv(db), ['user', 'add', 'carol', '--password-stdin'], ''), /^twofold: password must be at least 8 characters$/);
      expect(await accounts.findByUsername('carol')).to.equal(undefined);
    });

    it('list prints a table, --json an array, --search filters', async () => {
      const table = succeeded(await twofold('user', 'list')).stdout;
      expect(table.split('\n')[0]).to.match(/^USERNAME\s+NAME\s+EMAIL\s+ROLE\s+DISABLED/);
      expect(table).to.match(/^alice\s+Alice Adams\s+alice@example\.com\s+salesperson\s+false$/m);
      const listed = json<Array<{ username: string }>>(await twofold('user', 'list', '--json'));
      expect(listed.map((u) => u.username)).to.deep.equal(['alice', 'bob']);
      const found = json<Array<{ username: string }>>(await twofold('user', 'list', '--json', '--search', 'ALI'));
      expect(found.map((u) => u.username)).to.deep.equal(['alice']);
    });

    it('show prints the user and their factors, in any case of the name; unknown users fail', async () => {
      const account = (await accounts.findByUsername('alice'))!;
      const factors = new FactorRepo(store.kysely);
      await factors.add({ id: newFactorId(), accountId: account.id, type: 'totp', name: 'Phone app', secretSealed: 'sealed' });
      await factors.add({ id: newFactorId(), accountId: account.id, type: 'sms', name: 'Mobile', secretSealed: 'sealed' });
      const shown = json(await twofold('user', 'show', 'ALICE', '--json'));
      expect(shown).to.include({ id: account.id, username: 'alice', email: 'alice@example.com', disabled: false });
      expect(shown.factors.map((f: { type: string; preferred: boolean }) => [f.type, f.preferred])).to.deep.equal([
        ['totp', true],
        ['sms', false],
      ]);
      expect(JSON.stringify(shown)).to.not.include('sealed');
      const text = succeeded(await twofold('user', 'show', 'alice')).stdout;
      expect(text).to.match(/^username\s+alice$/m);
      expect(text).to.match(/^factors\s+totp\* sms$/m);
      failed(await twofold('user', 'show', 'nobody'), /^twofold: no user named "nobody"$/);
    });

    it('reset-mfa removes every second factor of the user', async () => {
      expect(succeeded(await twofold('user', 'reset-mfa', 'alice')).stdout).to.include('Removed 2 second factors of "alice"');
      expect(json(await twofold('user', 'show', 'alice', '--json')).factors).to.deep.equal([]);
      expect(succeeded(await twofold('user', 'reset-mfa', 'alice')).stdout).to.include('Removed 0 second factors');
      failed(await twofold('user', 'reset-mfa', 'nobody'), /^twofold: no user named "nobody"$/);
    });

    it('set-password replaces the password (from --password or stdin) and refuses a short one', async () => {
      const before = await passwordOf('alice');
      succeeded(await twofold('user', 'set-password', 'alice', '--password', 'a brand new password'));
      expect(await hasher.verify(await passwordOf('alice'), 'a brand new password')).to.equal(true);
      expect(await hasher.verify(await passwordOf('alice'), 'correct horse battery')).to.equal(false);
      expect(await passwordOf('alice')).to.not.equal(before);
      succeeded(await runCli(cliEnv(db), ['user', 'set-password', 'alice', '--password-stdin'], 'yet another password\n'));
      expect(await hasher.verify(await passwordOf('alice'), 'yet another password')).to.equal(true);
      failed(await twofold('user', 'set-password', 'alice', '--password', 'short'), /^twofold: password must be at least 8 characters$/);
      expect(await hasher.verify(await passwordOf('alice'), 'yet another password')).to.equal(true);
      failed(await twofold('user', 'set-password', 'nobody', '--password', 'long enough pw'), /^twofold: no user named "nobody"$/);
    });

    it('disable and enable flip the flag', async () => {
      expect(succeeded(await twofold('user', 'disable', 'bob')).stdout).to.include('disabled');
      expect((await accounts.findByUsername('bob'))!.disabled).to.equal(true);
      expect(json(await twofold('user', 'show', 'bob', '--json'))).to.include({ disabled: true });
      succeeded(await twofold('user', 'enable', 'bob'));
      expect((await accounts.findByUsername('bob'))!.disabled).to.equal(false);
      failed(await twofold('user', 'disable', 'nobody'), /^twofold: no user named "nobody"$/);
    });

    it('unlock without REDIS_URL says it cannot reach the lockouts', async () => {
      failed(await twofold('user', 'unlock', 'alice'), /^twofold: unlocking needs the shared session store \(REDIS_URL\)/);
      failed(await twofold('user', 'unlock', 'nobody'), /^twofold: no user named "nobody"$/);
    });

    it('[item 18] unlock with REDIS_URL clears the password throttle and the second-factor lock in Redis', async () => {
      const prefix = `tfcli${randomBytes(4).toString('hex')}:`;
      const client = createRedisClient(TEST_REDIS_URL, { keyPrefix: prefix });
      await connectRedis(client, TEST_REDIS_URL);
      const redis = new RedisSessionStore(client);
      const raw = new Redis(TEST_REDIS_URL);
      try {
        const account = (await accounts.findByUsername('alice'))!;
        const accountKeys = keys.account(account.id);
        await redis.increment(keys.signInFailuresAccount('alice'), 900, 10);
        for (let i = 0; i < 3; i++) await redis.recordSecondFactorFailure(accountKeys, keys.challengeFailures(account.id, 'ix'), { threshold: 3, lockSeconds: 900 }, 900);
        expect(await redis.lockedFor(accountKeys)).to.be.greaterThan(0);

        const run = await runCli(cliEnv(db, { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix }), ['user', 'unlock', 'Alice']);
        expect(succeeded(run).stdout).to.include('Unlocked "Alice"');
        expect(await redis.lockedFor(accountKeys)).to.equal(0);
        expect((await redis.peek(keys.signInFailuresAccount('alice'))).count).to.equal(0);
        expect(await redis.getJson(accountKeys.lockouts)).to.equal(undefined);
      } finally {
        const left = await raw.keys(`${prefix}*`);
        if (left.length) await raw.del(...left);
        await raw.quit();
        await redis.close();
      }
    });

    it('remove deletes the user and their factors; the name can be used again', async () => {
      const account = (await accounts.findByUsername('bob'))!;
      await new FactorRepo(store.kysely).add({ id: newFactorId(), accountId: account.id, type: 'totp', name: 'app', secretSealed: 's' });
      expect(succeeded(await twofold('user', 'remove', 'BOB')).stdout).to.include('Removed user');
      expect(await accounts.findByUsername('bob')).to.equal(undefined);
      expect(await new FactorRepo(store.kysely).listForAccount(account.id)).to.deep.equal([]);
      failed(await twofold('user', 'remove', 'bob'), /^twofold: no user named "bob"$/);
    });
  });

  describe('policy', () => {
    it('show prints the default policy; set changes it; show --json reads it back', async () => {
      const shown = succeeded(await twofold('policy', 'show')).stdout;
      expect(shown).to.match(/^require-mfa\s+per-client$/m);
      expect(json(await twofold('policy', 'show', '--json'))).to.include({ requireMfa: 'per-client' });
      expect(succeeded(await twofold('policy', 'set', '--require-mfa', 'all')).stdout).to.include('require-mfa all');
      expect(json(await twofold('policy', 'show', '--json'))).to.include({ requireMfa: 'all' });
      const next = json(await twofold('policy', 'set', '--require-mfa', 'per-client', '--allowed-factors', 'totp,sms', '--grace-skips', '3', '--grace-until', '2030-01-31', '--json'));
      expect(next).to.deep.equal({ requireMfa: 'per-client', allowedFactors: ['totp', 'sms'], graceSkips: 3, graceUntil: '2030-01-31T00:00:00.000Z' });
      expect(json(await twofold('policy', 'set', '--grace-until', 'none', '--json'))).to.include({ graceUntil: null, graceSkips: 3 });
    });

    it('refuses a bad value in one line, naming the option, and changes nothing', async () => {
      const before = json(await twofold('policy', 'show', '--json'));
      await allFail(twofold, [
        [['policy', 'set', '--require-mfa', 'sometimes'], /^twofold: option '--require-mfa <mode>' argument 'sometimes' is invalid\. Allowed choices are all, per-client/],
        [['policy', 'set', '--grace-skips', 'lots'], /^twofold: option '--grace-skips <n>' argument 'lots' is invalid/],
        [['policy', 'set', '--grace-skips', '1000'], /^twofold: .*100/],
        [['policy', 'set', '--allowed-factors', 'totp,fax'], /^twofold: option '--allowed-factors <types>' argument 'totp,fax' is invalid/],
        [['policy', 'set', '--grace-until', 'someday'], /^twofold: option '--grace-until <date>' argument 'someday' is invalid/],
      ]);
      expect(json(await twofold('policy', 'show', '--json'))).to.deep.equal(before);
    });
  });

  describe('keys', () => {
    it('list, rotate (the old pair retires), and remove only a retired key', async () => {
      const initial = json<unknown[]>(await twofold('keys', 'list', '--json'));
      succeeded(await twofold('keys', 'rotate'));
      const first = json<Array<{ kid: string; alg: string; state: string }>>(await twofold('keys', 'list', '--json')).slice(0, 2);
      expect(first.map((k) => k.alg).sort()).to.deep.equal(['ES256', 'RS256']);
      expect(first.map((k) => k.state)).to.deep.equal(['signing', 'signing']);

      const rotated = succeeded(await twofold('keys', 'rotate')).stdout;
      const listed = json<Array<{ kid: string; state: string }>>(await twofold('keys', 'list', '--json'));
      expect(listed).to.have.length(initial.length + 4);
      const signing = listed.filter((k) => k.state === 'signing').map((k) => k.kid);
      expect(signing).to.have.length(2);
      for (const kid of signing) expect(rotated).to.include(kid);
      for (const old of first) expect(listed.find((k) => k.kid === old.kid)!.state).to.match(/^retired /);

      const table = succeeded(await twofold('keys', 'list')).stdout;
      expect(table.split('\n')[0]).to.match(/^KID\s+ALG\s+STATE/);

      failed(await twofold('keys', 'remove', signing[0]!), /^twofold: key .* still signs/);
      // A kid is base64url: one that starts with "-" is still a kid, not an option.
      failed(await twofold('keys', 'remove', '-Q8CYL5wvOOJFArceT9RthyXJxZInTVp52VKQGPEo4I'), /^twofold: no key "-Q8CYL5wv/);
      expect(succeeded(await twofold('keys', 'remove', first[0]!.kid)).stdout).to.include(`Removed key ${first[0]!.kid}`);
      failed(await twofold('keys', 'remove', first[0]!.kid), /^twofold: no key /);
      expect(json<unknown[]>(await twofold('keys', 'list', '--json'))).to.have.length(initial.length + 3);
    });
  });

  describe('audit', () => {
    interface Event {
      type: string;
      outcome: string;
      username: string | null;
      client_id: string | null;
      reason: string | null;
    }

    it('every change made above is in the audit trail, marked as made at the CLI, with no secret in it', async () => {
      const events = json<Event[]>(await twofold('audit', '--json', '--limit', '1000'));
      const seen = events.map((e) => `${e.type} ${e.username ?? e.client_id ?? '-'}`);
      expect(seen).to.include.members([
        'admin.client_added crm',
        'admin.client_updated crm',
        'admin.client_removed temp',
        'admin.client_secret_rotated machine',
        'admin.user_added alice',
        'password.changed alice',
        'admin.user_disabled bob',
        'admin.user_enabled bob',
        'factor.reset alice',
        'admin.user_unlocked alice',
        'admin.user_removed bob',
        'admin.policy_changed -',
      ]);
      for (const event of events) expect(event.reason, event.type).to.equal('cli');
      const text = JSON.stringify(events);
      for (const secret of ['correct horse battery', 'a password from stdin', 'a brand new password', 'a-secret-of-at-least-32-characters-long', SECRET]) expect(text).to.not.include(secret);
    });

    it('filters by user (any case), client, type and time; prints a table', async () => {
      const alice = json<Event[]>(await twofold('audit', '--user', 'ALICE', '--json'));
      expect(alice.length).to.be.greaterThan(3);
      expect(new Set(alice.map((e) => e.username))).to.deep.equal(new Set(['alice']));
      const crm = json<Event[]>(await twofold('audit', '--client', 'crm', '--json'));
      expect(crm.length).to.be.greaterThan(1);
      expect(new Set(crm.map((e) => e.client_id))).to.deep.equal(new Set(['crm']));
      const resets = json<Event[]>(await twofold('audit', '--type', 'factor.reset', '--since', '1h', '--json'));
      expect(resets.map((e) => e.type)).to.deep.equal(['factor.reset', 'factor.reset']);
      expect(json<Event[]>(await twofold('audit', '--since', '2999-01-01T00:00:00Z', '--json'))).to.deep.equal([]);
      const table = succeeded(await twofold('audit', '--user', 'bob', '--limit', '2')).stdout.trimEnd().split('\n');
      expect(table[0]).to.match(/^AT\s+TYPE\s+OUTCOME\s+USERNAME/);
      expect(table).to.have.length(3);
      await allFail(twofold, [
        [['audit', '--since', 'last week'], /^twofold: --since "last week" is not a time/],
        [['audit', '--limit', 'many'], /^twofold: --limit must be a whole number/],
      ]);
    });
  });

  describe('configuration errors', () => {
    it('a bad DATABASE_URL or an unreachable database fails in one line', async () => {
      failed(await runCli({ ...cliEnv(db), DATABASE_URL: 'mysql://localhost/x' }, ['client', 'list']), /^twofold: DATABASE_URL must start with sqlite: or postgres:\/\//);
      failed(await runCli({ ...cliEnv(db), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' }, ['client', 'list']), /^twofold: .*(database|ECONNREFUSED)/i);
      failed(await runCli({ ...cliEnv(db), TWOFOLD_SECRET: 'too short' }, ['client', 'list']), /^twofold: .*TWOFOLD_SECRET must be at least 32 characters/);
    });
  });
});

describe('CLI on PostgreSQL', function () {
  this.timeout(60_000);
  this.slow(5_000);
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase('postgres');
  });
  after(() => db?.drop());

  it('registers a client and a user in PostgreSQL named by DATABASE_URL', async () => {
    const env = cliEnv(db);
    succeeded(await runCli(env, ['client', 'add', 'crm', '--redirect-uri', 'https://crm.example.com/cb']));
    succeeded(await runCli(env, ['user', 'add', 'Alice', '--password-stdin'], 'correct horse battery\n'));
    failed(await runCli(env, ['user', 'add', 'alice', '--password', 'correct horse battery']), /^twofold: a user named "alice" already exists$/);
    expect(JSON.parse(succeeded(await runCli(env, ['client', 'list', '--json'])).stdout).map((c: { client_id: string }) => c.client_id)).to.deep.equal(['crm']);
    expect(JSON.parse(succeeded(await runCli(env, ['user', 'show', 'alice', '--json'])).stdout)).to.include({ username: 'Alice' });
  });
});
