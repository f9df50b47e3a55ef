// twofold policy show|set
import { InvalidArgumentError, Option, type Command } from 'commander';
import { FACTOR_TYPES, SEND_LIMIT_NAMES, type FactorType, type Policy, type SendLimitName } from '../policy/service.js';
import { AdminService } from '../admin/service.js';
import { withServices } from './context.js';
import { printJson, printRecord, say } from './output.js';

// Option parsers: a bad value is a usage error that names the option, before anything is opened.
function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
}

function factorTypes(value: string): FactorType[] {
  const types = value.split(',').map((t) => t.trim()).filter(Boolean);
  const unknown = types.filter((t) => !(FACTOR_TYPES as readonly string[]).includes(t));
  if (types.length === 0 || unknown.length) throw new InvalidArgumentError(`expected a comma-separated list of ${FACTOR_TYPES.join(', ')}.`);
  return types as FactorType[];
}

/** An ISO timestamp, or "none" (commander turns a parser's null into '', so the action maps it). */
function dateOrNone(value: string): string {
  if (value === 'none') return 'none';
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new InvalidArgumentError('expected an ISO 8601 date such as 2027-01-31 or 2027-01-31T18:00:00+01:00, or "none".');
  return new Date(at).toISOString();
}

/** name=value for a send limit; "default" goes back to the configured value. */
function sendLimit(value: string, previous: Record<string, number | null> = {}): Record<string, number | null> {
  const [name, raw] = value.split('=');
  if (!name || raw === undefined || !(SEND_LIMIT_NAMES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`expected name=value with a name from ${SEND_LIMIT_NAMES.join(', ')}.`);
  }
  if (raw !== 'default' && !/^\d+$/.test(raw)) throw new InvalidArgumentError('expected a whole number or "default".');
  return { ...previous, [name]: raw === 'default' ? null : Number(raw) };
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('the instance-wide second-factor policy');

  policy
    .command('show')
    .description('show the policy')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const current = await withServices((s) => s.policy.get());
      if (o.json) return printJson(current);
      const overrides = (o: object) => Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ') || '(configured values)';
      printRecord({
        'require-mfa': current.requireMfa,
        'allowed-factors': current.allowedFactors,
        'grace-skips': current.graceSkips,
        'grace-until': current.graceUntil,
        totp: overrides(current.totp),
        'send-limits': overrides(current.sendLimits),
      });
    });

  policy
    .command('set')
    .description('change the policy (only the options given)')
    .addOption(new Option('--require-mfa <mode>', 'all: every sign-in needs a second factor; per-client: only clients with require_mfa').choices(['all', 'per-client']))
    .option('--allowed-factors <types>', `comma-separated factor types users may use (${FACTOR_TYPES.join(', ')})`, factorTypes)
    .option('--grace-skips <n>', 'during a rollout, users may skip enrolment this many times (0: off)', wholeNumber)
    .option('--grace-until <date>', 'ISO 8601 date after which enrolment cannot be skipped ("none" to clear)', dateOrNone)
    .option('--totp-period <seconds>', 'authenticator app time step for apps set up from now on (15-120)', wholeNumber)
    .addOption(new Option('--totp-digits <n>', 'authenticator app code length for apps set up from now on').choices(['6', '8']))
    .addOption(new Option('--totp-algorithm <name>', 'authenticator app hash for apps set up from now on').choices(['sha1', 'sha256', 'sha512']))
    .option('--send-limit <name=value>', `a limit on sending codes, repeatable; "default" resets it (${SEND_LIMIT_NAMES.join(', ')})`, sendLimit)
    .option('--json', 'print JSON')
    .action(async (o: { requireMfa?: Policy['requireMfa']; allowedFactors?: FactorType[]; graceSkips?: number; graceUntil?: string; totpPeriod?: number; totpDigits?: string; totpAlgorithm?: 'sha1' | 'sha256' | 'sha512'; sendLimit?: Record<string, number | null>; json?: boolean }) => {
      const changes: Partial<Policy> = {};
      if (o.requireMfa !== undefined) changes.requireMfa = o.requireMfa;
      if (o.allowedFactors !== undefined) changes.allowedFactors = o.allowedFactors;
      if (o.graceSkips !== undefined) changes.graceSkips = o.graceSkips;
      if (o.graceUntil !== undefined) changes.graceUntil = o.graceUntil === 'none' ? null : o.graceUntil;
      if (o.totpPeriod !== undefined || o.totpDigits !== undefined || o.totpAlgorithm !== undefined) {
        changes.totp = {
          ...(o.totpPeriod !== undefined ? { period: o.totpPeriod } : {}),
          ...(o.totpDigits !== undefined ? { digits: Number(o.totpDigits) as 6 | 8 } : {}),
          ...(o.totpAlgorithm !== undefined ? { algorithm: o.totpAlgorithm } : {}),
        };
      }
      if (o.sendLimit !== undefined) changes.sendLimits = o.sendLimit as Partial<Record<SendLimitName, number>>;
      const next = await withServices((s) => new AdminService(s).setPolicy({ via: 'cli' }, changes));
      if (o.json) return printJson(next);
      say(`Policy: require-mfa ${next.requireMfa}; factors ${next.allowedFactors.join(', ')}.`);
    });
}
