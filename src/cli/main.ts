#!/usr/bin/env node
// The `twofold` command: serve the provider, or administer it (clients, users, policy, keys).
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { TwofoldError } from '../errors.js';
import { registerClientCommands } from './clients.js';
import { registerUserCommands } from './users.js';
import { registerPolicyCommands } from './policy.js';
import { registerKeyCommands } from './keys.js';
import { registerAuditCommand } from './audit.js';

const program = new Command();
program
  .name('twofold')
  .description('Twofold: an OpenID Connect provider with a second factor for every sign-in that needs one.\nSettings come from environment variables and config/*.json (see the README).')
  // Usage errors are one line, like every other failure: "twofold: <reason> (...--help)".
  .configureOutput({
    outputError: (message, write) => write(`twofold: ${message.replace(/^error: /, '').trim()} (see --help)\n`),
  })
  .exitOverride();

program
  .command('serve')
  .description('run the provider (ISSUER, PORT, DATABASE_URL, REDIS_URL, TWOFOLD_SECRET ... from the environment)')
  .option('--port <port>', 'listen port (overrides PORT)')
  .option('--demo', 'also serve a demo relying party at /demo and seed a demo user')
  .action(async (o: { port?: string; demo?: boolean }) => {
    const { serve } = await import('./serve.js');
    await serve({ port: o.port, demo: Boolean(o.demo) });
  });

registerClientCommands(program);
registerUserCommands(program);
registerPolicyCommands(program);
registerKeyCommands(program);
registerAuditCommand(program);

function reason(err: unknown): string {
  if (err instanceof TwofoldError) return err.message;
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ECONNREFUSED') return `cannot reach a service: ${e.message}`;
  return e?.message ?? String(err);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`twofold: ${reason(err).split('\n').join('\n  ')}\n`);
  if (process.env.TWOFOLD_DEBUG) createLogger(loadConfig().logLevel, process.stderr).error({ err }, 'command failed');
  process.exit(1);
}
