// Table shapes as Kysely sees them. Times are epoch milliseconds; flags are 0/1 integers so
// SQLite and PostgreSQL store the same thing.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface AccountsTable {
  id: string;
  username: string;
  /** Lower-cased username: the unique, case-insensitive key. */
  username_key: string;
  email: string | null;
  email_verified: number;
  name: string | null;
  role: string | null;
  locale: string | null;
  disabled: number;
  password_hash: string | null;
  password_changed_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ClientsTable {
  client_id: string;
  /** oidc-provider client metadata as JSON, without the secret. */
  metadata: string;
  /** client_secret sealed with the data key; null for public clients. */
  secret_sealed: string | null;
  created_at: number;
  updated_at: number;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  /** Private JWK sealed with the data key. */
  jwk_sealed: string;
  created_at: number;
  /** Set when the key stops signing; it stays published until removed. */
  retired_at: number | null;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: number;
}

export interface FactorsTable {
  id: string;
  account_id: string;
  type: string;
  name: string;
  /** The factor's secret (TOTP seed, phone number) sealed with the data key, bound to the factor id. */
  secret_sealed: string;
  preferred: number;
  created_at: number;
  last_used_at: number | null;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  type: string;
  outcome: string;
  account_id: string | null;
  username: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  reason: string | null;
  /** JSON of non-secret details. */
  details: string | null;
}

export interface RecoveryCodesTable {
  id: string;
  account_id: string;
  /** Keyed hash (HMAC under the code pepper) of the normalised code. */
  digest: string;
  created_at: number;
  used_at: number | null;
}

/** Rollout grace: how often an account skipped setting up a second factor (src/policy/grace.ts). */
export interface MfaGraceSkipsTable {
  account_id: string;
  skips: number;
  last_skip_at: number | null;
}

export interface Database {
  accounts: AccountsTable;
  clients: ClientsTable;
  signing_keys: SigningKeysTable;
  settings: SettingsTable;
  factors: FactorsTable;
  audit_events: AuditEventsTable;
  recovery_codes: RecoveryCodesTable;
  mfa_grace_skips: MfaGraceSkipsTable;
}

export type AccountRow = Selectable<AccountsTable>;
export type NewAccountRow = Insertable<AccountsTable>;
export type AccountPatch = Updateable<AccountsTable>;
export type ClientRow = Selectable<ClientsTable>;
export type FactorRow = Selectable<FactorsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type RecoveryCodeRow = Selectable<RecoveryCodesTable>;
export type { Generated };
