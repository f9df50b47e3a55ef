// Every setting Twofold has, with its default and what it means, in one place.
// Environment variables (see ENV_MAP in load.ts) and JSON files in config/ fill this schema;
// the README's configuration reference is written from this file.
import { z } from 'zod';

const seconds = (dflt: number) => z.coerce.number().int().positive().default(dflt);
const minutes = seconds;
const count = (dflt: number) => z.coerce.number().int().nonnegative().default(dflt);
const bool = (dflt: boolean) =>
  z.preprocess((v) => (typeof v === 'string' ? !['0', 'false', 'no', 'off', ''].includes(v.toLowerCase()) : v), z.boolean()).default(dflt);
const optionalString = z.string().trim().min(1).optional().catch(undefined);

export const configSchema = z.object({
  /** Issuer URL; also the public base URL of every page and webhook. */
  issuer: z.url().default('http://localhost:3000').transform((u) => u.replace(/\/+$/, '')),
  /** Listen port. */
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Listen address. */
  host: z.string().default('0.0.0.0'),
  /** `sqlite:<path>` or `postgres://…`; unset: `sqlite:<dataDir>/twofold.db`. */
  databaseUrl: optionalString,
  /** PostgreSQL pool size per instance. */
  databasePoolMax: z.coerce.number().int().min(1).default(10),
  /** `redis://…`, `rediss://…`, `redis-sentinel://…` or `redis-cluster://…`; unset: in-memory (single instance, development). */
  redisUrl: optionalString,
  /** Prefix for every Redis key, so several Twofold installations (or test runs) can share one Redis. */
  redisKeyPrefix: z.string().default(''),
  /** Master secret (32+ characters): cookie keys, code peppers and the at-rest key are derived from it. */
  secret: z.string().min(32, 'TWOFOLD_SECRET must be at least 32 characters').optional(),
  /** Earlier master secrets, still accepted to read data and cookies sealed with them (rotation). */
  previousSecrets: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string().min(32)))
    .default([]),
  /** Number of reverse-proxy hops in front of Twofold whose X-Forwarded-* headers are trusted. */
  trustProxy: z.coerce.number().int().min(0).max(10).default(0),
  /** Where the SQLite database and the generated development secret live. */
  dataDir: z.string().default('./data'),
  /** `production` refuses development-only defaults. */
  nodeEnv: z.string().default('development'),
  /** pino log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Serve the demo relying party at /demo; `serve --demo` (npm run demo) sets it and seeds the demo client and user. */
  demo: bool(false),

  ttl: z
    .object({
      session: seconds(14 * 24 * 3600),
      interaction: seconds(30 * 60),
      authorizationCode: seconds(60),
      accessToken: seconds(10 * 60),
      idToken: seconds(60 * 60),
      refreshToken: seconds(14 * 24 * 3600),
      clientCredentials: seconds(10 * 60),
      grant: seconds(14 * 24 * 3600),
    })
    .prefault({}),

  /** argon2id parameters; defaults are OWASP's (m=19 MiB, t=2, p=1). Hashes are upgraded at sign-in when these change. */
  argon2: z
    .object({
      memoryKiB: z.coerce.number().int().min(8 * 1024).default(19 * 1024),
      iterations: z.coerce.number().int().min(1).default(2),
      parallelism: z.coerce.number().int().min(1).default(1),
    })
    .prefault({}),

  /** Password sign-in throttling. */
  signIn: z
    .object({
      maxFailuresPerAccount: count(10),
      maxFailuresPerIp: count(100),
      windowMinutes: minutes(15),
    })
    .prefault({}),

  /** Second-factor rules. */
  mfa: z
    .object({
      /** A password entered within this many minutes lets a user enrol a first factor without signing in again. */
      freshPasswordMinutes: minutes(5),
      /** Wrong codes that end one challenge. */
      challengeMaxFailures: count(5),
      /** Consecutive wrong codes (across sign-ins) that lock an account's second factor. */
      lockoutThreshold: count(10),
      lockoutMinutes: minutes(15),
      /** Account changes need a second factor within this many minutes. */
      stepUpMinutes: minutes(5),
    })
    .prefault({}),

  /** Instance-wide authenticator app parameters (changing them affects factors enrolled afterwards). */
  totp: z
    .object({
      period: z.coerce.number().int().min(15).max(120).default(30),
      digits: z.union([z.literal(6), z.literal(8)]).default(6),
      algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha1'),
      issuerLabel: z.string().default('Twofold'),
    })
    .prefault({}),

  /** Factor types this installation offers at all (the admin policy can narrow it further). */
  factors: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').map((t) => t.trim()).filter(Boolean) : v), z.array(z.enum(['totp', 'sms', 'voice'])).min(1))
    .default(['totp', 'sms', 'voice']),

  /** Short-lived one-time codes sent by text message or voice call. */
  codes: z
    .object({
      /** Lifetime of a code; never more than 10 minutes (NIST 800-63B). */
      ttlSeconds: z.coerce.number().int().min(30).max(600).default(300),
      /** Wrong entries one code survives before it is void. */
      maxAttempts: z.coerce.number().int().min(1).max(10).default(5),
    })
    .prefault({}),

  /** Which phone numbers may receive codes. */
  phone: z
    .object({
      /** Country assumed for numbers typed without a +country code. */
      defaultCountry: z.string().length(2).toUpperCase().default('US'),
      /** ISO country codes allowed to receive codes; empty: all countries (setting it is recommended). */
      allowedCountries: z
        .preprocess((v) => (typeof v === 'string' ? v.split(',').map((c) => c.trim()).filter(Boolean) : v), z.array(z.string().length(2).toUpperCase()))
        .default([]),
      /** libphonenumber number types accepted for text messages. */
      smsTypes: z.array(z.string()).default(['MOBILE', 'FIXED_LINE_OR_MOBILE']),
      /** ...and for voice calls (landlines can take a call). */
      voiceTypes: z.array(z.string()).default(['MOBILE', 'FIXED_LINE_OR_MOBILE', 'FIXED_LINE']),
    })
    .prefault({}),

  /** Limits on sending codes (SMS pumping and toll fraud); SMS and voice count together. */
  sendLimits: z
    .object({
      /** First wait before a resend to the same number in one sign-in; doubles with each send to the number. */
      cooldownSeconds: seconds(30),
      maxCooldownSeconds: seconds(15 * 60),
      perNumberHour: count(6),
      perNumberDay: count(20),
      perAccountHour: count(10),
      perAccountDay: count(30),
      perIpHour: count(30),
      perIpDay: count(100),
      /** Daily budget per country calling code (all users together). */
      perCountryHour: count(500),
      perCountryDay: count(2000),
      /** Sends to one number range in an hour that, with too few verifications, raise an alert. */
      prefixAlertSends: count(20),
      prefixAlertMinVerifiedRatio: z.coerce.number().min(0).max(1).default(0.2),
    })
    .prefault({}),

  vonage: z
    .object({
      apiKey: optionalString,
      apiSecret: optionalString,
      applicationId: optionalString,
      /** PEM text or a path to a PEM file. */
      privateKey: optionalString,
      signatureSecret: optionalString,
      smsFrom: z.string().default('Twofold'),
      voiceFrom: optionalString,
      /** How signed SMS delivery receipts are signed (Vonage dashboard setting). */
      signatureMethod: z.enum(['md5hash', 'md5hmac', 'sha1hmac', 'sha256hmac', 'sha512hmac']).default('sha256hmac'),
      restHost: optionalString,
      apiHost: optionalString,
      timeoutMs: z.coerce.number().int().min(100).default(5000),
    })
    .prefault({}),

  mail: z
    .object({
      smtpUrl: optionalString,
      from: z.string().default('Twofold <no-reply@localhost>'),
    })
    .prefault({}),
}).transform((config) => ({ ...config, databaseUrl: config.databaseUrl ?? `sqlite:${config.dataDir.replace(/\/+$/, '')}/twofold.db` }));

export type Config = z.infer<typeof configSchema>;
