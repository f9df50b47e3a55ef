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

/** Requests still running this long after SIGTERM are cut, so the process exits within 10 s. */
const SHUTDOWN_GRACE_MS = 8000;

/**
 * Lets a stopping server finish what it has and nothing more. The answers it still gives say
 * `Connection: close`, so each connection ends right after its last answer instead of idling
 * until the keep-alive timeout (which held the exit back by seconds), and no client sends a
 * further request down a connection that is about to close.
 */
function drainOnStop(server: http.Server): { drain(): void } {
  const answering = new Set<http.ServerResponse>();
  let draining = false;
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    answering.add(res);
    res.once('close', () => answering.delete(res));
  });
  return {
    drain() {
      draining = true;
      for (const res of answering) {
        if (!res.headersSent) res.shouldKeepAlive = false;
        else res.once('finish', () => res.socket?.end());
      }
    },
  };
}

/**
 * Resolves after the event loop has been through a few more rounds of I/O, so connections the
 * kernel already completed for us (the client sent its request) are accepted, read and parsed
 * before the listener closes: one round accepts, the next reads the request. Closing at once
 * resets them, which a client sees as a failed request, not as a refusal; under load, requests
 * sent tens of milliseconds before SIGTERM were still waiting there.
 */
async function afterPendingConnections(): Promise<void> {
  for (let round = 0; round < 4; round++) await new Promise((resolve) => setImmediate(resolve));
}

export async function startServer(config: Config, options: BuildOptions = {}): Promise<RunningServer> {
  const services = await buildServices(config, { changeFeed: true, ...options });
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
  const connections = drainOnStop(server);
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
        connections.drain();
        await afterPendingConnections();
        // close() refuses new connections and ends the idle ones; busy ones end after their answer.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
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
