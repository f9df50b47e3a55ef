// Everything done to accounts, for the sign-in page, the CLI and the admin API alike.
import { AccountRepo, type Account } from '../db/repos/accounts.js';
import { PasswordHasher } from './passwords.js';
import { accountFieldsSchema, newAccountSchema, passwordSchema, usernameSchema, type AccountFieldsInput } from './schemas.js';
import { parseInput } from '../validation.js';
import { NotFound } from '../errors.js';

export type PasswordCheck =
  | { ok: true; account: Account }
  | { ok: false; reason: 'invalid_credentials' | 'disabled'; account?: Account };

export class AccountService {
  constructor(
    readonly repo: AccountRepo,
    readonly hasher: PasswordHasher,
  ) {}

  async create(input: unknown): Promise<Account> {
    const data = parseInput(newAccountSchema, input);
    const passwordHash = data.password ? await this.hasher.hash(data.password) : null;
    return this.repo.create({
      username: data.username,
      email: data.email ?? null,
      name: data.name ?? null,
      role: data.role ?? null,
      locale: data.locale ?? null,
      passwordHash,
    });
  }

  /**
   * The account with this username. A name the username rules reject (NUL bytes, 10 kB, ...)
   * cannot belong to anyone, so it is not looked up: PostgreSQL would refuse a NUL outright.
   */
  private async findByUsername(username: string): Promise<Account | undefined> {
    if (!usernameSchema.safeParse(username).success) return undefined;
    return this.repo.findByUsername(username);
  }

  async get(username: string): Promise<Account> {
    const account = await this.findByUsername(username);
    if (!account) throw new NotFound(`no user named "${username}"`);
    return account;
  }

  findById(id: string): Promise<Account | undefined> {
    return this.repo.findById(id);
  }

  list(options: { search?: string; limit?: number; offset?: number } = {}) {
    return this.repo.list(options);
  }

  /** Changes the profile fields and, in the same statement, the disabled flag when given. */
  async update(username: string, input: AccountFieldsInput, flags: { disabled?: boolean } = {}): Promise<Account> {
    const account = await this.get(username);
    return (await this.repo.update(account.id, { ...parseInput(accountFieldsSchema, input), ...flags }))!;
  }

  async setPassword(username: string, password: unknown): Promise<Account> {
    const account = await this.get(username);
    return this.storePassword(account, parseInput(passwordSchema, password));
  }

  /** Hashes and saves a password that passed the password rules. */
  async storePassword(account: Account, valid: string): Promise<Account> {
    return (await this.repo.update(account.id, { passwordHash: await this.hasher.hash(valid), passwordChangedAt: Date.now() }))!;
  }

  async setDisabled(username: string, disabled: boolean): Promise<Account> {
    const account = await this.get(username);
    return (await this.repo.update(account.id, { disabled }))!;
  }

  async remove(username: string): Promise<Account> {
    const account = await this.get(username);
    await this.repo.remove(account.id);
    return account;
  }

  /**
   * Checks a username and password. An unknown user costs the same hashing work as a known one,
   * and both answer the same way, so neither timing nor wording tells whether the user exists.
   */
  async checkPassword(username: string, password: string): Promise<PasswordCheck> {
    const account = await this.findByUsername(username);
    if (!account?.passwordHash) {
      await this.hasher.verifyNothing(password);
      return { ok: false, reason: 'invalid_credentials' };
    }
    if (!(await this.hasher.verify(account.passwordHash, password))) {
      return { ok: false, reason: 'invalid_credentials', account };
    }
    if (account.disabled) return { ok: false, reason: 'disabled', account };
    if (this.hasher.needsRehash(account.passwordHash)) {
      await this.repo.update(account.id, { passwordHash: await this.hasher.hash(password) });
    }
    return { ok: true, account };
  }
}

