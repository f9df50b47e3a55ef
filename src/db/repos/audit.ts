// The audit trail's rows.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditEventRow, Database } from '../schema.js';
import { guard } from '../errors.js';

export interface AuditQuery {
  accountId?: string;
  username?: string;
  clientId?: string;
  type?: string;
  since?: number;
  until?: number;
  limit?: number;
  offset?: number;
}

export class AuditRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insertMany(rows: Array<Omit<AuditEventRow, 'id'>>): Promise<void> {
    if (rows.length === 0) return;
    await guard(() => this.db.insertInto('audit_events').values(rows.map((row) => ({ id: randomUUID(), ...row }))).execute());
  }

  async query(q: AuditQuery): Promise<{ items: AuditEventRow[]; total: number }> {
    let query = this.db.selectFrom('audit_events');
    if (q.accountId) query = query.where('account_id', '=', q.accountId);
    if (q.username) query = query.where((eb) => eb(eb.fn('lower', ['username']), '=', q.username!.toLowerCase()));
    if (q.clientId) query = query.where('client_id', '=', q.clientId);
    if (q.type) query = q.type.endsWith('.') ? query.where('type', 'like', `${q.type}%`) : query.where('type', '=', q.type);
    if (q.since !== undefined) query = query.where('at', '>=', q.since);
    if (q.until !== undefined) query = query.where('at', '<', q.until);
    const [items, total] = await guard(() =>
      Promise.all([
        query.selectAll().orderBy('at', 'desc').orderBy('id').limit(q.limit ?? 100).offset(q.offset ?? 0).execute(),
        query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      ]),
    );
    return { items, total: Number(total.n) };
  }
}
