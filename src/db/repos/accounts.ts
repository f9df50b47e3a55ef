// Accounts in the durable store. Usernames are unique without regard to case.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { AccountRow, Database } from '../schema.js';
import { guard } from '../errors.js';
import { Precompiled } from '../precompiled.js';
import { readCache, type ReadCache } from '../read-cache.js';

export interface Account {
  id: string;
  username: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  role: string | null;
  locale: string | null;
  disabled: boolean;
  passwordHash: string | null;
  passwordChangedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewAccount {
  username: string;
  email?: string | null;
  emailVerified?: boolean;
  name?: string | null;
  role?: string | null;
  locale?: string | null;
  passwordHash?: string | null;
}

export type AccountChanges = Partial<Omit<Account, 'id' | 'createdAt' | 'updatedAt'>>;

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  username: r.username,
  email: r.email,
  emailVerified: r.email_verified === 1,
  name: r.name,
  role: r.role,
  locale: r.locale,
  disabled: r.disabled === 1,
  passwordHash: r.password_hash,
  passwordChangedAt: r.password_changed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const usernameKey = (username: string): string => username.normalize('NFKC').toLowerCase();

export class AccountRepo {
  private readonly byId: Precompiled<AccountRow>;
  private readonly byKey: Precompiled<AccountRow>;
  /** Rows by id: every sign-in step and token reads its account (src/db/read-cache.ts). */
  private readonly cache: ReadCache<AccountRow>;

  constructor(private readonly db: Kysely<Database>) {
    this.cache = readCache(db, 'accounts');
    this.byId = new Precompiled(db, (d) => d.selectFrom('accounts').selectAll().where('id', '=', '?'));
    this.byKey = new Precompiled(db, (d) => d.selectFrom('accounts').selectAll().where('username_key', '=', '?'));
  }

  async create(input: NewAccount): Promise<Account> {
    const now = Date.now();
    const row: AccountRow = {
      id: randomUUID(),
      username: input.username,
      username_key: usernameKey(input.username),
      email: input.email ?? null,
      email_verified: input.emailVerified ? 1 : 0,
      name: input.name ?? null,
      role: input.role ?? null,
      locale: input.locale ?? null,
      disabled: 0,
      password_hash: input.passwordHash ?? null,
      password_changed_at: input.passwordHash ? now : null,
      created_at: now,
      updated_at: now,
    };
    await guard(() => this.db.insertInto('accounts').values(row).execute(), `a user named "${input.username}" already exists`);
    return toAccount(row);
  }

  async findById(id: string): Promise<Account | undefined> {
    const row = await this.cache.get(id, () => guard(() => this.byId.first(id)));
    return row && toAccount(row);
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    const row = await guard(() => this.byKey.first(usernameKey(username)));
    return row && toAccount(row);
  }

  async list(options: { search?: string; limit?: number; offset?: number } = {}): Promise<{ items: Account[]; total: number }> {
    let query = this.db.selectFrom('accounts');
    if (options.search) {
      // ESCAPE is spelled out: PostgreSQL escapes with a backslash by default, SQLite has no default.
      const pattern = `%${usernameKey(options.search).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where(
        sql<boolean>`(${sql.ref('username_key')} like ${pattern} escape '\\' or lower(${sql.ref('email')}) like ${pattern} escape '\\')`,
      );
    }
    const [rows, total] = await guard(() =>
      Promise.all([
        query.selectAll().orderBy('username_key').limit(options.limit ?? 100).offset(options.offset ?? 0).execute(),
        query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      ]),
    );
    return { items: rows.map(toAccount), total: Number(total.n) };
  }

  async update(id: string, changes: AccountChanges): Promise<Account | undefined> {
    const patch: Partial<AccountRow> = { updated_at: Date.now() };
    if (changes.username !== undefined) {
      patch.username = changes.username;
      patch.username_key = usernameKey(changes.username);
    }
    if (changes.email !== undefined) patch.email = changes.email;
    if (changes.emailVerified !== undefined) patch.email_verified = changes.emailVerified ? 1 : 0;
    if (changes.name !== undefined) patch.name = changes.name;
    if (changes.role !== undefined) patch.role = changes.role;
    if (changes.locale !== undefined) patch.locale = changes.locale;
    if (changes.disabled !== undefined) patch.disabled = changes.disabled ? 1 : 0;
    if (changes.passwordHash !== undefined) patch.password_hash = changes.passwordHash;
    if (changes.passwordChangedAt !== undefined) patch.password_changed_at = changes.passwordChangedAt;
    await guard(() => this.db.updateTable('accounts').set(patch).where('id', '=', id).execute(), 'that username is taken');
    this.cache.forget(id);
    return this.findById(id);
  }

  async remove(id: string): Promise<boolean> {
    const result = await guard(() => this.db.deleteFrom('accounts').where('id', '=', id).executeTakeFirst());
    this.cache.forget(id);
    return Number(result.numDeletedRows) > 0;
  }
}
