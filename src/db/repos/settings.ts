// Instance settings (the second-factor policy and other admin choices) as JSON values by key.
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { guard } from '../errors.js';
import { Precompiled } from '../precompiled.js';
import { readCache, type ReadCache } from '../read-cache.js';

export class SettingsRepo {
  private readonly byKey: Precompiled<{ value: string }>;
  /** Values by key: the second-factor policy is read on every sign-in (src/db/read-cache.ts). */
  private readonly cache: ReadCache<{ value: string }>;

  constructor(private readonly db: Kysely<Database>) {
    this.cache = readCache(db, 'settings');
    this.byKey = new Precompiled(db, (d) => d.selectFrom('settings').select('value').where('key', '=', '?'));
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.cache.get(key, () => guard(() => this.byKey.first(key)));
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    const now = Date.now();
    await guard(() =>
      this.db
        .insertInto('settings')
        .values({ key, value: json, updated_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, updated_at: now }))
        .execute(),
    );
    this.cache.forget(key);
  }

  /** Creates the key only if it does not exist yet; true for the one caller that created it. */
  async claim(key: string): Promise<boolean> {
    const result = await guard(() =>
      this.db
        .insertInto('settings')
        .values({ key, value: 'true', updated_at: Date.now() })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst(),
    );
    this.cache.forget(key);
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
}
