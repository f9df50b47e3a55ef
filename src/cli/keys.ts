// twofold keys list|rotate|remove: token signing keys.
import type { Command } from 'commander';
import { BadInput, NotFound } from '../errors.js';
import { withServices } from './context.js';
import { printJson, printTable, say } from './output.js';

export function registerKeyCommands(program: Command): void {
  const keysCommand = program.command('keys').description('token signing keys (RS256 and ES256)');

  keysCommand
    .command('list')
    .description('list signing keys')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await withServices((s) => s.signingKeys.list());
      const views = rows.map((r) => ({
        kid: r.kid,
        alg: r.alg,
        created_at: new Date(r.created_at).toISOString(),
        state: r.retired_at ? `retired ${new Date(r.retired_at).toISOString()}` : 'signing',
      }));
      if (o.json) return printJson(views);
      printTable(views, ['kid', 'alg', 'state', 'created_at']);
    });

  keysCommand
    .command('rotate')
    .description('add a new key pair; the old keys stop signing but stay published (restart instances to pick it up)')
    .action(async () => {
      const kids = await withServices((s) => s.signingKeys.rotate());
      say(`New signing keys: ${kids.join(', ')}. Restart each instance to sign with them; retired keys stay published.`);
    });

  keysCommand
    .command('remove <kid>')
    .description('stop publishing a retired key (after every token it signed has expired)')
    // A kid is base64url and may start with "-": take it as the argument, not as an option.
    .allowUnknownOption()
    .action(async (kid: string) => {
      await withServices(async (s) => {
        const key = (await s.signingKeys.list()).find((k) => k.kid === kid);
        if (!key) throw new NotFound(`no key "${kid}"`);
        // Removing a key that still signs would leave instances signing with a key nobody can verify.
        if (key.retired_at === null) throw new BadInput(`key ${kid} still signs; run "keys rotate" first, then remove it once the tokens it signed have expired`);
        await s.signingKeys.remove(kid);
      });
      say(`Removed key ${kid}.`);
    });
}
