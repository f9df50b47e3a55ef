// Schema migrations, run at start (Kysely's Migrator takes a lock so many instances can start at
// once). One list for both dialects: Kysely's schema builder writes each dialect's SQL.
// Never edit a migration that has shipped; add a new one.
import { PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
  '0001_core': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('username_key', 'text', (c) => c.notNull().unique())
        .addColumn('email', 'text')
        .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('name', 'text')
        .addColumn('role', 'text')
        .addColumn('locale', 'text')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('password_hash', 'text')
        .addColumn('password_changed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('clients')
        .addColumn('client_id', 'text', (c) => c.primaryKey())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('jwk_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('retired_at', 'bigint')
        .execute();

      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('factors')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('preferred', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema.createIndex('factors_account').on('factors').column('account_id').execute();
    },
  },
  // At most one preferred factor per account, enforced by the database: two factors saved at the
  // same moment (two tabs finishing enrolment) both saw "no factor yet" and both became preferred.
  // Existing duplicates keep the oldest as preferred.
  '0002_one_preferred_factor': {
    async up(db: Kysely<any>) {
      await sql`
        update factors set preferred = 0
        where preferred = 1 and id <> (
          select f2.id from factors f2
          where f2.account_id = factors.account_id and f2.preferred = 1
          order by f2.created_at, f2.id limit 1
        )`.execute(db);
      await db.schema
        .createIndex('factors_one_preferred')
        .on('factors')
        .column('account_id')
        .unique()
        .where(sql.ref('preferred'), '=', 1)
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('factors_one_preferred').execute();
    },
  },
  // Rollout grace (policy graceSkips / graceUntil): how many times each account skipped setting up
  // a second factor. A row per account, removed with the account; taking a skip is one
  // conditional UPDATE (skips < limit), so two tabs cannot both take the last one.
  '0003_mfa_grace_skips': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('mfa_grace_skips')
        .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id').onDelete('cascade'))
        .addColumn('skips', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_skip_at', 'bigint')
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('mfa_grace_skips').execute();
    },
  },
  // The audit trail: one row per security event, never a secret or a code.
  '0010_audit_events': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text')
        .addColumn('username', 'text')
        .addColumn('client_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('reason', 'text')
        .addColumn('details', 'text')
        .execute();
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
      await db.schema.createIndex('audit_events_account').on('audit_events').columns(['account_id', 'at']).execute();
      await db.schema.createIndex('audit_events_client').on('audit_events').columns(['client_id', 'at']).execute();
    },
  },
  // Recovery codes: stored as keyed hashes, single use.
  '0011_recovery_codes': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('recovery_codes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema.createIndex('recovery_codes_account').on('recovery_codes').column('account_id').execute();
    },
  },
  // `audit --user` and ?user= match the username without regard to case, newest first.
  '0012_audit_events_username': {
    async up(db: Kysely<any>) {
      await sql`create index audit_events_username on audit_events (lower(username), at)`.execute(db);
    },
  },
  // PostgreSQL announces every committed change to a cached table (src/db/change-feed.ts) as
  // "<table>:<key>" on the twofold_changes channel, whoever made it: an instance, the CLI, or an
  // operator in psql. SQLite needs none: its reads are not cached.
  '0013_change_notifications': {
    async up(db: Kysely<any>) {
      if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
      await sql`
        create function twofold_announce_change() returns trigger language plpgsql as $$
        begin
          if tg_op <> 'INSERT' then
            perform pg_notify('twofold_changes', tg_table_name || ':' || (to_jsonb(old) ->> tg_argv[0]));
          end if;
          if tg_op <> 'DELETE' then
            perform pg_notify('twofold_changes', tg_table_name || ':' || (to_jsonb(new) ->> tg_argv[0]));
          end if;
          return null;
        end
        $$`.execute(db);
      for (const [table, key] of [['accounts', 'id'], ['clients', 'client_id'], ['settings', 'key']]) {
        await sql`create trigger ${sql.id(`${table}_announce_change`)} after insert or update or delete on ${sql.table(table!)}
          for each row execute procedure twofold_announce_change(${sql.lit(key)})`.execute(db);
      }
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
