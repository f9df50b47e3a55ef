// Opens Twofold's stores for one CLI command and closes them afterwards.
import { loadConfig } from '../config/load.js';
import { buildServices, type Services } from '../services.js';
import { createLogger } from '../log.js';

export async function withServices<T>(run: (services: Services) => Promise<T>, options: { sessionStore?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  // Commands log only warnings (to stderr), so their stdout stays clean for scripts.
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
  const services = await buildServices(config, { log, withSessionStore: options.sessionStore ?? false });
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}

export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
