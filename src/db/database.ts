// Opens the durable store named by DATABASE_URL and brings its schema up to date.
// The SQLite driver (a native module) is loaded only when SQLite is configured, so a PostgreSQL
// deployment runs on any Node.js without rebuilding it.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';
import { ConfigError } from '../errors.js';
import { ChangeFeed } from './change-feed.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  /** PostgreSQL opened for serving: the feed that lets clients, accounts and settings be cached. */
  changes?: ChangeFeed;
  close(): Promise<void>;
}

export function parseDatabaseUrl(url: string): { dialect: Dialect; target: string } {
  if (url.startsWith('sqlite:')) {
    const target = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!target) throw new ConfigError('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/twofold.db');
    return { dialect: 'sqlite', target };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  throw new ConfigError(`DATABASE_URL must start with sqlite: or postgres:// (got "${url.split(':')[0]}:")`);
}

async function sqliteDialect(file: string): Promise<SqliteDialect> {
  const { default: SQLite } = await import('better-sqlite3');
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SQLite(file);
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  // Kysely prepares every statement anew; the same few statements run on every request, so keep
  // them prepared (better-sqlite3 statements are reusable).
  const prepared = new Map<string, ReturnType<typeof database.prepare>>();
  const cached = {
    close: () => database.close(),
    prepare: (sql: string) => {
      let statement = prepared.get(sql);
      if (!statement) {
        statement = database.prepare(sql);
        if (prepared.size < 500) prepared.set(sql, statement);
      }
      return statement;
    },
  };
  return new SqliteDialect({ database: cached as unknown as typeof database });
}

async function postgresDialect(url: string, poolMax: number): Promise<{ dialect: PostgresDialect; listener: () => import('pg').Client }> {
  const { default: pg } = await import('pg');
  // int8 (bigint) columns hold epoch milliseconds, well inside Number's exact range.
  const types = { getTypeParser: (oid: number, format?: any) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format)) };
  // The change feed's listener: a connection of its own that never waits long on a hung server.
  const listener = () => new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000, query_timeout: 5000, keepAlive: true, types } as import('pg').ClientConfig);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    query_timeout: 5000,
    types,
  } as any);
  // A client losing its connection (database restart, network cut) must not crash the process.
  // The pool handles idle clients ('error' on the pool); a checked-out client emits 'error' on
  // itself besides failing its query, and with no listener that event would be an uncaught
  // exception. The failed query already tells the request; the pool drops the broken client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return { dialect: new PostgresDialect({ pool }), listener };
}

export interface OpenOptions {
  poolMax?: number;
  /**
   * PostgreSQL only: prepare a change feed (one more connection, started by the caller) so the rows
   * read on every request are cached. For serving; a CLI command runs too briefly to gain from it.
   */
  changeFeed?: boolean;
}

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Db> {
  const { dialect, target } = parseDatabaseUrl(url);
  const postgres = dialect === 'postgres' ? await postgresDialect(target, options.poolMax ?? 10) : undefined;
  const kysely = new Kysely<Database>({ dialect: postgres ? postgres.dialect : await sqliteDialect(target) });
  const changes = postgres && options.changeFeed ? new ChangeFeed(kysely, postgres.listener) : undefined;
  const db: Db = {
    kysely,
    dialect,
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    ...(changes ? { changes } : {}),
    close: async () => {
      await changes?.stop();
      await kysely.destroy();
    },
  };
  try {
    await migrate(db);
  } catch (err) {
    await kysely.destroy().catch(() => {});
    throw err;
  }
  return db;
}

export async function migrate(db: Db): Promise<void> {
  // Migrations are numbered in ranges per piece of work (0010+ landed before 0003+), so a
  // database may already hold a later number when an earlier one arrives: apply it anyway.
  const migrator = new Migrator({ db: db.kysely, provider: migrationProvider, allowUnorderedMigrations: true });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}
