// Runs the durable store contract against SQLite and PostgreSQL, each on a fresh database, and
// checks that migrations can run again and, on PostgreSQL, from two instances starting at once.
import { expect } from 'chai';
import { sql } from 'kysely';
import { migrate, openDatabase } from '../../src/db/database.js';
import { migrationProvider } from '../../src/db/migrations.js';
import { createTestDatabase, type DbKind } from '../support/databases.js';
import { durableStoreContract } from './durable.contract.js';

for (const kind of ['sqlite', 'postgres'] as const satisfies readonly DbKind[]) {
  describe(`durable store contract: ${kind}`, () => {
    durableStoreContract(async () => {
      const testDb = await createTestDatabase(kind);
      const db = await openDatabase(testDb.url);
      return {
        db,
        dispose: async () => {
          await db.close();
          await testDb.drop();
        },
      };
    });

    it('migrations are idempotent: opening an existing database again, or migrating twice, changes nothing', async () => {
      const testDb = await createTestDatabase(kind);
      try {
        const first = await openDatabase(testDb.url);
        await first.kysely.insertInto('settings').values({ key: 'kept', value: '"yes"', updated_at: 1 }).execute();
        await migrate(first);
        await first.close();
        const second = await openDatabase(testDb.url);
        const rows = await second.kysely.selectFrom('settings').selectAll().execute();
        expect(rows).to.deep.equal([{ key: 'kept', value: '"yes"', updated_at: 1 }]);
        const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(second.kysely);
        expect(applied.rows.map((r) => r.name)).to.include('0001_core');
        expect(new Set(applied.rows.map((r) => r.name)).size).to.equal(applied.rows.length);
        await second.ping();
        await second.close();
      } finally {
        await testDb.drop();
      }
    });

    it('migration 0002 keeps the oldest of several preferred factors of an account preferred', async () => {
      const testDb = await createTestDatabase(kind);
      const db = await openDatabase(testDb.url);
      try {
        // The state before 0002: no index, several preferred factors. Then 0002 runs again.
        await db.kysely.schema.dropIndex('factors_one_preferred').execute();
        await db.kysely.insertInto('accounts').values({ id: 'a1', username: 'a1', username_key: 'a1', email_verified: 0, disabled: 0, created_at: 1, updated_at: 1 }).execute();
        await db.kysely
          .insertInto('factors')
          .values(['f-new', 'f-old', 'f-mid'].map((id, i) => ({ id, account_id: 'a1', type: 'totp', name: id, secret_sealed: 's', preferred: 1, created_at: [30, 10, 20][i]! })))
          .execute();
        await (await migrationProvider.getMigrations())['0002_one_preferred_factor']!.up(db.kysely);
        const rows = await db.kysely.selectFrom('factors').select(['id', 'preferred']).orderBy('id').execute();
        expect(rows).to.deep.equal([
          { id: 'f-mid', preferred: 0 },
          { id: 'f-new', preferred: 0 },
          { id: 'f-old', preferred: 1 },
        ]);
      } finally {
        await db.close();
        await testDb.drop();
      }
    });
  });
}

// The same contract with clients, accounts and settings cached (as a serving instance has them):
// every read after a write through the store sees the write.
describe('durable store contract: postgres, with the read caches on', () => {
  durableStoreContract(async () => {
    const testDb = await createTestDatabase('postgres');
    const db = await openDatabase(testDb.url, { changeFeed: true });
    db.changes!.start();
    const started = Date.now();
    while (!db.changes!.live) {
      if (Date.now() - started > 5000) throw new Error('the change feed did not go live within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return {
      db,
      dispose: async () => {
        await db.close();
        await testDb.drop();
      },
    };
  });
});

describe('durable store: PostgreSQL start-up', () => {
  it('two instances opening one fresh database at once both succeed, and migrate it once', async () => {
    const testDb = await createTestDatabase('postgres');
    try {
      const [a, b] = await Promise.all([openDatabase(testDb.url), openDatabase(testDb.url)]);
      const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(a.kysely);
      expect(applied.rows.filter((r) => r.name === '0001_core')).to.have.length(1);
      await b.kysely.insertInto('settings').values({ key: 'x', value: '1', updated_at: 1 }).execute();
      expect(await a.kysely.selectFrom('settings').select('value').where('key', '=', 'x').executeTakeFirst()).to.deep.equal({ value: '1' });
      await Promise.all([a.close(), b.close()]);
    } finally {
      await testDb.drop();
    }
  });
});

describe('durable store: migrations out of order', () => {
  it('a database that already ran later-numbered migrations still gets an earlier one that arrives afterwards', async () => {
    const testDb = await createTestDatabase('sqlite');
    const db = await openDatabase(testDb.url);
    try {
      const names = Object.keys(await migrationProvider.getMigrations()).sort();
      expect(names.at(-1)! > '0002_one_preferred_factor').to.equal(true);
      // As if 0002 had been written after this database ran every later migration.
      await db.kysely.schema.dropIndex('factors_one_preferred').execute();
      await sql`delete from kysely_migration where name = '0002_one_preferred_factor'`.execute(db.kysely);
      await migrate(db);
      const applied = await sql<{ name: string }>`select name from kysely_migration where name = '0002_one_preferred_factor'`.execute(db.kysely);
      expect(applied.rows).to.have.length(1);
      const index = await sql<{ name: string }>`select name from sqlite_master where type = 'index' and name = 'factors_one_preferred'`.execute(db.kysely);
      expect(index.rows).to.have.length(1);
    } finally {
      await db.close();
      await testDb.drop();
    }
  });
});
