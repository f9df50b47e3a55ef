// What users do to their own account on /account, without HTTP: rename, prefer and remove
// factors, change the password, make new recovery codes, sign out other sessions. Each change
// emits a security event (audit trail and mailed notice), with the account page as the client.
import { z } from 'zod';
import type { Services } from '../services.js';
import type { Account } from '../db/repos/accounts.js';
import type { StoredFactor } from '../db/repos/factors.js';
import { passwordSchema } from '../accounts/schemas.js';
import { tryAgainIn } from '../accounts/throttle.js';
import { parseInput } from '../validation.js';
import { BadInput, NotFound, TooManyAttempts } from '../errors.js';
import { keys } from '../store/session-store.js';
import { ACCOUNT_CLIENT_ID } from './client.js';
import { maskPhone } from '../phone/phone.js';
import { RECOVERY_TYPE } from '../factors/recovery/service.js';

export interface Who {
  ip: string;
  userAgent: string;
}

const factorName = z
  .string()
  .trim()
  .min(1, 'Give the method a name.')
  .max(60, 'Keep the name under 60 characters.')
  // Control characters (a NUL cannot even be stored in PostgreSQL) have no place in a name.
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'Use letters, digits, spaces and punctuation in the name.');

/** Factor ids are UUIDs; anything else names no factor (and never reaches the database). */
const FACTOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * "Sign out other sessions": every SSO session, account-page session and token of the account
 * from before the moment it was pressed stops working, except this browser's. Sessions carry
 * login times from Twofold's clock, tokens issue times from oidc-provider's (the same clock in
 * production, but tests move Twofold's), so the moment is kept in both.
 */
export interface SignOutMarker {
  /** Twofold's clock, epoch seconds: SSO sessions signed in before this (loginTs) are signed out. */
  at: number;
  /** oidc-provider's clock, epoch seconds: tokens issued before this (iat) stop working. */
  tokensAt?: number;
  keepSessionUid?: string;
  keepAccountSessionId?: string;
}

export const signOutKey = (accountId: string) => `tf:{a:${accountId}}:signed-out`;

/** A sign-in method as the account page lists it. */
export interface MethodView {
  id: string;
  type: string;
  name: string;
  label: string;
  /** "+1 ••• ••• 0123" for a phone factor. */
  masked: string | null;
  preferred: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

/** What stays signed in when the user signs out the others: this browser. */
export interface ThisBrowser {
  sessionUid?: string | undefined;
  accountSessionId: string;
}

export class AccountSelfService {
  constructor(private readonly s: Services) {}

  private emit(type: string, account: Account, who: Who, extra: { outcome?: 'success' | 'failure'; reason?: string; details?: Record<string, unknown> } = {}) {
    this.s.events.emit({
      type,
      outcome: extra.outcome ?? 'success',
      accountId: account.id,
      username: account.username,
      clientId: ACCOUNT_CLIENT_ID,
      ip: who.ip,
      userAgent: who.userAgent,
      reason: extra.reason ?? 'account_page',
      ...(extra.details ? { details: extra.details } : {}),
    });
  }

  /** The account's sign-in methods for the page: label, name, masked number (never the number itself). */
  async methods(account: Account): Promise<MethodView[]> {
    const factors = (await this.s.factors.list(account.id)).filter((f) => !this.s.factors.isFallback(f.type));
    return factors.map((f) => ({
      id: f.id,
      type: f.type,
      name: f.name,
      label: this.s.factors.challenger(f.type)?.label ?? f.type,
      masked: f.type === 'sms' || f.type === 'voice' ? maskPhone(this.s.factors.openSecret(f)) : null,
      preferred: f.preferred,
      createdAt: f.createdAt,
      lastUsedAt: f.lastUsedAt,
    }));
  }

  /** A real sign-in method (not the recovery codes) of this account. */
  private async ownFactor(account: Account, factorId: string): Promise<StoredFactor> {
    if (!FACTOR_ID.test(factorId)) throw new NotFound('That method is not set up on this account.');
    const factor = await this.s.factors.find(account.id, factorId);
    if (this.s.factors.isFallback(factor.type)) throw new BadInput('Recovery codes are managed in their own section of this page.');
    return factor;
  }

  async rename(account: Account, factorId: string, name: unknown, who: Who): Promise<void> {
    const factor = await this.ownFactor(account, factorId);
    await this.s.factors.repo.rename(account.id, factorId, parseInput(factorName, name));
    this.emit('factor.renamed', account, who, { details: { factor: factor.type } });
  }

  async prefer(account: Account, factorId: string, who: Who): Promise<void> {
    const factor = await this.ownFactor(account, factorId);
    await this.s.factors.repo.setPreferred(account.id, factorId);
    this.emit('factor.preferred', account, who, { details: { factor: factor.type } });
  }

  /**
   * Removes a factor. The last real one stays while every sign-in needs a second factor; when the
   * last one goes anyway (the policy allows it), the recovery codes go with it: they are the
   * backup of a second factor, not one of their own.
   */
  async remove(account: Account, factorId: string, who: Who): Promise<{ removed: StoredFactor; recoveryDiscarded: boolean }> {
    const factor = await this.ownFactor(account, factorId);
    const policy = await this.s.policy.get();
    const others = (await this.s.factors.list(account.id)).filter((f) => f.id !== factorId && !this.s.factors.isFallback(f.type));
    if (others.length === 0 && policy.requireMfa === 'all') {
      throw new BadInput('This is your only sign-in method and every sign-in needs one. Add another method before removing it.');
    }
    let recoveryDiscarded = false;
    if (others.length === 0) {
      // The last real factor takes the recovery codes with it, in the same transaction.
      recoveryDiscarded = (await this.s.factors.repo.removeWithRecovery(account.id, factorId, RECOVERY_TYPE)).recoveryRemoved;
    } else {
      await this.s.factors.repo.remove(account.id, factorId);
    }
    this.emit('factor.removed', account, who, { details: { factor: factor.type, ...(recoveryDiscarded ? { recovery_codes_removed: true } : {}) } });
    return { removed: factor, recoveryDiscarded };
  }

  /**
   * A new password after the current one. Wrong current passwords count like failed sign-ins (the
   * same per-account and per-IP throttle), so a hijacked page cannot be used to guess it.
   */
  async changePassword(account: Account, form: { current?: unknown; password?: unknown; confirm?: unknown }, who: Who): Promise<void> {
    const wait = await this.s.throttle.retryAfter(account.username, who.ip);
    if (wait > 0) throw new TooManyAttempts(`Too many failed password attempts. Please ${tryAgainIn(wait)}.`, wait);
    const current = typeof form.current === 'string' ? form.current : '';
    if (!account.passwordHash || !(await this.s.accounts.hasher.verify(account.passwordHash, current))) {
      await this.s.throttle.recordFailure(account.username, who.ip);
      this.emit('password.change_failed', account, who, { outcome: 'failure', reason: 'invalid_password' });
      throw new BadInput('Your current password is not right.');
    }
    const next = parseInput(passwordSchema, form.password);
    if (next !== form.confirm) throw new BadInput('The new passwords do not match.');
    if (next === current) throw new BadInput('Choose a password different from the current one.');
    await this.s.accounts.storePassword(account, next);
    await this.s.throttle.recordSuccess(account.username);
    this.emit('password.changed', account, who);
  }

  /** A new set of recovery codes (the old set stops working), returned once for display. */
  async regenerateRecoveryCodes(account: Account, who: Who): Promise<string[]> {
    const hasFactor = (await this.s.factors.list(account.id)).some((f) => !this.s.factors.isFallback(f.type));
    if (!hasFactor) throw new BadInput('Recovery codes come with a sign-in method. Add one first.');
    const codes = await this.s.recovery.generate(account);
    this.emit('recovery.regenerated', account, who);
    return codes;
  }

  /** How many unused recovery codes the account has, or null when it has none set up. */
  async recoveryCodesLeft(account: Account): Promise<number | null> {
    return (await this.s.recovery.has(account.id)) ? this.s.recovery.remaining(account.id) : null;
  }

  /**
   * Signs out every other session: SSO sessions, account-page sessions and tokens from before now
   * stop working (checked by the interaction policy, findAccount and the account page), except
   * this browser's.
   */
  async signOutOthers(account: Account, keep: ThisBrowser, who: Who): Promise<void> {
    const marker: SignOutMarker = {
      at: Math.floor(this.s.now() / 1000),
      tokensAt: Math.floor(Date.now() / 1000),
      keepAccountSessionId: keep.accountSessionId,
      ...(keep.sessionUid ? { keepSessionUid: keep.sessionUid } : {}),
    };
    await this.s.store.setJson(signOutKey(account.id), marker, Math.max(this.s.config.ttl.refreshToken, this.s.config.ttl.session));
    this.emit('sessions.signed_out', account, who);
  }

  signOutMarker(account: Account): Promise<SignOutMarker | undefined> {
    return this.s.store.getJson<SignOutMarker>(signOutKey(account.id));
  }

  /** Seconds the account's second factor is still locked (shown on the page). */
  lockedFor(account: Account): Promise<number> {
    return this.s.store.lockedFor(keys.account(account.id));
  }
}

/** True when an SSO session that signed in at `loginTs` (Twofold's clock) was signed out. */
export function signedOut(marker: SignOutMarker | undefined, loginTs: number | undefined, sessionUid: string | undefined): boolean {
  if (!marker || loginTs === undefined) return false;
  return loginTs < marker.at && (marker.keepSessionUid === undefined || marker.keepSessionUid !== sessionUid);
}

/** True when a token issued at `iat` (oidc-provider's clock) in session `sessionUid` was signed out. */
export function tokenSignedOut(marker: SignOutMarker | undefined, iat: number | undefined, sessionUid: string | undefined): boolean {
  if (!marker || iat === undefined) return false;
  return iat < (marker.tokensAt ?? marker.at) && (marker.keepSessionUid === undefined || marker.keepSessionUid !== sessionUid);
}

/** True when an account-page session opened at `openedAt` (Twofold's clock) was signed out. */
export function accountSessionSignedOut(marker: SignOutMarker | undefined, openedAt: number | undefined, id: string): boolean {
  if (!marker) return false;
  return (openedAt ?? 0) < marker.at && marker.keepAccountSessionId !== id;
}
