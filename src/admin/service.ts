// What an administrator can do, once, for the CLI and the admin API alike: the same validation,
// the same answers, and an audit event for every change saying who made it and through what.
import type { Services } from '../services.js';
import type { ClientInput, ClientView } from '../clients/service.js';
import type { Account } from '../db/repos/accounts.js';
import type { StoredFactor } from '../db/repos/factors.js';
import type { Policy } from '../policy/service.js';
import type { AuditQuery } from '../db/repos/audit.js';
import { keys } from '../store/session-store.js';
import { Conflict } from '../errors.js';
import { ACCOUNT_CLIENT_ID } from '../account/client.js';

/** Who is acting: an operator at the CLI, or an admin client over the API. */
export type Actor = { via: 'cli' } | { via: 'api'; clientId: string; ip?: string; userAgent?: string };

export interface UserView {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  role: string | null;
  locale: string | null;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  password_changed_at: string | null;
}

export interface FactorView {
  id: string;
  type: string;
  name: string;
  preferred: boolean;
  created_at: string;
  last_used_at: string | null;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export const userView = (a: Account): UserView => ({
  id: a.id,
  username: a.username,
  email: a.email,
  name: a.name,
  role: a.role,
  locale: a.locale,
  disabled: a.disabled,
  created_at: iso(a.createdAt)!,
  updated_at: iso(a.updatedAt)!,
  password_changed_at: iso(a.passwordChangedAt),
});

export const factorView = (f: StoredFactor): FactorView => ({
  id: f.id,
  type: f.type,
  name: f.name,
  preferred: f.preferred,
  created_at: iso(f.createdAt)!,
  last_used_at: iso(f.lastUsedAt),
});

/** Where an administrator's change came from, for the audit trail: the API client and its caller, or the CLI. */
function origin(actor: Actor) {
  return {
    ip: actor.via === 'api' ? (actor.ip ?? null) : null,
    userAgent: actor.via === 'api' ? (actor.userAgent ?? null) : null,
    reason: actor.via === 'api' ? `api:${actor.clientId}` : 'cli',
  };
}

/** Twofold registers and corrects its own account-page client at every start; nobody else changes it. */
function notInternal(clientId: string): void {
  if (clientId === ACCOUNT_CLIENT_ID) {
    throw new Conflict(`"${ACCOUNT_CLIENT_ID}" is the account page's own client, managed by Twofold itself; it cannot be changed or removed.`);
  }
}

export class AdminService {
  constructor(private readonly s: Services) {}

  private record(actor: Actor, type: string, target: { accountId?: string; username?: string; clientId?: string }, details?: Record<string, unknown>): void {
    this.s.events.emit({
      type: `admin.${type}`,
      outcome: 'success',
      accountId: target.accountId ?? null,
      username: target.username ?? null,
      clientId: target.clientId ?? null,
      ...origin(actor),
      ...(details ? { details } : {}),
    });
  }

  // --- clients

  listClients(): Promise<ClientView[]> {
    return this.s.clients.list();
  }

  showClient(clientId: string): Promise<ClientView> {
    return this.s.clients.show(clientId);
  }

  async addClient(actor: Actor, input: ClientInput): Promise<{ client: ClientView; secret: string | null }> {
    const added = await this.s.clients.add(input);
    this.record(actor, 'client_added', { clientId: added.client.client_id }, { require_mfa: added.client.require_mfa, admin: added.client.admin });
    return added;
  }

  async updateClient(actor: Actor, clientId: string, changes: Partial<Omit<ClientInput, 'clientId'>>): Promise<ClientView> {
    notInternal(clientId);
    const updated = await this.s.clients.update(clientId, changes);
    this.record(actor, 'client_updated', { clientId }, { fields: Object.keys(changes).filter((k) => k !== 'secret'), require_mfa: updated.require_mfa });
    return updated;
  }

  async removeClient(actor: Actor, clientId: string): Promise<void> {
    notInternal(clientId);
    await this.s.clients.remove(clientId);
    this.record(actor, 'client_removed', { clientId });
  }

