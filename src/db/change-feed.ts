// PostgreSQL's LISTEN/NOTIFY as the promise that the read caches need: triggers (migration 0013)
// announce every committed change to a cached table on one channel, and each instance listens on a
// connection of its own. The feed is live only after a notification it sent itself came back on
// that connection, and it sends one again every few seconds: a listener that cannot hear (a cut
// connection, a pooler in transaction mode that does not carry LISTEN) turns the caches off within
// one beat instead of keeping old rows.
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from './schema.js';
import { clearReadCaches, forgetRow, registerReadCaches, type Invalidation } from './read-cache.js';

export const CHANGES_CHANNEL = 'twofold_changes';

/** How often the feed proves it still hears, and how long it waits for its own notification. */
export const HEARTBEAT_MS = 5000;
const ECHO_TIMEOUT_MS = 2000;
const RETRY_MS = [250, 500, 1000, 2000, 5000];

export interface FeedLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class ChangeFeed implements Invalidation {
  live = false;
  private client?: pg.Client;
  private stopped = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private readonly echoes = new Map<string, () => void>();
  private log?: FeedLog;

  constructor(
    private readonly kysely: Kysely<Database>,
    private readonly connect: () => pg.Client,
  ) {
    registerReadCaches(kysely, this);
  }

  /** Starts listening in the background; the caches stay off until the feed is live. */
  start(log?: FeedLog): void {
    if (log) this.log = log;
    void this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.goDark();
    await this.client?.end().catch(() => {});
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const client = this.connect();
    this.client = client;
    // A broken listener must never crash the process: it only turns the caches off.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.receive(message.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      await this.echo();
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (this.client !== client || this.stopped) return;
    this.failures = 0;
    clearReadCaches(this.kysely);
    this.live = true;
    this.log?.info({}, 'database change feed is live: clients, accounts and settings are cached');
    this.beat(client);
  }

  private beat(client: pg.Client): void {
    this.timer = setTimeout(() => {
      this.echo().then(
        () => this.client === client && this.beat(client),
        (err: Error) => this.lost(client, err),
      );
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /**
   * Resolves once every change committed before this call has reached the caches: PostgreSQL
   * delivers notifications in commit order, so hearing one sent now means the earlier ones arrived.
   */
  async synced(): Promise<void> {
    await this.echo();
  }

  /** Sends a notification through the ordinary pool and waits to hear it on the listener. */
  private async echo(): Promise<void> {
    const nonce = randomBytes(9).toString('base64url');
    const heard = new Promise<void>((resolve) => this.echoes.set(nonce, resolve));
    const roundTrip = (async () => {
      await sql`select pg_notify(${CHANGES_CHANNEL}, ${`echo:${nonce}`})`.execute(this.kysely);
      await heard;
    })();
    roundTrip.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the listener did not hear its own notification within ${ECHO_TIMEOUT_MS} ms`)), ECHO_TIMEOUT_MS);
    });
    try {
      await Promise.race([roundTrip, late]);
    } finally {
      clearTimeout(timer);
      this.echoes.delete(nonce);
    }
  }

  private receive(payload: string): void {
    const colon = payload.indexOf(':');
    const [kind, key] = [payload.slice(0, colon), payload.slice(colon + 1)];
    if (kind === 'echo') {
      this.echoes.get(key)?.();
    } else {
      forgetRow(this.kysely, kind, key);
    }
  }

  private goDark(): void {
    this.live = false;
    clearReadCaches(this.kysely);
  }

  /** The listener failed: caches off now, a new listener after a pause that grows with each failure. */
  private lost(client: pg.Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    const wasLive = this.live;
    this.goDark();
    client.end().catch(() => {});
    if (this.stopped) return;
    // Said once per streak of failures, so an operator whose feed never comes up (a pooler in
    // transaction mode) learns why every read goes to the database.
    if (wasLive || this.failures === 0) this.log?.warn({ err: err && { message: err.message } }, 'database change feed down: reading clients, accounts and settings from the database until it hears again');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.open(), RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]);
    this.timer.unref();
  }
}
