// twofold policy show|set
import type { Command } from 'commander';
import { FACTOR_TYPES, type Policy } from '../policy/service.js';
import { withServices } from './context.js';
import { printJson, printRecord, say } from './output.js';

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('the instance-wide second-factor policy');

  policy
    .command('show')
    .description('show the policy')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const current = await withServices((s) => s.policy.get());
      if (o.json) return printJson(current);
      printRecord({ 'require-mfa': current.requireMfa, 'allowed-factors': current.allowedFactors, 'grace-skips': current.graceSkips, 'grace-until': current.graceUntil });
    });

  policy
    .command('set')
    .description('change the policy')
    .option('--require-mfa <mode>', 'all: every sign-in needs a second factor; per-client: only clients with require_mfa')
    .option('--allowed-factors <types>', `comma-separated factor types users may use (${FACTOR_TYPES.join(', ')})`)
    .option('--grace-skips <n>', 'during a rollout, users may skip enrolment this many times (0: off)')
    .option('--grace-until <date>', 'ISO 8601 date after which enrolment cannot be skipped ("none" to clear)')
    .option('--json', 'print JSON')
    .action(async (o: { requireMfa?: string; allowedFactors?: string; graceSkips?: string; graceUntil?: string; json?: boolean }) => {
      const changes: Record<string, unknown> = {};
      if (o.requireMfa !== undefined) changes.requireMfa = o.requireMfa;
      if (o.allowedFactors !== undefined) changes.allowedFactors = o.allowedFactors.split(',').map((t) => t.trim()).filter(Boolean);
      if (o.graceSkips !== undefined) changes.graceSkips = Number(o.graceSkips);
      if (o.graceUntil !== undefined) changes.graceUntil = o.graceUntil === 'none' ? null : o.graceUntil;
      const next = await withServices((s) => s.policy.set(changes as Partial<Policy>));
      if (o.json) return printJson(next);
      say(`Policy: require-mfa ${next.requireMfa}; factors ${next.allowedFactors.join(', ')}.`);
    });
}
