// twofold user add|list|show|remove|set-password|disable|enable|reset-mfa|unlock
import type { Command } from 'commander';
import type { Services } from '../services.js';
import { loadConfig } from '../config/load.js';
import { BadInput } from '../errors.js';
import { AdminService, type Actor } from '../admin/service.js';
import { withServices } from './context.js';
import { readPassword } from './password-input.js';
import { INTERNAL_UNLOCK, unlockMessage } from '../http/routes/internal.js';
import { printJson, printRecord, printTable, say } from './output.js';

/** Changes made here are audited like the admin API's, as made at the CLI. */
const CLI: Actor = { via: 'cli' };

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage user accounts');

  user
    .command('add <username>')
    .description('create a user')
    .option('--password <password>', 'the password (visible in shell history: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--email <email>', 'email address')
    .option('--name <name>', 'display name')
    .option('--role <role>', 'role claim, e.g. administrator, sales-manager, salesperson')
    .option('--locale <locale>', 'language tag, e.g. en or de-CH')
    .option('--json', 'print JSON')
    .action(async (username: string, o: { password?: string; passwordStdin?: boolean; email?: string; name?: string; role?: string; locale?: string; json?: boolean }) => {
      const password = await readPassword(o, true);
      const view = await withServices((s) => new AdminService(s).addUser(CLI, { username, password, email: o.email, name: o.name, role: o.role, locale: o.locale }));
      if (o.json) return printJson(view);
      say(`Created user "${view.username}".`);
    });

  user
    .command('list')
    .description('list users')
    .option('--search <text>', 'only users whose username or email contains this')
    .option('--json', 'print JSON')
    .action(async (o: { search?: string; json?: boolean }) => {
      const { items: views } = await withServices((s) => new AdminService(s).listUsers({ search: o.search, limit: 10_000 }));
      if (o.json) return printJson(views);
      printTable(views, ['username', 'name', 'email', 'role', 'disabled']);
    });

  user
    .command('show <username>')
    .description('show a user and their second factors')
    .option('--json', 'print JSON')
    .action(async (username: string, o: { json?: boolean }) => {
      const view = await withServices((s) => new AdminService(s).showUser(username));
      if (o.json) return printJson(view);
      printRecord({ ...view, factors: view.factors.map((f) => `${f.type}${f.preferred ? '*' : ''}`).join(' ') || 'none' });
    });

  user
    .command('remove <username>')
    .description('delete a user and their factors')
    .action(async (username: string) => {
      await withServices((s) => new AdminService(s).removeUser(CLI, username));
      say(`Removed user "${username}".`);
    });

  user
    .command('set-password <username>')
    .description("set a user's password (their second factors stay as they are)")
    .option('--password <password>', 'the new password')
    .option('--password-stdin', 'read the new password from standard input')
    .action(async (username: string, o: { password?: string; passwordStdin?: boolean }) => {
      const password = await readPassword(o, true);
      await withServices((s) => new AdminService(s).setPassword(CLI, username, password));
      say(`Password changed for "${username}".`);
    });

  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(`${name} <username>`)
      .description(disabled ? 'stop a user from signing in' : 'let a disabled user sign in again')
      .action(async (username: string) => {
        await withServices((s) => new AdminService(s).setDisabled(CLI, username, disabled));
        say(`User "${username}" ${disabled ? 'disabled' : 'enabled'}.`);
      });
  }

  user
    .command('reset-mfa <username>')
    .description("remove all of a user's second factors; they enrol again at their next sign-in")
    .action(async (username: string) => {
      const removed = await withServices((s) => new AdminService(s).resetMfa(CLI, username));
      say(`Removed ${removed} second factor${removed === 1 ? '' : 's'} of "${username}".`);
    });

  user
    .command('unlock <username>')
    .description("clear a user's sign-in and second-factor lockouts")
    .action(async (username: string) => {
      const config = loadConfig();
      const where = await withServices(
        async (s) => {
          if (s.store.kind === 'redis') {
            await new AdminService(s).unlock(CLI, username);
            return 'shared';
          }
          // Without Redis the lockouts live in the running server's memory: ask it (a request
          // signed with a key from TWOFOLD_SECRET). No server running means no lockouts to clear.
          await s.accounts.get(username);
          return askRunningServer(s, config.issuer, username);
        },
        { sessionStore: Boolean(config.redisUrl) },
      );
      say(where === 'none' ? `Unlocked "${username}" (no running server holds lockouts).` : `Unlocked "${username}".`);
    });
}

async function askRunningServer(s: Services, issuer: string, username: string): Promise<'server' | 'none'> {
  const at = Date.now();
  let res: Response;
  try {
    res = await fetch(`${issuer}${INTERNAL_UNLOCK}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-twofold-signature': s.keyring.signInternal(unlockMessage(username, at)) },
      body: JSON.stringify({ username, at }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED') return 'none';
    throw new BadInput(`cannot reach the running server at ${issuer} to unlock: ${(err as Error).message}`);
  }
  if (res.status === 204) return 'server';
  throw new BadInput(`the server at ${issuer} refused the unlock (HTTP ${res.status}); does it use the same TWOFOLD_SECRET?`);
}
