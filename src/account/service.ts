// What users do to their own account on /account, without HTTP: rename, prefer and remove
// factors, change the password, sign out other sessions. Each change emits a security event
// (audit trail and mailed notice).
import { z } from 'zod';
import type { Services } from '../services.js';
import type { Account } from '../db/repos/accounts.js';
import type { StoredFactor } from '../db/repos/factors.js';
import { passwordSchema } from '../accounts/schemas.js';
import { parseInput } from '../validation.js';
import { BadInput } from '../errors.js';
import { keys } from '../store/session-store.js';

export interface Who {
  ip: string;
  userAgent: string;
}

const factorName = z.string().trim().min(1, 'Give the method a name.').max(60, 'Keep the name under 60 characters.');

/** Marks every session and token of an account from before `at` as signed out, except one session. */
export interface SignOutMarker {
  at: number;
  keepSessionUid?: string;
}

export const signOutKey = (accountId: string) => `tf:{a:${accountId}}:signed-out`;

export class AccountSelfService {
  constructor(private readonly s: Services) {}

  private emit(type: string, account: Account, who: Who, details?: Record<string, unknown>) {
    this.s.events.emit({ type, outcome: 'success', accountId: account.id, username: account.username, ip: who.ip, userAgent: who.userAgent, reason: 'account_page', ...(details ? { details } : {}) });
  }

  async rename(account: Account, factorId: string, name: unknown): Promise<void> {
    await this.s.factors.find(account.id, factorId);
    await this.s.factors.repo.rename(account.id, factorId, parseInput(factorName, name));
  }

  async prefer(account: Account, factorId: string): Promise<void> {
    const factor = await this.s.factors.find(account.id, factorId);
    if (factor.type === 'recovery') throw new BadInput('Recovery codes are for emergencies and cannot be your preferred method.');
    await this.s.factors.repo.setPreferred(account.id, factorId);
  }

  /** Removes a factor; the last real one stays while every sign-in needs a second factor. */
  async remove(account: Account, factorId: string, who: Who): Promise<StoredFactor> {
    const factor = await this.s.factors.find(account.id, factorId);
    const policy = await this.s.policy.get();
    const others = (await this.s.factors.usable(account.id, policy)).filter((f) => f.id !== factorId && f.type !== 'recovery');
    if (factor.type !== 'recovery' && others.length === 0 && policy.requireMfa === 'all') {
      throw new BadInput('This is your only sign-in method and every sign-in needs one. Add another method before removing it.');
    }
    await this.s.factors.repo.remove(account.id, factorId);
    this.emit('factor.removed', account, who, { factor: factor.type });
    return factor;
  }

  async changePassword(account: Account, form: { current?: unknown; password?: unknown; confirm?: unknown }, who: Who): Promise<void> {
    const current = typeof form.current === 'string' ? form.current : '';
    if (!account.passwordHash || !(await this.s.accounts.hasher.verify(account.passwordHash, current))) {
      throw new BadInput('Your current password is not right.');
    }
    const next = parseInput(passwordSchema, form.password);
    if (next !== form.confirm) throw new BadInput('The new passwords do not match.');
    if (next === current) throw new BadInput('Choose a password different from the current one.');
    await this.s.accounts.repo.update(account.id, { passwordHash: await this.s.accounts.hasher.hash(next), passwordChangedAt: Date.now() });
    this.emit('password.changed', account, who);
  }

  /**
   * Signs out every other session: SSO sessions and tokens from before now stop working (checked
   * by the interaction policy and findAccount), except this browser's session.
   */
  async signOutOthers(account: Account, keepSessionUid: string | undefined, who: Who): Promise<void> {
    const marker: SignOutMarker = { at: Math.floor(Date.now() / 1000), ...(keepSessionUid ? { keepSessionUid } : {}) };
    await this.s.store.setJson(signOutKey(account.id), marker, this.s.config.ttl.refreshToken);
    this.emit('sessions.signed_out', account, who);
  }

  /** Seconds the account's second factor is still locked (shown on the page). */
  lockedFor(account: Account): Promise<number> {
    return this.s.store.lockedFor(keys.account(account.id));
  }
}

/** True when something from `issuedAt` (epoch seconds) in session `sessionUid` was signed out. */
export function signedOut(marker: SignOutMarker | undefined, issuedAt: number | undefined, sessionUid: string | undefined): boolean {
  if (!marker || issuedAt === undefined) return false;
  return issuedAt < marker.at && (marker.keepSessionUid === undefined || marker.keepSessionUid !== sessionUid);
}
