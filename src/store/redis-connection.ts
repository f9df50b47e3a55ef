// Connects to Redis from REDIS_URL, in any of its three forms:
//   redis://[:password@]host:port[/db]   (rediss:// for TLS)       one server
//   redis-sentinel://[:password@]host:port,host:port/<master>[/db]  Sentinel
//   redis-cluster://[:password@]host:port,host:port                 Cluster
// Requests fail fast when Redis is away (no offline queue, a command timeout) and the client
// reconnects on its own, so the provider recovers without a restart.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../errors.js';

export type RedisClient = Redis | Cluster;

/**
 * Give up on one command after this long: a request never hangs on Redis. A request stops at its
 * first failed command, so 1.5 s leaves room for the rest of the request and the 503 page within
 * the 2 s a request may wait on an unresponsive Redis; a healthy local Redis answers in about a
 * millisecond.
 */
export const COMMAND_TIMEOUT_MS = 1500;

const common: RedisOptions = {
  enableOfflineQueue: false,
  enableAutoPipelining: true,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: COMMAND_TIMEOUT_MS,
  maxRetriesPerRequest: 1,
  // Reconnect quickly and keep trying; 500 ms between tries brings us back within a second or so.
  retryStrategy: (times: number) => Math.min(100 * times, 500),
  lazyConnect: true,
};

function hosts(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((hp) => {
    const [host, port] = hp.split(':');
    if (!host) throw new ConfigError(`REDIS_URL has an empty host in "${list}"`);
    return { host, port: port ? Number(port) : 6379 };
  });
}

function split(url: string): { password?: string; username?: string; rest: string } {
  const body = url.replace(/^[a-z-]+:\/\//, '');
  const at = body.lastIndexOf('@');
  if (at < 0) return { rest: body };
  const [user, pass] = body.slice(0, at).split(':');
  return {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
    rest: body.slice(at + 1),
  };
}

export function createRedisClient(url: string, extra: RedisOptions = {}): RedisClient {
  if (url.startsWith('redis-sentinel://')) {
    const { password, username, rest } = split(url);
    const [list, name, db] = rest.split('/');
    if (!list || !name) throw new ConfigError('REDIS_URL redis-sentinel:// needs hosts and a master name: redis-sentinel://h1:26379,h2:26379/mymaster');
    return new Redis({
      ...common,
      ...extra,
      sentinels: hosts(list),
      name,
      ...(password ? { password, sentinelPassword: password } : {}),
      ...(username ? { username } : {}),
      db: db ? Number(db) : 0,
    });
  }
  if (url.startsWith('redis-cluster://')) {
    const { password, username, rest } = split(url);
    const list = rest.split('/')[0] ?? '';
    return new Cluster(hosts(list), {
      ...(extra.keyPrefix ? { keyPrefix: extra.keyPrefix } : {}),
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
      clusterRetryStrategy: (times: number) => Math.min(100 * times, 500),
      redisOptions: { ...common, ...extra, ...(password ? { password } : {}), ...(username ? { username } : {}) },
    });
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    return new Redis(url, { ...common, ...extra });
  }
  throw new ConfigError('REDIS_URL must start with redis://, rediss://, redis-sentinel:// or redis-cluster://');
}

/** Waits for the first connection, so a wrong URL fails at start with a clear message. */
export async function connectRedis(client: RedisClient, url: string): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    const where = url.replace(/\/\/[^@]*@/, '//');
    throw new ConfigError(`cannot connect to Redis at ${where}: ${(err as Error).message}`);
  }
}
