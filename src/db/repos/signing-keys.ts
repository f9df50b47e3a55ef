// Token signing keys. Generated once, shared by every instance through the database.
import type { Kysely } from 'kysely';
import type { Database, SigningKeyRow } from '../schema.js';
import { guard } from '../errors.js';

export class SigningKeyRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every published key, newest first (the newest unretired key of each algorithm signs). */
  async list(): Promise<SigningKeyRow[]> {
    return guard(() => this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid').execute());
  }

  async add(rows: Array<Omit<SigningKeyRow, 'retired_at'>>): Promise<void> {
    await guard(() => this.db.insertInto('signing_keys').values(rows.map((r) => ({ ...r, retired_at: null }))).execute());
  }

  async retire(kids: string[], at = Date.now()): Promise<void> {
    if (kids.length === 0) return;
    await guard(() => this.db.updateTable('signing_keys').set({ retired_at: at }).where('kid', 'in', kids).execute());
  }

  async remove(kid: string): Promise<boolean> {
    const result = await guard(() => this.db.deleteFrom('signing_keys').where('kid', '=', kid).executeTakeFirst());
    return Number(result.numDeletedRows) > 0;
  }
}
