// twofold user add|list|show|remove|set-password|disable|enable|reset-mfa|unlock and audit, run
// as the built CLI; each change is checked in the database (or in Redis for unlock).
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { openDatabase, type Db } from '../../src/db/database.js';
import { AccountRepo } from '../../src/db/repos/accounts.js';
import { FactorRepo, newFactorId } from '../../src/db/repos/factors.js';
import { PasswordHasher } from '../../src/accounts/passwords.js';
import { RedisSessionStore } from '../../src/store/redis.js';
import { connectRedis, createRedisClient } from '../../src/store/redis-connection.js';
import { keys } from '../../src/store/session-store.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { allFail, cliDatabase, cliEnv, failed, json, runCli, runInTerminal, SECRET, succeeded, type AuditEvent } from './helpers.js';
import { freePort, startTestServer } from '../support/server.js';

describe('CLI: twofold user', function () {
  const cli = cliDatabase(this);
  const twofold = (...args: string[]) => cli.twofold(...args);

  describe('user', () => {
    let store: Db;
    let accounts: AccountRepo;
    const hasher = new PasswordHasher({ memoryKiB: 8192, iterations: 1, parallelism: 1 });

    before(async () => {
      store = await openDatabase(cli.db.url);
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
      const added = JSON.parse(succeeded(await runCli(cliEnv(cli.db), ['user', 'add', 'bob', '--password-stdin', '--json'], 'a password from stdin\n')).stdout);
      expect(added).to.include({ username: 'bob', disabled: false });
      expect(added).to.not.have.property('passwordHash');
      expect(JSON.stringify(added)).to.not.include('argon2');
      expect(await hasher.verify(await passwordOf('bob'), 'a password from stdin')).to.equal(true);
    });

    it('in a terminal, add and set-password ask for the password twice without showing it', async () => {
      const added = await runInTerminal(cliEnv(cli.db), ['user', 'add', 'pat'], ['typed at a prompt', 'typed at a prompt']);
      expect(added.code, added.screen).to.equal(0);
      expect(added.screen).to.match(/Password: [\s\S]*Repeat password: [\s\S]*Created user "pat"/);
      expect(added.screen).to.not.include('typed at a prompt');
      expect(await hasher.verify(await passwordOf('pat'), 'typed at a prompt')).to.equal(true);

      const mismatch = await runInTerminal(cliEnv(cli.db), ['user', 'set-password', 'pat'], ['first attempt here', 'second attempt here']);
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
      failed(await runCli(cliEnv(cli.db), ['user', 'add', 'carol', '--password-stdin'], ''), /^twofold: password must be at least 8 characters$/);
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
      succeeded(await runCli(cliEnv(cli.db), ['user', 'set-password', 'alice', '--password-stdin'], 'yet another password\n'));
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

    it('[item 18] unlock without REDIS_URL asks the running server, whose memory holds the lockouts', async () => {
      const server = await startTestServer({ databaseUrl: cli.db.url, secret: SECRET });
      try {
        const account = (await accounts.findByUsername('alice'))!;
        const accountKeys = keys.account(account.id);
        const memory = server.services.store;
        await memory.increment(keys.signInFailuresAccount('alice'), 900, 10);
        for (let i = 0; i < 3; i++) await memory.recordSecondFactorFailure(accountKeys, keys.challengeFailures(account.id, 'ix'), { threshold: 3, lockSeconds: 900 }, 900);
        expect(await memory.lockedFor(accountKeys)).to.be.greaterThan(0);

        const run = await runCli(cliEnv(cli.db, { ISSUER: server.issuer }), ['user', 'unlock', 'Alice']);
        expect(succeeded(run).stdout).to.include('Unlocked "Alice".');
        expect(await memory.lockedFor(accountKeys)).to.equal(0);
        expect((await memory.peek(keys.signInFailuresAccount('alice'))).count).to.equal(0);

        // Signed with another installation's secret: refused, nothing cleared.
        await memory.increment(keys.signInFailuresAccount('alice'), 900, 10);
        failed(await runCli(cliEnv(cli.db, { ISSUER: server.issuer, TWOFOLD_SECRET: 'another-secret-0123456789-abcdefghijklmnop' }), ['user', 'unlock', 'alice']), /refused the unlock \(HTTP 401\)/);
        expect((await memory.peek(keys.signInFailuresAccount('alice'))).count).to.equal(10);
      } finally {
        await server.close();
      }
      // No server running: its lockouts are gone with it, and that is what the command says.
      const nobody = `http://127.0.0.1:${await freePort()}`;
      expect(succeeded(await runCli(cliEnv(cli.db, { ISSUER: nobody }), ['user', 'unlock', 'alice'])).stdout).to.include('no running server holds lockouts');
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

        const run = await runCli(cliEnv(cli.db, { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix }), ['user', 'unlock', 'Alice']);
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


  describe('audit', () => {
    it('every user change is in the audit trail, marked as made at the CLI, without a password', async () => {
      const events = json<AuditEvent[]>(await twofold('audit', '--json', '--limit', '1000'));
      expect(events.map((e) => `${e.type} ${e.username}`)).to.include.members([
        'admin.user_added alice',
        'password.changed alice',
        'admin.user_disabled bob',
        'admin.user_enabled bob',
        'factor.reset alice',
        'admin.user_unlocked alice',
        'admin.user_removed bob',
      ]);
      for (const event of events) expect(event.reason, event.type).to.equal('cli');
      const text = JSON.stringify(events);
      for (const password of ['correct horse battery', 'a password from stdin', 'a brand new password', 'yet another password', 'typed at a prompt']) expect(text).to.not.include(password);
    });

    it('filters by user (any case), type and time; prints a table; refuses a bad --since or --limit', async () => {
      const alice = json<AuditEvent[]>(await twofold('audit', '--user', 'ALICE', '--json'));
      expect(alice.length).to.be.greaterThan(3);
      expect(new Set(alice.map((e) => e.username))).to.deep.equal(new Set(['alice']));
      const resets = json<AuditEvent[]>(await twofold('audit', '--type', 'factor.reset', '--since', '1h', '--json'));
      expect(resets.map((e) => e.type)).to.deep.equal(['factor.reset', 'factor.reset']);
      expect(json<AuditEvent[]>(await twofold('audit', '--since', '2999-01-01T00:00:00Z', '--json'))).to.deep.equal([]);
      const table = succeeded(await twofold('audit', '--user', 'bob', '--limit', '2')).stdout.trimEnd().split('\n');
      expect(table[0]).to.match(/^AT\s+TYPE\s+OUTCOME\s+USERNAME/);
      expect(table).to.have.length(3);
      await allFail(twofold, [
        [['audit', '--since', 'last week'], /^twofold: --since "last week" is not a time/],
        [['audit', '--limit', 'many'], /^twofold: --limit must be a whole number/],
      ]);
    });
  });
});
