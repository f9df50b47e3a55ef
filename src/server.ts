// Runs Twofold as a server: builds the services and the app, listens, and shuts down gracefully
// on SIGTERM/SIGINT (in-flight requests finish, new connections are refused, exit within 10 s).
import http from 'node:http';
import type { Config } from './config/schema.js';
import { buildServices, type BuildOptions, type Services } from './services.js';
import { createApp, type TwofoldApp } from './http/app.js';
import type { Logger } from './log.js';
import { consoleChannels } from './delivery/index.js';

export interface RunningServer {
  url: string;
  server: http.Server;
  services: Services;
  twofold: TwofoldApp;
  stop(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 8000;

export async function startServer(config: Config, options: BuildOptions = {}): Promise<RunningServer> {
  const services = await buildServices(config, options);
  const toLog = consoleChannels(config);
  if (toLog.length && !options.sender) {
    services.log.warn(`No Vonage credentials for ${toLog.join(' and ')}: their codes are written to this log (console delivery, development only).`);
  }
  let twofold: TwofoldApp;
  try {
    twofold = await createApp(services);
  } catch (err) {
    await services.close();
    throw err;
  }
  const server = http.createServer(twofold.app.callback());
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  let stopping: Promise<void> | undefined;
  const running: RunningServer = {
    url: `http://127.0.0.1:${port}`,
    server,
    services,
    twofold,
    stop: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await closed;
        clearTimeout(timer);
        await services.close();
      })()),
  };
  return running;
}

/** SIGTERM / SIGINT: stop taking connections, let requests finish, then exit. */
export function stopOnSignals(running: RunningServer, log: Logger): void {
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    const hardExit = setTimeout(() => process.exit(1), 10_000);
    hardExit.unref();
    running.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
