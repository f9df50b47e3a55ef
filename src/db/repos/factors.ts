// Enrolled second factors. The secret (TOTP seed, phone number) is stored sealed; this repo never
// sees it in the clear.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, FactorRow } from '../schema.js';
import { guard, isUniqueViolation } from '../errors.js';
import { Precompiled } from '../precompiled.js';

export interface StoredFactor {
  id: string;
  accountId: string;
  type: string;
  name: string;
  secretSealed: string;
  preferred: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

const toFactor = (r: FactorRow): StoredFactor => ({
  id: r.id,
  accountId: r.account_id,
  type: r.type,
  name: r.name,
  secretSealed: r.secret_sealed,
  preferred: r.preferred === 1,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export const newFactorId = (): string => randomUUID();

export class FactorRepo {
  private readonly ofAccount: Precompiled<FactorRow>;

  constructor(private readonly db: Kysely<Database>) {
    this.ofAccount = new Precompiled(db, (d) =>
      d.selectFrom('factors').selectAll().where('account_id', '=', '?').orderBy('preferred', 'desc').orderBy('created_at').orderBy('id'),
    );
  }

  /** Preferred first, then oldest first. */
  async listForAccount(accountId: string): Promise<StoredFactor[]> {
    const rows = await guard(() => this.ofAccount.rows(accountId));
    return rows.map(toFactor);
  }

  async find(accountId: string, id: string): Promise<StoredFactor | undefined> {
    const row = await guard(() =>
      this.db.selectFrom('factors').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),
    );
    return row && toFactor(row);
  }

  /**
   * Adds a factor; the account's first factor becomes its preferred one. Two first factors saved
   * at once both look first: the unique index on the preferred factor (migration 0002) refuses
   * the second, which is then saved as not preferred.
   */
  async add(factor: { id: string; accountId: string; type: string; name: string; secretSealed: string }): Promise<StoredFactor> {
    const row: FactorRow = {
      id: factor.id,
      account_id: factor.accountId,
      type: factor.type,
      name: factor.name,
      secret_sealed: factor.secretSealed,
      preferred: 0,
      created_at: Date.now(),
      last_used_at: null,
    };
    return guard(async () => {
      const existing = await this.db.selectFrom('factors').select('id').where('account_id', '=', factor.accountId).limit(1).execute();
      if (existing.length === 0) {
        try {
          await this.db.insertInto('factors').values({ ...row, preferred: 1 }).execute();
          return toFactor({ ...row, preferred: 1 });
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          // Another factor became preferred meanwhile (or the id is taken: the insert below says so).
        }
      }
      await this.db.insertInto('factors').values(row).execute();
      return toFactor(row);
    });
  }

  async setPreferred(accountId: string, id: string): Promise<boolean> {
    return guard(() =>
      this.db.transaction().execute(async (trx) => {
        const target = await trx.selectFrom('factors').select('id').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
        if (!target) return false;
        await trx.updateTable('factors').set({ preferred: 0 }).where('account_id', '=', accountId).execute();
        await trx.updateTable('factors').set({ preferred: 1 }).where('id', '=', id).execute();
        return true;
      }),
    );
  }

  async rename(accountId: string, id: string, name: string): Promise<boolean> {
    const result = await guard(() =>
      this.db.updateTable('factors').set({ name }).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  async touch(id: string, at = Date.now()): Promise<void> {
    await guard(() => this.db.updateTable('factors').set({ last_used_at: at }).where('id', '=', id).execute());
  }

  /** Removes one factor; if it was preferred, the oldest remaining one becomes preferred. */
  async remove(accountId: string, id: string): Promise<boolean> {
    return guard(() =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('factors').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) return false;
        await promoteOldestIfNonePreferred(trx, accountId);
        return true;
      }),
    );
  }

  /**
   * Removes the account's last real factor and, in the same transaction, its recovery codes (their
   * factor row of `recoveryType` and the codes themselves): the backup goes with the factor, never
   * half of it. Returns whether the factor was there and whether recovery codes went with it.
   */
  async removeWithRecovery(accountId: string, id: string, recoveryType: string): Promise<{ removed: boolean; recoveryRemoved: boolean }> {
    return guard(() =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('factors').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
        const recovery = await trx.deleteFrom('factors').where('account_id', '=', accountId).where('type', '=', recoveryType).executeTakeFirst();
        await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
        await promoteOldestIfNonePreferred(trx, accountId);
        return { removed: Number(result.numDeletedRows) > 0, recoveryRemoved: Number(recovery.numDeletedRows) > 0 };
      }),
    );
  }

  /** Removes every factor of the account and its recovery codes, in one transaction (an admin's reset). */
  async removeAll(accountId: string): Promise<number> {
    return guard(() =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('factors').where('account_id', '=', accountId).executeTakeFirst();
        await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
        return Number(result.numDeletedRows);
      }),
    );
  }
}

async function promoteOldestIfNonePreferred(trx: Transaction<Database>, accountId: string): Promise<void> {
  const preferred = await trx.selectFrom('factors').select('id').where('account_id', '=', accountId).where('preferred', '=', 1).executeTakeFirst();
  if (preferred) return;
  const oldest = await trx.selectFrom('factors').select('id').where('account_id', '=', accountId).orderBy('created_at').orderBy('id').executeTakeFirst();
  if (oldest) await trx.updateTable('factors').set({ preferred: 1 }).where('id', '=', oldest.id).execute();
}