  async rotateClientSecret(actor: Actor, clientId: string): Promise<string> {
    notInternal(clientId);
    const secret = await this.s.clients.rotateSecret(clientId);
    this.record(actor, 'client_secret_rotated', { clientId });
    return secret;
  }

  // --- users

  async listUsers(q: { search?: string; limit?: number; offset?: number }): Promise<{ items: UserView[]; total: number }> {
    const { items, total } = await this.s.accounts.list(q);
    return { items: items.map(userView), total };
  }

  async showUser(username: string): Promise<UserView & { factors: FactorView[] }> {
    const account = await this.s.accounts.get(username);
    return { ...userView(account), factors: (await this.s.factors.list(account.id)).map(factorView) };
  }

  async addUser(actor: Actor, input: Record<string, unknown>): Promise<UserView> {
    const account = await this.s.accounts.create(input);
    this.record(actor, 'user_added', { accountId: account.id, username: account.username }, { role: account.role });
    return userView(account);
  }

  async updateUser(actor: Actor, username: string, changes: { email?: string | null; name?: string | null; role?: string | null; locale?: string | null; disabled?: boolean }): Promise<UserView> {
    const { disabled, ...fields } = changes;
    const before = await this.s.accounts.get(username);
    const flip = disabled !== undefined && disabled !== before.disabled;
    const changed = Object.keys(fields);
    if (!changed.length && !flip) return userView(before);
    // One UPDATE: a failure leaves the user as they were, not half changed.
    const account = await this.s.accounts.update(username, fields, flip ? { disabled } : {});
    const who = { accountId: account.id, username: account.username };
    if (flip) this.recordDisabled(actor, who, disabled);
    if (changed.length) this.record(actor, 'user_updated', who, { fields: changed });
    return userView(account);
  }

  async removeUser(actor: Actor, username: string): Promise<void> {
    const account = await this.s.accounts.remove(username);
    this.record(actor, 'user_removed', { accountId: account.id, username: account.username });
  }

  /** A new password; the user's second factors stay as they are (NIST: a reset never drops MFA). */
  async setPassword(actor: Actor, username: string, password: unknown): Promise<void> {
    const account = await this.s.accounts.setPassword(username, password);
    this.s.events.emit({ type: 'password.changed', outcome: 'success', accountId: account.id, username: account.username, ...origin(actor) });
  }

  async setDisabled(actor: Actor, username: string, disabled: boolean): Promise<Account> {
    const account = await this.s.accounts.setDisabled(username, disabled);
    this.recordDisabled(actor, { accountId: account.id, username: account.username }, disabled);
    return account;
  }

  private recordDisabled(actor: Actor, who: { accountId: string; username: string }, disabled: boolean): void {
    this.record(actor, disabled ? 'user_disabled' : 'user_enabled', who);
  }

  /** Removes every second factor and the recovery codes; the user enrols again at the next sign-in. */
  async resetMfa(actor: Actor, username: string): Promise<number> {
    const account = await this.s.accounts.get(username);
    const removed = await this.s.factors.removeAll(account.id);
    this.s.events.emit({
      type: 'factor.reset',
      outcome: 'success',
      accountId: account.id,
      username: account.username,
      ...origin(actor),
      details: { removed },
    });
    return removed;
  }

  /** Clears the password throttle and the second-factor lockout. */
  async unlock(actor: Actor, username: string): Promise<void> {
    const account = await this.s.accounts.get(username);
    const k = keys.account(account.id);
    await this.s.throttle.unlock(account.username);
    await this.s.store.delete(k.failures, k.lock, k.lockouts);
    this.record(actor, 'user_unlocked', { accountId: account.id, username: account.username });
  }

  // --- policy and audit

  get config() {
    return this.s.config;
  }

  getPolicy(): Promise<Policy> {
    return this.s.policy.get();
  }

  async setPolicy(actor: Actor, changes: Partial<Policy>): Promise<Policy> {
    const next = await this.s.policy.set(changes);
    this.record(actor, 'policy_changed', {}, { ...changes });
    return next;
  }

  queryAudit(q: AuditQuery) {
    return this.s.audit.query(q);
  }
}
