// The composition root: opens the stores named by the configuration and wires every service.
// The HTTP app, the CLI and the tests all build Twofold through here.
import type { Config } from './config/schema.js';
import { isProduction, productionProblems } from './config/load.js';
import { ConfigError } from './errors.js';
import { Keyring } from './crypto/keyring.js';
import { developmentSecret } from './crypto/master-secret.js';
import { openDatabase, type Db } from './db/database.js';
import { AccountRepo } from './db/repos/accounts.js';
import { ClientRepo } from './db/repos/clients.js';
import { FactorRepo } from './db/repos/factors.js';
import { SettingsRepo } from './db/repos/settings.js';
import { SigningKeyRepo } from './db/repos/signing-keys.js';
import { AccountService } from './accounts/service.js';
import { PasswordHasher } from './accounts/passwords.js';
import { SignInThrottle } from './accounts/throttle.js';
import { ClientService } from './clients/service.js';
import { PolicyService } from './policy/service.js';
import { SigningKeys } from './oidc/signing-keys.js';
import type { SessionStore } from './store/session-store.js';
import { MemorySessionStore } from './store/memory.js';
import { RedisSessionStore } from './store/redis.js';
import { connectRedis, createRedisClient } from './store/redis-connection.js';
import { SecurityEvents } from './events.js';
import { Attempts } from './factors/attempts.js';
import { FactorService } from './factors/service.js';
import { TotpFactor } from './factors/totp/factor.js';
import { SmsFactor } from './factors/sms/factor.js';
import { VoiceFactor } from './factors/voice/factor.js';
import type { Factor } from './factors/factor.js';
import { Codes } from './codes/codes.js';
import { SendLimits } from './abuse/send-limits.js';
import { DeliveryReceipts } from './delivery/receipts.js';
import { createSender } from './delivery/index.js';
import type { Sender } from './delivery/sender.js';
import { AuditRepo } from './db/repos/audit.js';
import { AuditService } from './audit/service.js';
import { RecoveryCodeRepo } from './db/repos/recovery-codes.js';
import { RecoveryCodes } from './factors/recovery/service.js';
import { RecoveryFactor } from './factors/recovery/factor.js';
import { createMailer, type Mailer } from './notify/mailer.js';
import { Notices } from './notify/notices.js';
import { Transactions } from './flow/transaction.js';
import type { FlowServices } from './flow/context.js';
import { createLogger, type Logger } from './log.js';

export interface Services extends FlowServices {
  log: Logger;
  keyring: Keyring;
  db: Db;
  store: SessionStore;
  clients: ClientService;
  signingKeys: SigningKeys;
  codes: Codes;
  sendLimits: SendLimits;
  receipts: DeliveryReceipts;
  sender: Sender;
  audit: AuditService;
  mailer: Mailer;
  close(): Promise<void>;
}

export interface BuildOptions {
  log?: Logger;
  /** The session store is needed for serving and for `user unlock`; most CLI commands skip it. */
  withSessionStore?: boolean;
  /** A clock for tests; defaults to Date.now. */
  now?: () => number;
  /** Replaces how codes are sent (tests use the real Vonage sender against a fake server instead). */
  sender?: Sender;
  /** Replaces how notices are mailed. */
  mailer?: Mailer;
  /** On PostgreSQL, cache the rows every request reads, kept true by a change feed (serving does). */
  changeFeed?: boolean;
}

function masterSecret(config: Config, log: Logger): { secret: string; previous: string[] } {
  if (config.secret) return { secret: config.secret, previous: config.previousSecrets };
  const generated = developmentSecret(config.dataDir);
  if (generated.created) log.warn({ file: generated.file }, 'TWOFOLD_SECRET is not set: generated a development secret. Set TWOFOLD_SECRET in production.');
  return { secret: generated.secret, previous: config.previousSecrets };
}

export async function openSessionStore(config: Config, log: Logger, now?: () => number): Promise<SessionStore> {
  if (!config.redisUrl) {
    if (!isProduction(config)) log.warn('REDIS_URL is not set: using the in-memory session store. It serves a single instance only and loses sessions on restart.');
    return new MemorySessionStore(now);
  }
  const client = createRedisClient(config.redisUrl, config.redisKeyPrefix ? { keyPrefix: config.redisKeyPrefix } : {});
  client.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection problem'));
  await connectRedis(client, config.redisUrl);
  return new RedisSessionStore(client);
}

export async function buildServices(config: Config, options: BuildOptions = {}): Promise<Services> {
  const log = options.log ?? createLogger(config.logLevel);
  const problems = productionProblems(config);
  if (problems.length) throw new ConfigError(`refusing to start with NODE_ENV=production: ${problems.join('; ')}`);
  const now = options.now ?? Date.now;

  const { secret, previous } = masterSecret(config, log);
  const keyring = new Keyring(secret, previous);
  const db = await openDatabase(config.databaseUrl, { poolMax: config.databasePoolMax, changeFeed: options.changeFeed ?? false });
  db.changes?.start(log);
  let store: SessionStore;
  try {
    store = options.withSessionStore === false ? new MemorySessionStore(now) : await openSessionStore(config, log, now);
  } catch (err) {
    await db.close();
    throw err;
  }

  const settings = new SettingsRepo(db.kysely);
  const accounts = new AccountService(new AccountRepo(db.kysely), new PasswordHasher(config.argon2));
  const attempts = new Attempts(store, config);
  const events = new SecurityEvents((err, event) => log.error({ err, event: event.type }, 'security event listener failed'));
  const audit = new AuditService(new AuditRepo(db.kysely));
  audit.subscribe(events);
  const codes = new Codes(store, keyring, attempts, config, now);
  const receipts = new DeliveryReceipts(store);
  const sender = options.sender ?? createSender(config, log);
  const policy = new PolicyService(settings, db.kysely);
  const sendLimits = new SendLimits(store, keyring, config.sendLimits, events, log, async () => (await policy.get()).sendLimits);
  const phoneDeps = { config, keyring, codes, limits: sendLimits, sender, receipts, events, policy, now };
  // The order of the method chooser: the authenticator app first (NIST 800-63B 5.2.10).
  const offered: Factor[] = [
    new TotpFactor(store, keyring, attempts, config, now, async () => (await policy.get()).totp),
    new SmsFactor(phoneDeps),
    new VoiceFactor(phoneDeps),
  ].filter((f) => config.factors.includes(f.type));
  const factorRepo = new FactorRepo(db.kysely);
  const recovery = new RecoveryCodes(new RecoveryCodeRepo(db.kysely), factorRepo, keyring, attempts);
  const factors = new FactorService(factorRepo, keyring, offered, [new RecoveryFactor(recovery, events)]);
  const mailer = options.mailer ?? createMailer(config.mail, log);
  new Notices(accounts, mailer, store, config.issuer, log).subscribe(events);

  return {
    config,
    log,
    keyring,
    db,
    store,
    now,
    accounts,
    throttle: new SignInThrottle(store, config.signIn),
    clients: new ClientService(new ClientRepo(db.kysely), keyring),
    policy,
    signingKeys: new SigningKeys(new SigningKeyRepo(db.kysely), settings, keyring),
    factors,
    attempts,
    codes,
    sendLimits,
    receipts,
    sender,
    audit,
    recovery,
    mailer,
    transactions: new Transactions(store),
    events,
    async close() {
      await events.settle();
      mailer.close();
      await Promise.allSettled([store.close(), db.close()]);
    },
  };
}
