// Rows read on nearly every request (the client on each OIDC endpoint, the account on each step,
// the instance settings) are kept in memory while a change feed promises that every change to them,
// made by any instance, the CLI or by hand in SQL, reaches this process. Without such a promise
// (SQLite, whose reads never leave the process anyway; a PostgreSQL feed that is down) every read
// goes to the database, as before.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** What a read cache needs from the feed that invalidates it. */
export interface Invalidation {
  /** True only while every committed change is known to reach this process. */
  readonly live: boolean;
}

/**
 * Rows by key, for one table. A row is kept only if no change to that table was announced while it
 * was being read (a read that raced a change may hold the old row), and misses are never kept, so
 * unknown keys cannot fill it. Kept rows are frozen: callers map them into fresh objects.
 */
export class ReadCache<Row extends object> {
  private readonly rows = new Map<string, Readonly<Row>>();
  private generation = 0;

  constructor(
    private readonly feed: Invalidation,
    private readonly max = 10_000,
  ) {}

  async get(key: string, read: () => Promise<Row | undefined>): Promise<Readonly<Row> | undefined> {
    if (!this.feed.live) return read();
    const kept = this.rows.get(key);
    if (kept) return kept;
    const generation = this.generation;
    const row = await read();
    if (row && this.feed.live && generation === this.generation) {
      if (this.rows.size >= this.max) this.rows.delete(this.rows.keys().next().value!);
      this.rows.set(key, Object.freeze(row));
    }
    return row;
  }

  /** A row changed (or may have): the next read goes to the database. */
  forget(key: string): void {
    this.generation++;
    this.rows.delete(key);
  }

  clear(): void {
    this.generation++;
    this.rows.clear();
  }
}

/** The tables whose rows are cached: the ones migration 0013 announces changes of. */
export type CachedTable = 'accounts' | 'clients' | 'settings';

const NEVER_LIVE: Invalidation = { live: false };
const registry = new WeakMap<Kysely<Database>, { feed: Invalidation; caches: Map<CachedTable, ReadCache<object>> }>();

/** Called by openDatabase: every repository built on `kysely` from now on shares these caches. */
export function registerReadCaches(kysely: Kysely<Database>, feed: Invalidation): void {
  registry.set(kysely, { feed, caches: new Map() });
}

/** The cache for `table` on this database handle; one that never keeps anything when none is registered. */
export function readCache<Row extends object>(kysely: Kysely<Database>, table: CachedTable): ReadCache<Row> {
  const entry = registry.get(kysely);
  if (!entry) return new ReadCache<Row>(NEVER_LIVE);
  let cache = entry.caches.get(table);
  if (!cache) {
    cache = new ReadCache<object>(entry.feed);
    entry.caches.set(table, cache);
  }
  return cache as ReadCache<Row>;
}

/** Forgets one row of a table: a change to it was announced. Tables not cached are ignored. */
export function forgetRow(kysely: Kysely<Database>, table: string, key: string): void {
  registry.get(kysely)?.caches.get(table as CachedTable)?.forget(key);
}

/** Forgets everything cached on this handle (the feed went down or came back). */
export function clearReadCaches(kysely: Kysely<Database>): void {
  for (const cache of registry.get(kysely)?.caches.values() ?? []) cache.clear();
}
