// twofold audit: read the audit trail.
import type { Command } from 'commander';
import { parseSince } from '../audit/service.js';
import { BadInput } from '../errors.js';
import { withServices } from './context.js';
import { printJson, printTable } from './output.js';

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('show security events, newest first')
    .option('--user <username>', 'only events of this user')
    .option('--client <client_id>', 'only events of this client')
    .option('--type <type>', 'only this event type (a prefix ending in "." matches a family, e.g. "mfa.")')
    .option('--since <time>', 'ISO time, or relative: 30m, 12h, 7d')
    .option('--limit <n>', 'at most this many events', '100')
    .option('--json', 'print JSON')
    .action(async (o: { user?: string; client?: string; type?: string; since?: string; limit: string; json?: boolean }) => {
      const since = o.since === undefined ? undefined : parseSince(o.since);
      if (o.since !== undefined && since === undefined) throw new BadInput(`--since "${o.since}" is not a time: use ISO 8601 (2026-12-01T10:00:00Z) or 30m, 12h, 7d`);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new BadInput('--limit must be a whole number from 1 to 10000');
      const { items } = await withServices((s) =>
        s.audit.query({ ...(o.user ? { username: o.user } : {}), ...(o.client ? { clientId: o.client } : {}), ...(o.type ? { type: o.type } : {}), ...(since !== undefined ? { since } : {}), limit }),
      );
      if (o.json) return printJson(items);
      printTable(items.map((e) => ({ ...e, details: e.details ? JSON.stringify(e.details) : '' })), ['at', 'type', 'outcome', 'username', 'client_id', 'ip', 'reason', 'details']);
    });
}
