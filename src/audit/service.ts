// The audit trail: every security event from the one event hook, written durably with its time,
// account, client, IP, user agent, outcome and reason. Details pass through a filter that drops
// anything that could be a secret, as a second line of defence.
import type { AuditEventRow } from '../db/schema.js';
import type { AuditQuery, AuditRepo } from '../db/repos/audit.js';
import type { SecurityEvents } from '../events.js';
import { BatchWriter } from './batch-writer.js';

// "otp" alone (a one-time password) but not "totp" (the authenticator app settings).
const SECRET_KEY = /code|secret|password|token|^otp$|seed|phone_number|e164/i;

function safeDetails(details: Record<string, unknown> | undefined): string | null {
  if (!details) return null;
  const kept = Object.fromEntries(Object.entries(details).filter(([key]) => !SECRET_KEY.test(key)));
  return Object.keys(kept).length ? JSON.stringify(kept) : null;
}

export interface AuditEventView {
  id: string;
  at: string;
  type: string;
  outcome: string;
  account_id: string | null;
  username: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
}

export const auditView = (row: AuditEventRow): AuditEventView => ({
  id: row.id,
  at: new Date(row.at).toISOString(),
  type: row.type,
  outcome: row.outcome,
  account_id: row.account_id,
  username: row.username,
  client_id: row.client_id,
  ip: row.ip,
  user_agent: row.user_agent,
  reason: row.reason,
  details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
});

export class AuditService {
  private readonly writer: BatchWriter;

  constructor(private readonly repo: AuditRepo) {
    this.writer = new BatchWriter((rows) => this.repo.insertMany(rows));
  }

  subscribe(events: SecurityEvents): void {
    events.subscribe((event) =>
      this.writer.add({
        at: event.at,
        type: event.type,
        outcome: event.outcome,
        account_id: event.accountId ?? null,
        username: event.username ?? null,
        client_id: event.clientId ?? null,
        ip: event.ip ?? null,
        user_agent: event.userAgent ? event.userAgent.slice(0, 512) : null,
        reason: event.reason ?? null,
        details: safeDetails(event.details),
      }),
    );
  }

  async query(q: AuditQuery): Promise<{ items: AuditEventView[]; total: number }> {
    await this.writer.flush();
    const { items, total } = await this.repo.query(q);
    return { items: items.map(auditView), total };
  }
}

/**
 * "2026-12-01", "2026-12-01T10:00:00Z", or a relative "30m", "12h", "7d" before now. A span that
 * reaches before 1970 means from the start (no event is older), and stays a valid bigint.
 */
export function parseSince(value: string, now = Date.now()): number | undefined {
  const relative = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return Math.max(0, now - Number(relative[1]) * unit);
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}
