// Rollout grace: while an organisation introduces the second factor, users without one may skip
// setting it up a few times (policy.graceSkips) and only until a date (policy.graceUntil). Off by
// default; never offered when the relying party itself asked for the second factor. Skips are
// counted per account in the mfa_grace_skips table (migration 0003).
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { guard } from '../db/errors.js';
import type { Policy } from './service.js';

/** What the chooser may offer: how many skips are left, and until when. */
export interface GraceOffer {
  skipsLeft: number;
  until: string | null;
}

/** The grace left for an account that skipped `used` times, at `nowMs`; null when there is none. */
export function graceOffer(policy: Pick<Policy, 'graceSkips' | 'graceUntil'>, used: number, nowMs: number): GraceOffer | null {
  if (policy.graceSkips <= 0) return null;
  if (policy.graceUntil && nowMs >= Date.parse(policy.graceUntil)) return null;
  const skipsLeft = policy.graceSkips - used;
  return skipsLeft > 0 ? { skipsLeft, until: policy.graceUntil } : null;
}

export class GraceSkips {
  constructor(private readonly db: Kysely<Database>) {}

  async used(accountId: string): Promise<number> {
    const row = await guard(() => this.db.selectFrom('mfa_grace_skips').select('skips').where('account_id', '=', accountId).executeTakeFirst());
    return row?.skips ?? 0;
  }

  /** Takes one skip if fewer than `limit` were taken; true when this call took it. */
  async take(accountId: string, limit: number, nowMs: number): Promise<boolean> {
    return guard(async () => {
      await this.db
        .insertInto('mfa_grace_skips')
        .values({ account_id: accountId, skips: 0, last_skip_at: null })
        .onConflict((oc) => oc.column('account_id').doNothing())
        .execute();
      const result = await this.db
        .updateTable('mfa_grace_skips')
        .set((eb) => ({ skips: eb('skips', '+', 1), last_skip_at: nowMs }))
        .where('account_id', '=', accountId)
        .where('skips', '<', limit)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }
}
