// The login transaction: what this sign-in has proved so far, kept server-side in the session
// store under the interaction's id. The browser only ever holds the interaction id (bound to
// it by oidc-provider's interaction cookie) and a CSRF token; nothing it sends can mark a step
// as done.
import { randomBytes } from 'node:crypto';
import type { FactorState } from '../factors/factor.js';
import type { FactorType } from '../policy/service.js';
import { keys, type SessionStore } from '../store/session-store.js';

export interface LoginTransaction {
  uid: string;
  clientId: string;
  /** The client's name as the pages show it (saved at the start: no client lookup per page). */
  clientName: string;
  /**
   * The factor types the policy allowed when the sign-in started; the whole sign-in follows them
   * (one policy read per sign-in rather than one per page).
   */
  allowedFactors: FactorType[];
  /** Form token for this interaction's pages. */
  csrf: string;
  /** Epoch seconds when the transaction expires (the interaction's own expiry). */
  exp: number;
  /** Decided when the interaction starts; nothing later in the sign-in can lower it. */
  secondFactorRequired: boolean;
  /** The relying party itself asked for the second factor (acr_values / essential acr). */
  requestedByRelyingParty: boolean;
  /** The relying party demands an acr this sign-in cannot end with: it ends with an error. */
  acrUnattainable?: boolean;
  accountId?: string;
  /** Epoch seconds when the password was verified (here or, for a step-up, in the SSO session). */
  passwordAt?: number;
  /** A second factor verified in this sign-in (enrolment counts: the user proved the new factor). */
  secondFactor?: { type: string; amr: string; factorId: string; at: number };
  /** Factors set up during this sign-in, for the Setup / Finish screen. */
  enrolled: Array<{ factorId: string; type: string }>;
  /** A factor being set up, not saved until its code verifies. */
  enrolment?: { type: string; state: FactorState };
  /** The user asked to see the list of methods (Use another method, or Setup). */
  choosing?: boolean;
  /** The factor being challenged and its state (e.g. when the code was sent). */
  challenge?: { factorId: string; state: FactorState };
  /** The factor the user picked under "Use another method". */
  selectedFactorId?: string;
  /** The password has to be entered again before a first factor can be bound. */
  passwordTooOld?: boolean;
  /** Recovery codes made in this sign-in (sealed), shown on the Setup / Finish screen. */
  recoveryCodes?: string;
  /** A message for the next screen only (after a redirect). */
  flash?: { notice?: string; error?: string };
}

/** What a transaction holds from its start, before anyone signed in; the rest is the account's. */
const STARTED_WITH = new Set<string>(['uid', 'clientId', 'clientName', 'allowedFactors', 'csrf', 'exp', 'secondFactorRequired', 'requestedByRelyingParty', 'acrUnattainable'] satisfies Array<keyof LoginTransaction>);

/** Another account signed in on this interaction: nothing of the previous one's progress carries over. */
export function forgetAccount(tx: LoginTransaction): void {
  for (const key of Object.keys(tx)) if (!STARTED_WITH.has(key)) delete (tx as unknown as Record<string, unknown>)[key];
  tx.enrolled = [];
}

export class Transactions {
  constructor(private readonly store: SessionStore) {}

  async start(uid: string, init: Pick<LoginTransaction, 'clientId' | 'clientName' | 'allowedFactors' | 'exp' | 'secondFactorRequired' | 'requestedByRelyingParty' | 'acrUnattainable' | 'accountId' | 'passwordAt'>): Promise<LoginTransaction> {
    const tx: LoginTransaction = { uid, csrf: randomBytes(24).toString('base64url'), enrolled: [], ...init };
    await this.save(tx);
    return tx;
  }

  find(uid: string): Promise<LoginTransaction | undefined> {
    return this.store.getJson<LoginTransaction>(keys.loginTransaction(uid));
  }

  async save(tx: LoginTransaction): Promise<void> {
    const ttl = tx.exp - Math.floor(Date.now() / 1000);
    if (ttl > 0) await this.store.setJson(keys.loginTransaction(tx.uid), tx, ttl);
  }

  async end(uid: string): Promise<void> {
    await this.store.delete(keys.loginTransaction(uid));
  }
}
