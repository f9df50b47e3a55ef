// Starts a real Twofold (real oidc-provider, real stores) in this process on a free port.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createTestDatabase, type DbKind } from './databases.js';
import { TEST_REDIS_URL } from './env.js';
import { LogCapture } from './logs.js';

export type StoreKind = 'memory' | 'redis';

export interface TestServerOptions {
  db?: DbKind;
  store?: StoreKind;
  /** Extra configuration, merged over the test defaults. */
  config?: Record<string, unknown>;
  now?: () => number;
  /** Reuse this database URL instead of a fresh one (e.g. a second instance). */
  databaseUrl?: string;
  /** Share Redis keys with another test server (same prefix = same installation). */
  redisKeyPrefix?: string;
  secret?: string;
  port?: number;
}

export interface TestServer extends RunningServer {
  issuer: string;
  config: Config;
  logs: LogCapture;
  /** Stops the server and drops its database. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Cheap argon2 parameters for tests that are not about hashing (the benchmark uses the real ones). */
export const FAST_ARGON2 = { memoryKiB: 8192, iterations: 1, parallelism: 1 };

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const db = options.databaseUrl ? undefined : await createTestDatabase(options.db ?? 'sqlite');
  const port = options.port ?? (await freePort());
  const issuer = `http://localhost:${port}`;
  const logs = new LogCapture();
  const config = parseConfig({
    issuer,
    port,
    host: '127.0.0.1',
    databaseUrl: options.databaseUrl ?? db!.url,
    dataDir: db?.dataDir ?? '/tmp',
    secret: options.secret ?? 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
    logLevel: 'info',
    argon2: FAST_ARGON2,
    ...(options.store === 'redis'
      ? { redisUrl: TEST_REDIS_URL, redisKeyPrefix: options.redisKeyPrefix ?? `t${randomBytes(4).toString('hex')}:` }
      : {}),
    ...options.config,
  });
  const log: Logger = createLogger('info', logs.stream);
  let running: RunningServer;
  try {
    running = await startServer(config, { log, ...(options.now ? { now: options.now } : {}) });
  } catch (err) {
    await db?.drop();
    throw err;
  }
  return {
    ...running,
    issuer,
    config,
    logs,
    async close() {
      await running.stop();
      await db?.drop();
    },
  };
}
