// Recovery codes: keyed hashes only; using one marks it, once, atomically.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { guard } from '../errors.js';

export class RecoveryCodeRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Replaces the account's whole set in one transaction: the old codes stop working. */
  async replace(accountId: string, digests: string[]): Promise<void> {
    const now = Date.now();
    await guard(() =>
      this.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
        await trx
          .insertInto('recovery_codes')
          .values(digests.map((digest) => ({ id: randomUUID(), account_id: accountId, digest, created_at: now, used_at: null })))
          .execute();
      }),
    );
  }

  /** Marks the code with one of these digests used; true only for the one request that marked it. */
  async consume(accountId: string, digests: string[]): Promise<boolean> {
    const result = await guard(() =>
      this.db
        .updateTable('recovery_codes')
        .set({ used_at: Date.now() })
        .where('account_id', '=', accountId)
        .where('digest', 'in', digests)
        .where('used_at', 'is', null)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) === 1;
  }

  async remaining(accountId: string): Promise<number> {
    const row = await guard(() =>
      this.db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('account_id', '=', accountId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow(),
    );
    return Number(row.n);
  }
}
