// twofold client add|update|list|show|remove|rotate-secret
import type { Command } from 'commander';
import type { ClientInput } from '../clients/service.js';
import { AdminService, type Actor } from '../admin/service.js';
import { collect, withServices } from './context.js';
import { printJson, printRecord, printTable, say } from './output.js';

interface ClientOptions {
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  secret?: string;
  public?: boolean;
  requireMfa?: boolean;
  name?: string;
  consent?: boolean;
  grantType?: string[];
  scope?: string;
  admin?: boolean;
  json?: boolean;
}

/** Changes made here are audited like the admin API's, as made at the CLI. */
const CLI: Actor = { via: 'cli' };

function toInput(o: ClientOptions): Partial<ClientInput> {
  const input: Partial<ClientInput> = {
    redirectUris: o.redirectUri,
    postLogoutRedirectUris: o.postLogoutRedirectUri,
    secret: o.secret,
    public: o.public,
    requireMfa: o.requireMfa,
    name: o.name,
    consent: o.consent,
    grantTypes: o.grantType as ClientInput['grantTypes'],
    scope: o.scope,
    admin: o.admin,
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}

function clientOptions(command: Command, forUpdate: boolean): Command {
  command
    .option('--redirect-uri <uri>', 'where the client may receive codes (repeat for several)', collect)
    .option('--post-logout-redirect-uri <uri>', 'where the client may send users after sign-out (repeat for several)', collect)
    .option('--secret <secret>', forUpdate ? 'a new client secret (32+ characters); default: the secret stays' : 'the client secret (32+ characters); default: generated and printed once')
    .option('--public', 'a public client (SPA, mobile app): no secret, PKCE only')
    .option('--require-mfa', 'every sign-in to this client needs a second factor')
    .option('--name <name>', 'the name users see')
    .option('--consent', 'ask users for consent (admin-registered clients skip it by default)')
    .option('--grant-type <type>', 'authorization_code, refresh_token or client_credentials (repeat for several)', collect)
    .option('--scope <scopes>', 'space-separated scopes the client may request')
    .option('--admin', 'may obtain the admin scope for the admin API (needs client_credentials)');
  if (forUpdate) {
    command
      .option('--no-require-mfa', 'no longer require a second factor for this client')
      .option('--no-consent', 'stop asking users for consent')
      .option('--no-admin', 'no longer allow the admin scope')
      .option('--no-public', 'make a public client confidential (give --secret)');
  }
  return command;
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('register and manage relying parties');

  clientOptions(client.command('add <client_id>').description('register a relying party'), false)
    .option('--json', 'print the result as JSON')
    .action(async (clientId: string, o: ClientOptions) => {
      const { client: view, secret } = await withServices((s) => new AdminService(s).addClient(CLI, { clientId, ...toInput(o) } as ClientInput));
      if (o.json) return printJson({ ...view, ...(secret ? { client_secret: secret } : {}) });
      say(`Registered client "${view.client_id}".`);
      if (secret) say(`client_secret: ${secret}\n(shown once: store it in the client's configuration now)`);
    });

  clientOptions(client.command('update <client_id>').description('change a relying party (only the options given)'), true)
    .option('--json', 'print the result as JSON')
    .action(async (clientId: string, o: ClientOptions) => {
      const view = await withServices((s) => new AdminService(s).updateClient(CLI, clientId, toInput(o)));
      if (o.json) return printJson(view);
      say(`Updated client "${view.client_id}".`);
    });

  client
    .command('list')
    .description('list relying parties')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const clients = await withServices((s) => s.clients.list());
      if (o.json) return printJson(clients);
      printTable(
        clients.map((c) => ({ ...c, type: c.public ? 'public' : 'confidential' })),
        ['client_id', 'client_name', 'type', 'require_mfa', 'consent', 'admin', 'grant_types'],
      );
    });

  client
    .command('show <client_id>')
    .description('show one relying party')
    .option('--json', 'print JSON')
    .action(async (clientId: string, o: { json?: boolean }) => {
      const view = await withServices((s) => s.clients.show(clientId));
      if (o.json) return printJson(view);
      printRecord(view as unknown as Record<string, unknown>);
    });

  client
    .command('remove <client_id>')
    .description('remove a relying party')
    .action(async (clientId: string) => {
      await withServices((s) => new AdminService(s).removeClient(CLI, clientId));
      say(`Removed client "${clientId}".`);
    });

  client
    .command('rotate-secret <client_id>')
    .description('replace the client secret; the old one stops working at once')
    .option('--json', 'print JSON')
    .action(async (clientId: string, o: { json?: boolean }) => {
      const secret = await withServices((s) => new AdminService(s).rotateClientSecret(CLI, clientId));
      if (o.json) return printJson({ client_id: clientId, client_secret: secret });
      say(`New client_secret for "${clientId}": ${secret}\n(shown once)`);
    });
}
