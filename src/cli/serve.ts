// `twofold serve`: start the provider and keep it running until a signal.
import { loadConfig } from '../config/load.js';
import { createServerLogger } from '../log.js';
import { startServer, stopOnSignals } from '../server.js';

export async function serve(options: { port?: string; demo: boolean }): Promise<void> {
  const overrides: Record<string, unknown> = {};
  if (options.port !== undefined) overrides.port = options.port;
  if (options.demo) overrides.demo = true;
  const config = loadConfig(process.env, overrides);
  const { log } = createServerLogger(config.logLevel);
  const running = await startServer(config, { log });
  stopOnSignals(running, log);
  log.info({ issuer: config.issuer, port: config.port, database: config.databaseUrl.split(':')[0], sessionStore: running.services.store.kind }, 'Twofold is listening');
  if (options.demo) {
    const { announceDemo } = await import('../demo/seed.js');
    await announceDemo(running, log);
  }
}
