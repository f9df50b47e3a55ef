// What every sign-in step works with: the facts oidc-provider gave us about the interaction,
// who is asking (IP, browser), and the services the steps call. Steps return an Outcome and
// never touch HTTP themselves.
import type { Config } from '../config/schema.js';
import type { AccountService } from '../accounts/service.js';
import type { SignInThrottle } from '../accounts/throttle.js';
import type { FactorService } from '../factors/service.js';
import type { Attempts } from '../factors/attempts.js';
import type { PolicyService } from '../policy/service.js';
import type { SecurityEvents } from '../events.js';
import type { Transactions } from './transaction.js';
import type { RecoveryCodes } from '../factors/recovery/service.js';
import type { Keyring } from '../crypto/keyring.js';

export interface InteractionFacts {
  uid: string;
  prompt: { name: string; reasons: string[] };
  params: Record<string, unknown>;
  /** The SSO session the interaction started from, if any. */
  session?: { accountId: string; acr?: string; amr?: string[]; loginTs?: number };
  /** Epoch seconds when the interaction expires. */
  exp: number;
  /** requireMfa is read only when the interaction starts (afterwards the transaction holds what it decided). */
  client: { clientId: string; name: string; requireMfa?: boolean };
}

export interface Requester {
  ip: string;
  userAgent: string;
  locale: string;
}

export interface FlowServices {
  config: Config;
  accounts: AccountService;
  throttle: SignInThrottle;
  factors: FactorService;
  attempts: Attempts;
  policy: PolicyService;
  transactions: Transactions;
  events: SecurityEvents;
  recovery: RecoveryCodes;
  keyring: Keyring;
  now: () => number;
}

export interface LoginResult {
  accountId: string;
  acr: string;
  amr: string[];
  /** Epoch seconds: when the last factor completed (the ID token's auth_time). */
  ts: number;
  /**
   * The user skipped setting up a second factor under the rollout grace policy. Carried in the
   * interaction result (server-side), so the interaction policy lets this one authorization
   * through with acr=pwd; the SSO session records only the password.
   */
  graceSkip?: boolean;
}

export type Outcome =
  /** Show a screen (views/<view>.ejs); status for errors, 200 otherwise. */
  | { kind: 'render'; view: string; status?: number; data: Record<string, unknown> }
  /** Go back to the interaction page, which shows whatever comes next. */
  | { kind: 'continue' }
  /** The sign-in is complete; hand the result to oidc-provider. */
  | { kind: 'finish'; login: LoginResult }
  /** The sign-in cannot complete; tell the relying party. */
  | { kind: 'abort'; error: string; description: string };

export const render = (view: string, data: Record<string, unknown> = {}, status?: number): Outcome => ({
  kind: 'render',
  view,
  data,
  ...(status ? { status } : {}),
});
export const CONTINUE: Outcome = { kind: 'continue' };
