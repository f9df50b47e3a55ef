// The account page's own session: who signed in to /account through Twofold (as its internal
// first-party client), with which factors and when. Kept server-side in the session store; the
// browser holds only a random id in a signed, HttpOnly cookie.
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { SessionStore } from '../store/session-store.js';
import type { FactorState } from '../factors/factor.js';

export const ACCOUNT_COOKIE = 'twofold_account';
const PENDING_COOKIE = 'twofold_account_login';
const LIFETIME_SECONDS = 3600;

export interface AccountSession {
  id: string;
  accountId: string;
  csrf: string;
  /** amr and auth_time of the sign-in that opened (or last refreshed) this session. */
  amr: string[];
  authTime: number;
  idToken: string;
  /** When this session was opened (epoch seconds, Twofold's clock): "sign out other sessions" ends older ones. */
  openedAt: number;
  /**
   * A factor being added from the account page. `id` names this one enrolment: its codes and
   * attempts are bound to it, so each enrolment has its own attempt budget.
   */
  enrolment?: { id: string; type: string; state: FactorState };
  /**
   * New recovery codes, sealed, shown (with download and print) until the user says they saved
   * them, makes another change, or `freshRecoveryCodesUntil` (epoch ms) passes.
   */
  freshRecoveryCodes?: string;
  freshRecoveryCodesUntil?: number;
  flash?: { notice?: string; error?: string };
}

/** What the OIDC login round trip must remember between /account/login and /account/callback. */
export interface PendingLogin {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
}

export class AccountSessions {
  constructor(
    private readonly store: SessionStore,
    private readonly secure: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  private key = (id: string) => `tf:account-session:${id}`;

  private cookieOptions(maxAgeSeconds: number) {
    return { signed: true, httpOnly: true, sameSite: 'lax' as const, secure: this.secure, path: '/account', maxAge: maxAgeSeconds * 1000, overwrite: true };
  }

  async load(ctx: Context): Promise<AccountSession | undefined> {
    const id = ctx.cookies.get(ACCOUNT_COOKIE, { signed: true });
    return id ? this.store.getJson<AccountSession>(this.key(id)) : undefined;
  }

  /** Starts a new session (a new id: never reuse one from before the sign-in). */
  async open(ctx: Context, init: Omit<AccountSession, 'id' | 'csrf' | 'openedAt'>): Promise<AccountSession> {
    const previous = ctx.cookies.get(ACCOUNT_COOKIE, { signed: true });
    if (previous) await this.store.delete(this.key(previous));
    const session: AccountSession = {
      id: randomBytes(24).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      openedAt: Math.floor(this.now() / 1000),
      ...init,
    };
    await this.save(session);
    ctx.cookies.set(ACCOUNT_COOKIE, session.id, this.cookieOptions(LIFETIME_SECONDS));
    return session;
  }

  save(session: AccountSession): Promise<void> {
    return this.store.setJson(this.key(session.id), session, LIFETIME_SECONDS);
  }

  async close(ctx: Context, session?: AccountSession): Promise<void> {
    if (session) await this.store.delete(this.key(session.id));
    ctx.cookies.set(ACCOUNT_COOKIE, null, this.cookieOptions(0));
  }

  rememberLogin(ctx: Context, pending: PendingLogin): void {
    ctx.cookies.set(PENDING_COOKIE, JSON.stringify(pending), this.cookieOptions(600));
  }

  takeLogin(ctx: Context): PendingLogin | undefined {
    const raw = ctx.cookies.get(PENDING_COOKIE, { signed: true });
    ctx.cookies.set(PENDING_COOKIE, null, this.cookieOptions(0));
    try {
      return raw ? (JSON.parse(raw) as PendingLogin) : undefined;
    } catch {
      return undefined;
    }
  }
}
