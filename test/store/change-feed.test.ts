// The read caches for clients, accounts and settings on PostgreSQL, and the change feed that keeps
// them true: a cached row is dropped as soon as anyone (another instance, the CLI, psql) commits a
// change to it; while the feed cannot prove it hears every change, nothing is read from memory.
// To tell a cached read from a database read, the tests change rows the way the triggers cannot
// see (a session with session_replication_role = replica skips triggers): a cached read still
// shows the old value, a database read the new one.
import { expect } from 'chai';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase, type Db } from '../../src/db/database.js';
import { HEARTBEAT_MS } from '../../src/db/change-feed.js';
import { readCache } from '../../src/db/read-cache.js';
import { AccountRepo } from '../../src/db/repos/accounts.js';
import { ClientRepo } from '../../src/db/repos/clients.js';
import { SettingsRepo } from '../../src/db/repos/settings.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../faults/helpers.js';

/** Runs SQL in a session whose writes fire no trigger, so no change is announced. */
async function unannounced(url: string, text: string, values: unknown[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('set session_replication_role = replica');
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

const live = (db: Db) => until(async () => db.changes!.live, 5000, 'the change feed live');

describe('store: PostgreSQL read caches kept true by the change feed', function () {
  this.timeout(30_000);
  let testDb: TestDatabase;
  let served: Db;
  let elsewhere: Db;

  before(async () => {
    testDb = await createTestDatabase('postgres');
    served = await openDatabase(testDb.url, { changeFeed: true });
    served.changes!.start();
    // Another instance, or the CLI: the same database, no feed of its own.
    elsewhere = await openDatabase(testDb.url);
    await live(served);
  });
  after(async () => {
    await served?.close();
    await elsewhere?.close();
    await testDb?.drop();
  });

  it('serves a read row from memory until a change to it is committed elsewhere, then reads it again: accounts, clients, settings', async () => {
    const accounts = new AccountRepo(served.kysely);
    const clients = new ClientRepo(served.kysely);
    const settings = new SettingsRepo(served.kysely);
    const fay = await accounts.create({ username: 'fay', name: 'Fay' });
    await clients.create('crm', { redirect_uris: ['https://crm.example.com/cb'], require_mfa: false }, null);
    await settings.set('policy', { enforce: false });

    const cases = [
      { table: 'accounts', read: async () => (await accounts.findById(fay.id))?.name, hidden: ['update accounts set name = $1 where id = $2', ['Hidden', fay.id]], change: () => new AccountRepo(elsewhere.kysely).update(fay.id, { name: 'Fay Ross' }), after: 'Fay Ross', before: 'Fay' },
      { table: 'clients', read: async () => (await clients.find('crm'))?.metadata.require_mfa, hidden: [`update clients set metadata = $1 where client_id = $2`, ['{"require_mfa":"hidden"}', 'crm']], change: () => new ClientRepo(elsewhere.kysely).update('crm', { redirect_uris: ['https://crm.example.com/cb'], require_mfa: true }, null), after: true, before: false },
      { table: 'settings', read: async () => (await settings.get<{ enforce: unknown }>('policy'))?.enforce, hidden: [`update settings set value = $1 where key = $2`, ['{"enforce":"hidden"}', 'policy']], change: () => new SettingsRepo(elsewhere.kysely).set('policy', { enforce: true }), after: true, before: false },
    ] as const;
    for (const c of cases) {
      expect(await c.read(), c.table).to.equal(c.before);
      await unannounced(testDb.url, c.hidden[0], [...c.hidden[1]]);
      expect(await c.read(), `${c.table}: kept in memory`).to.equal(c.before);
      await c.change();
      const ms = await until(async () => (await c.read()) === c.after, 1000, `${c.table}: the change seen`);
      expect(ms, c.table).to.be.below(1000);
    }
  });

  it('forgets a row changed through this process at once, without waiting for the announcement', async () => {
    const accounts = new AccountRepo(served.kysely);
    const gus = await accounts.create({ username: 'gus' });
    expect((await accounts.findById(gus.id))!.disabled).to.equal(false);
    // A second repository on the same handle (what a CLI command in this process would use).
    await new AccountRepo(served.kysely).update(gus.id, { disabled: true });
    expect((await accounts.findById(gus.id))!.disabled).to.equal(true);
  });

  it('does not keep a row whose read overlapped a committed change to that table', async () => {
    const accounts = new AccountRepo(served.kysely);
    const hal = await accounts.create({ username: 'hal', name: 'Hal' });
    const cache = readCache<{ name: string | null }>(served.kysely, 'accounts');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A read that began before the change and answers after it, with what it saw then.
    const slow = cache.get(`race-${hal.id}`, async () => {
      await gate;
      return { name: 'Hal (old)' };
    });
    await new AccountRepo(elsewhere.kysely).update(hal.id, { name: 'Hal Jones' });
    await served.changes!.synced();
    release();
    expect((await slow)!.name).to.equal('Hal (old)');
    let reads = 0;
    const again = await cache.get(`race-${hal.id}`, async () => {
      reads++;
      return { name: 'Hal Jones' };
    });
    expect(reads, 'the overlapping read was not kept').to.equal(1);
    expect(again!.name).to.equal('Hal Jones');
  });

  it('reads from the database while its listener is gone, and caches again once a new one hears', async () => {
    const accounts = new AccountRepo(served.kysely);
    const ivy = await accounts.create({ username: 'ivy', name: 'Ivy' });
    await accounts.findById(ivy.id);
    const killed = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen%'`.execute(elsewhere.kysely);
    expect(killed.rows[0]!.n).to.equal(1);
    await until(async () => !served.changes!.live, 2000, 'the feed dark');
    await unannounced(testDb.url, 'update accounts set name = $1 where id = $2', ['Ivy while dark', ivy.id]);
    expect((await accounts.findById(ivy.id))!.name, 'read from the database').to.equal('Ivy while dark');

    await live(served);
    expect((await accounts.findById(ivy.id))!.name).to.equal('Ivy while dark');
    await unannounced(testDb.url, 'update accounts set name = $1 where id = $2', ['Ivy hidden', ivy.id]);
    expect((await accounts.findById(ivy.id))!.name, 'cached again').to.equal('Ivy while dark');
  });

  it('turns the caches off within one heartbeat when the database hangs with its connections open, and on again when it answers', async function () {
    this.timeout(40_000);
    const url = new URL(testDb.url);
    const proxy = await new TcpProxy(url.hostname, Number(url.port || 5432)).start();
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const behind = await openDatabase(url.toString(), { changeFeed: true });
    try {
      behind.changes!.start();
      await live(behind);
      const accounts = new AccountRepo(behind.kysely);
      const joy = await accounts.create({ username: 'joy' });
      await accounts.findById(joy.id);
      proxy.freeze();
      const dark = await until(async () => !behind.changes!.live, HEARTBEAT_MS + 4000, 'the feed dark while the database hangs');
      expect(dark).to.be.below(HEARTBEAT_MS + 4000);
      // Dark means no read is answered from memory: this one waits for the hung database.
      const read = accounts.findById(joy.id).then(
        (account) => account?.username,
        (err: Error) => err.message,
      );
      const first = await Promise.race([read, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 300))]);
      expect(first, 'not answered from memory').to.equal('still waiting');
      proxy.thaw();
      expect(await read).to.equal('joy');
      await live(behind);
    } finally {
      proxy.thaw();
      await behind.close();
      await proxy.close();
    }
  });

  it('caches nothing without a feed: SQLite, and PostgreSQL opened for a CLI command', async () => {
    const sqliteDb = await createTestDatabase('sqlite');
    const lite = await openDatabase(sqliteDb.url, { changeFeed: true });
    try {
      expect(lite.changes).to.equal(undefined);
      const accounts = new AccountRepo(lite.kysely);
      const kim = await accounts.create({ username: 'kim', name: 'Kim' });
      await accounts.findById(kim.id);
      await lite.kysely.updateTable('accounts').set({ name: 'Kim Park' }).where('id', '=', kim.id).execute();
      expect((await accounts.findById(kim.id))!.name).to.equal('Kim Park');
    } finally {
      await lite.close();
      await sqliteDb.drop();
    }
    const accounts = new AccountRepo(elsewhere.kysely);
    expect(elsewhere.changes).to.equal(undefined);
    const lou = await accounts.create({ username: 'lou', name: 'Lou' });
    await accounts.findById(lou.id);
    await unannounced(testDb.url, 'update accounts set name = $1 where id = $2', ['Lou Grant', lou.id]);
    expect((await accounts.findById(lou.id))!.name).to.equal('Lou Grant');
  });
});
