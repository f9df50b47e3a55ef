// Builds the configuration from config/*.json files and environment variables (which win),
// validates it with the schema, and refuses development-only defaults in production.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { configSchema, type Config } from './schema.js';
import { ConfigError } from '../errors.js';

/** Environment variable → configuration path. The README's table is this list. */
export const ENV_MAP: Record<string, string> = {
  ISSUER: 'issuer',
  PORT: 'port',
  HOST: 'host',
  DATABASE_URL: 'databaseUrl',
  DATABASE_POOL_MAX: 'databasePoolMax',
  REDIS_URL: 'redisUrl',
  REDIS_KEY_PREFIX: 'redisKeyPrefix',
  TWOFOLD_SECRET: 'secret',
  TWOFOLD_PREVIOUS_SECRETS: 'previousSecrets',
  TRUST_PROXY: 'trustProxy',
  TWOFOLD_DATA_DIR: 'dataDir',
  NODE_ENV: 'nodeEnv',
  LOG_LEVEL: 'logLevel',
  VONAGE_API_KEY: 'vonage.apiKey',
  VONAGE_API_SECRET: 'vonage.apiSecret',
  VONAGE_APPLICATION_ID: 'vonage.applicationId',
  VONAGE_PRIVATE_KEY: 'vonage.privateKey',
  VONAGE_SIGNATURE_SECRET: 'vonage.signatureSecret',
  VONAGE_SIGNATURE_METHOD: 'vonage.signatureMethod',
  VONAGE_SMS_FROM: 'vonage.smsFrom',
  VONAGE_VOICE_FROM: 'vonage.voiceFrom',
  VONAGE_REST_HOST: 'vonage.restHost',
  VONAGE_API_HOST: 'vonage.apiHost',
  VONAGE_TIMEOUT_MS: 'vonage.timeoutMs',
  TWOFOLD_FACTORS: 'factors',
  PHONE_DEFAULT_COUNTRY: 'phone.defaultCountry',
  PHONE_ALLOWED_COUNTRIES: 'phone.allowedCountries',
  SMTP_URL: 'mail.smtpUrl',
  MAIL_FROM: 'mail.from',
};

type Tree = Record<string, unknown>;

function setPath(target: Tree, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] = (node[key] as Tree | undefined) ?? {};
    node = node[key] as Tree;
  }
  node[keys.at(-1)!] = value;
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prior && typeof prior === 'object'
        ? merge(prior as Tree, value as Tree)
        : value;
  }
  return out;
}

function readJson(file: string): Tree {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Tree;
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The config files that apply, in order: config/local.json, config/<NODE_ENV>.json, then $TWOFOLD_CONFIG. */
export function configFiles(env: NodeJS.ProcessEnv, cwd = process.cwd()): string[] {
  const dir = path.join(cwd, 'config');
  const candidates = [path.join(dir, 'local.json'), path.join(dir, `${env.NODE_ENV ?? 'development'}.json`)];
  const found = candidates.filter((f) => existsSync(f));
  if (env.TWOFOLD_CONFIG) found.push(path.resolve(cwd, env.TWOFOLD_CONFIG));
  return found;
}

export function fromEnv(env: NodeJS.ProcessEnv): Tree {
  const tree: Tree = {};
  for (const [name, target] of Object.entries(ENV_MAP)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(tree, target, value);
  }
  return tree;
}

/** Parses a partial configuration (files, env or a test's overrides) into a full one. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  return result.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Tree = {}): Config {
  let tree: Tree = {};
  for (const file of configFiles(env)) tree = merge(tree, readJson(file));
  tree = merge(tree, fromEnv(env));
  tree = merge(tree, overrides);
  return parseConfig(tree);
}

export const isProduction = (config: Config): boolean => config.nodeEnv === 'production';

/** What production refuses: each entry names the setting and how to fix it. */
export function productionProblems(config: Config): string[] {
  if (!isProduction(config)) return [];
  const problems: string[] = [];
  if (!config.secret) problems.push('TWOFOLD_SECRET is required (32+ characters); a generated secret is for development only');
  if (!config.redisUrl) problems.push('REDIS_URL is required; the in-memory session store is for a single development instance only');
  const vonage = config.vonage;
  // Without Vonage credentials, codes would only reach the log (console delivery).
  if (config.factors.includes('sms') && !(vonage.apiKey && vonage.apiSecret)) {
    problems.push('text messages need VONAGE_API_KEY and VONAGE_API_SECRET (console delivery of codes is for development only); or offer no SMS factor: TWOFOLD_FACTORS=totp,voice');
  }
  if (config.factors.includes('voice') && !(vonage.applicationId && vonage.privateKey && vonage.voiceFrom)) {
    problems.push('voice calls need VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY and VONAGE_VOICE_FROM (console delivery is for development only); or offer no voice factor: TWOFOLD_FACTORS=totp,sms');
  }
  if (!config.issuer.startsWith('https://')) problems.push('ISSUER must be an https:// URL');
  return problems;
}

