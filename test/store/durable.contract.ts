// The durable store contract: what the repositories must do on every database Twofold supports,
// as mocha tests. durable.test.ts runs it against SQLite and PostgreSQL.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Db } from '../../src/db/database.js';
import { AccountRepo, type Account } from '../../src/db/repos/accounts.js';
import { ClientRepo } from '../../src/db/repos/clients.js';
import { FactorRepo, newFactorId } from '../../src/db/repos/factors.js';
import { SettingsRepo } from '../../src/db/repos/settings.js';
import { SigningKeyRepo } from '../../src/db/repos/signing-keys.js';
import { RecoveryCodeRepo } from '../../src/db/repos/recovery-codes.js';
import { AuditRepo } from '../../src/db/repos/audit.js';
import { Conflict } from '../../src/errors.js';

export interface OpenedDb {
  db: Db;
  /** Closes the database and removes it. */
  dispose(): Promise<void>;
}

const tag = () => randomBytes(4).toString('hex');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejects(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to be rejected');
}

/** `open` gives a fresh, migrated database; the suite uses one per top-level block. */
export function durableStoreContract(open: () => Promise<OpenedDb>): void {
  let opened: OpenedDb;
  before(async () => {
    opened = await open();
  });
  after(async () => {
    await opened?.dispose();
  });

  describe('AccountRepo', () => {
    let accounts: AccountRepo;
    before(() => {
      accounts = new AccountRepo(opened.db.kysely);
    });

    it('creates an account and finds it by id and by username in any case', async () => {
      const username = `Alice-${tag()}`;
      const created = await accounts.create({ username, email: 'alice@example.com', emailVerified: true, name: 'Alice A', role: 'salesperson', locale: 'de-CH', passwordHash: '$argon2id$fake' });
      expect(created).to.include({ username, email: 'alice@example.com', emailVerified: true, name: 'Alice A', role: 'salesperson', locale: 'de-CH', disabled: false, passwordHash: '$argon2id$fake' });
      expect(created.id).to.be.a('string').with.length.greaterThan(10);
      expect(created.passwordChangedAt).to.be.a('number');
      expect(await accounts.findById(created.id)).to.deep.equal(created);
      expect(await accounts.findByUsername(username.toUpperCase())).to.deep.equal(created);
      expect(await accounts.findByUsername(username.toLowerCase())).to.deep.equal(created);
      expect(await accounts.findById('no-such-id')).to.equal(undefined);
      expect(await accounts.findByUsername(`nobody-${tag()}`)).to.equal(undefined);
    });

    it('an account without optional fields stores nulls and no password time', async () => {
      const created = await accounts.create({ username: `bare-${tag()}` });
      expect(created).to.include({ email: null, emailVerified: false, name: null, role: null, locale: null, passwordHash: null, passwordChangedAt: null });
      expect(await accounts.findById(created.id)).to.deep.equal(created);
    });

    it('usernames are unique without regard to case: a second "ALICE" is a Conflict', async () => {
      const username = `carol-${tag()}`;
      await accounts.create({ username });
      const err = await rejects(accounts.create({ username: username.toUpperCase() }));
      expect(err).to.be.instanceOf(Conflict);
      expect(err.message).to.include('already exists');
    });

    it('usernames that differ only in Unicode compatibility form are the same (NFKC)', async () => {
      const suffix = tag();
      await accounts.create({ username: `dave${suffix}` });
      // U+FF44 FULLWIDTH LATIN SMALL LETTER D
      expect(await rejects(accounts.create({ username: `\uFF44ave${suffix}` }))).to.be.instanceOf(Conflict);
    });

    it('lists with a total, ordered by username, with paging and a search over username and email', async () => {
      const group = `grp${tag()}`;
      for (const name of ['delta', 'alpha', 'Charlie', 'bravo', 'echo']) {
        await accounts.create({ username: `${group}-${name}`, email: `${name}@example.com` });
      }
      // Found by its email only; "other-" sorts after "grp".
      const other = `other-${tag()}`;
      await accounts.create({ username: other, email: `${group}-mail@EXAMPLE.com` });
      const all = await accounts.list({ search: group });
      expect(all.total).to.equal(6);
      expect(all.items.map((a) => a.username)).to.deep.equal([`${group}-alpha`, `${group}-bravo`, `${group}-Charlie`, `${group}-delta`, `${group}-echo`, other]);

      const page = await accounts.list({ search: group, limit: 2, offset: 2 });
      expect(page.total).to.equal(6);
      expect(page.items.map((a) => a.username)).to.deep.equal([`${group}-Charlie`, `${group}-delta`]);

      expect((await accounts.list({ search: `${group}-CHAR` })).items.map((a) => a.username)).to.deep.equal([`${group}-Charlie`]);
      expect((await accounts.list({ search: `${group}-MAIL@example` })).total).to.equal(1);
      expect((await accounts.list({ search: `nothing-${tag()}` })).total).to.equal(0);
      expect((await accounts.list()).total).to.be.greaterThanOrEqual(6);
    });

    it('search treats % and _ as plain characters', async () => {
      const group = tag();
      await accounts.create({ username: `u${group}_x` });
      await accounts.create({ username: `u${group}ax` });
      await accounts.create({ username: `u${group}x` });
      expect((await accounts.list({ search: `u${group}_x` })).items.map((a) => a.username)).to.deep.equal([`u${group}_x`]);
      expect((await accounts.list({ search: `u${group}%x` })).total).to.equal(0);
    });

    it('update changes only the fields given and bumps updatedAt', async () => {
      const created = await accounts.create({ username: `erin-${tag()}`, email: 'erin@example.com', name: 'Erin' });
      await pause(5);
      const updated = (await accounts.update(created.id, { name: 'Erin E', disabled: true, role: 'administrator', passwordHash: 'h2', passwordChangedAt: 42 }))!;
      expect(updated).to.include({ username: created.username, email: 'erin@example.com', name: 'Erin E', disabled: true, role: 'administrator', passwordHash: 'h2', passwordChangedAt: 42 });
      expect(updated.updatedAt).to.be.greaterThan(created.updatedAt);
      expect(updated.createdAt).to.equal(created.createdAt);
      const cleared = (await accounts.update(created.id, { email: null, disabled: false }))!;
      expect(cleared).to.include({ email: null, disabled: false, name: 'Erin E' });
      expect(await accounts.update('no-such-id', { name: 'x' })).to.equal(undefined);
    });

    it('renaming keeps names unique without regard to case', async () => {
      const taken = `frank-${tag()}`;
      await accounts.create({ username: taken });
      const other = await accounts.create({ username: `gina-${tag()}` });
      expect(await rejects(accounts.update(other.id, { username: taken.toUpperCase() }))).to.be.instanceOf(Conflict);
      const renamed = `Gina-New-${tag()}`;
      await accounts.update(other.id, { username: renamed });
      expect((await accounts.findByUsername(renamed.toLowerCase()))!.id).to.equal(other.id);
    });

    it('remove deletes the account once', async () => {
      const created = await accounts.create({ username: `hank-${tag()}` });
      expect(await accounts.remove(created.id)).to.equal(true);
      expect(await accounts.findById(created.id)).to.equal(undefined);
      expect(await accounts.remove(created.id)).to.equal(false);
      // The name is free again.
      await accounts.create({ username: created.username });
    });
  });

  describe('ClientRepo', () => {
    let clients: ClientRepo;
    before(() => {
      clients = new ClientRepo(opened.db.kysely);
    });

    it('creates, finds, lists, updates and removes a client, metadata and sealed secret intact', async () => {
      const clientId = `crm-${tag()}`;
      const metadata = { client_id: clientId, redirect_uris: ['https://crm.example.com/cb'], grant_types: ['authorization_code'], require_mfa: true, post_logout_redirect_uris: [] };
      const created = await clients.create(clientId, metadata, 'sealed-secret');
      expect(created).to.include({ clientId, secretSealed: 'sealed-secret' });
      expect(created.metadata).to.deep.equal(metadata);
      expect(await clients.find(clientId)).to.deep.equal(created);
      expect(await clients.find(`none-${tag()}`)).to.equal(undefined);

      await pause(5);
      const updated = (await clients.update(clientId, { ...metadata, require_mfa: false }, null))!;
      expect(updated.metadata.require_mfa).to.equal(false);
      expect(updated.secretSealed).to.equal(null);
      expect(updated.updatedAt).to.be.greaterThan(created.updatedAt);
      expect(updated.createdAt).to.equal(created.createdAt);
      expect(await clients.update(`none-${tag()}`, {}, null)).to.equal(undefined);

      expect(await clients.remove(clientId)).to.equal(true);
      expect(await clients.find(clientId)).to.equal(undefined);
      expect(await clients.remove(clientId)).to.equal(false);
    });

    it('a second client with the same id is a Conflict', async () => {
      const clientId = `dup-${tag()}`;
      await clients.create(clientId, { client_id: clientId }, null);
      const err = await rejects(clients.create(clientId, { client_id: clientId }, null));
      expect(err).to.be.instanceOf(Conflict);
      expect(err.message).to.include(clientId);
    });

    it('lists clients ordered by id', async () => {
      const group = `list-${tag()}`;
      for (const suffix of ['b', 'c', 'a']) await clients.create(`${group}-${suffix}`, { client_id: `${group}-${suffix}` }, null);
      const ids = (await clients.list()).map((c) => c.clientId).filter((id) => id.startsWith(group));
      expect(ids).to.deep.equal([`${group}-a`, `${group}-b`, `${group}-c`]);
    });
  });

  describe('SettingsRepo', () => {
    let settings: SettingsRepo;
    before(() => {
      settings = new SettingsRepo(opened.db.kysely);
    });

    it('gets what was set, as JSON, and undefined for a missing key; set overwrites', async () => {
      const key = `k-${tag()}`;
      expect(await settings.get(key)).to.equal(undefined);
      await settings.set(key, { requireMfa: 'all', list: ['totp'], n: 3, off: false });
      expect(await settings.get(key)).to.deep.equal({ requireMfa: 'all', list: ['totp'], n: 3, off: false });
      await settings.set(key, 'per-client');
      expect(await settings.get(key)).to.equal('per-client');
    });

    it('claim succeeds for exactly one caller, also when many claim at once', async () => {
      const key = `claim-${tag()}`;
      expect(await settings.claim(key)).to.equal(true);
      expect(await settings.claim(key)).to.equal(false);
      const racing = `race-${tag()}`;
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => settings.claim(racing)));
      expect(outcomes.filter(Boolean)).to.have.length(1);
    });
  });

  describe('SigningKeyRepo', () => {
    let signingKeys: SigningKeyRepo;
    before(() => {
      signingKeys = new SigningKeyRepo(opened.db.kysely);
    });

    it('adds keys, lists newest first, retires and removes them', async () => {
      const old = [
        { kid: `rs-${tag()}`, alg: 'RS256', jwk_sealed: 'sealed-1', created_at: 1_000 },
        { kid: `es-${tag()}`, alg: 'ES256', jwk_sealed: 'sealed-2', created_at: 1_000 },
      ];
      const fresh = [{ kid: `rs-${tag()}`, alg: 'RS256', jwk_sealed: 'sealed-3', created_at: 2_000 }];
      await signingKeys.add(old);
      await signingKeys.add(fresh);
      await signingKeys.retire(old.map((k) => k.kid), 1_500);
      await signingKeys.retire([]);
      const listed = await signingKeys.list();
      expect(listed.map((k) => k.kid)).to.deep.equal([fresh[0]!.kid, ...old.map((k) => k.kid).sort()]);
      expect(listed[0]).to.deep.equal({ ...fresh[0], retired_at: null });
      expect(listed.slice(1).map((k) => k.retired_at)).to.deep.equal([1_500, 1_500]);
      expect(await signingKeys.remove(old[0]!.kid)).to.equal(true);
      expect(await signingKeys.remove(old[0]!.kid)).to.equal(false);
      expect((await signingKeys.list()).map((k) => k.kid)).to.not.include(old[0]!.kid);
    });
  });

  describe('FactorRepo', () => {
    let accounts: AccountRepo;
    let factors: FactorRepo;
    let account: Account;
    before(() => {
      accounts = new AccountRepo(opened.db.kysely);
      factors = new FactorRepo(opened.db.kysely);
    });
    beforeEach(async () => {
      account = await accounts.create({ username: `factor-${tag()}` });
    });

    /** Adds a factor a few milliseconds after the previous one, so "oldest" is well defined. */
    async function add(type: string, accountId = account.id) {
      await pause(3);
      return factors.add({ id: newFactorId(), accountId, type, name: `${type} ${tag()}`, secretSealed: `sealed-${tag()}` });
    }

    it("the account's first factor becomes preferred, later ones do not; preferred is listed first", async () => {
      const first = await add('totp');
      const second = await add('sms');
      expect(first.preferred).to.equal(true);
      expect(second.preferred).to.equal(false);
      expect(await factors.find(account.id, second.id)).to.deep.equal(second);
      expect((await factors.listForAccount(account.id)).map((f) => f.id)).to.deep.equal([first.id, second.id]);
    });

    it('setPreferred moves the preference, and only within the account', async () => {
      const first = await add('totp');
      const second = await add('sms');
      const third = await add('voice');
      expect(await factors.setPreferred(account.id, third.id)).to.equal(true);
      const listed = await factors.listForAccount(account.id);
      expect(listed.map((f) => [f.id, f.preferred])).to.deep.equal([
        [third.id, true],
        [first.id, false],
        [second.id, false],
      ]);
      const stranger = await accounts.create({ username: `stranger-${tag()}` });
      expect(await factors.setPreferred(stranger.id, first.id)).to.equal(false);
      expect(await factors.setPreferred(account.id, 'no-such-factor')).to.equal(false);
      expect((await factors.listForAccount(account.id))[0]!.id).to.equal(third.id);
    });

    it('find, rename and touch work only within the account', async () => {
      const factor = await add('totp');
      const stranger = await accounts.create({ username: `stranger-${tag()}` });
      expect(await factors.find(stranger.id, factor.id)).to.equal(undefined);
      expect(await factors.rename(stranger.id, factor.id, 'hijack')).to.equal(false);
      expect(await factors.rename(account.id, factor.id, 'Work phone')).to.equal(true);
      await factors.touch(factor.id, 123_456);
      expect(await factors.find(account.id, factor.id)).to.include({ name: 'Work phone', lastUsedAt: 123_456 });
    });

    it('removing the preferred factor promotes the oldest remaining one', async () => {
      const first = await add('totp');
      const second = await add('sms');
      const third = await add('voice');
      expect(await factors.remove(account.id, first.id)).to.equal(true);
      const listed = await factors.listForAccount(account.id);
      expect(listed.map((f) => [f.id, f.preferred])).to.deep.equal([
        [second.id, true],
        [third.id, false],
      ]);
      expect(await factors.remove(account.id, first.id)).to.equal(false);
    });

    it('removing a factor that is not preferred leaves the preference alone', async () => {
      const first = await add('totp');
      const second = await add('sms');
      const third = await add('voice');
      await factors.setPreferred(account.id, third.id);
      await factors.remove(account.id, second.id);
      expect((await factors.listForAccount(account.id)).map((f) => [f.id, f.preferred])).to.deep.equal([
        [third.id, true],
        [first.id, false],
      ]);
    });

    it("remove never touches another account's factor", async () => {
      const factor = await add('totp');
      const stranger = await accounts.create({ username: `stranger-${tag()}` });
      expect(await factors.remove(stranger.id, factor.id)).to.equal(false);
      expect(await factors.find(account.id, factor.id)).to.not.equal(undefined);
    });

    it("removeAll removes every factor of the account and its recovery codes, says how many factors went, and leaves other accounts' alone", async () => {
      const codes = new RecoveryCodeRepo(opened.db.kysely);
      await add('totp');
      await add('sms');
      await codes.replace(account.id, ['d1', 'd2']);
      const stranger = await accounts.create({ username: `stranger-${tag()}` });
      const theirs = await add('totp', stranger.id);
      await codes.replace(stranger.id, ['s1']);
      expect(await factors.removeAll(account.id)).to.equal(2);
      expect(await factors.listForAccount(account.id)).to.deep.equal([]);
      expect(await codes.remaining(account.id)).to.equal(0);
      expect(await factors.removeAll(account.id)).to.equal(0);
      expect((await add('voice')).preferred).to.equal(true);
      expect(await factors.find(stranger.id, theirs.id)).to.not.equal(undefined);
      expect(await codes.remaining(stranger.id)).to.equal(1);
    });

    it("removeWithRecovery removes the factor with the recovery row and codes, and says what went; other accounts' stay", async () => {
      const codes = new RecoveryCodeRepo(opened.db.kysely);
      const app = await add('totp');
      await add('recovery');
      await codes.replace(account.id, ['d1', 'd2']);
      const stranger = await accounts.create({ username: `stranger-${tag()}` });
      await add('recovery', stranger.id);
      await codes.replace(stranger.id, ['s1']);
      expect(await factors.removeWithRecovery(account.id, app.id, 'recovery')).to.deep.equal({ removed: true, recoveryRemoved: true });
      expect(await factors.listForAccount(account.id)).to.deep.equal([]);
      expect(await codes.remaining(account.id)).to.equal(0);
      expect(await factors.removeWithRecovery(account.id, app.id, 'recovery')).to.deep.equal({ removed: false, recoveryRemoved: false });
      expect((await factors.listForAccount(stranger.id)).map((f) => f.type)).to.deep.equal(['recovery']);
      expect(await codes.remaining(stranger.id)).to.equal(1);
    });

    it('deleting the account deletes its factors (cascade)', async () => {
      const factor = await add('totp');
      await add('sms');
      await accounts.remove(account.id);
      expect(await factors.listForAccount(account.id)).to.deep.equal([]);
      expect(await factors.find(account.id, factor.id)).to.equal(undefined);
    });

    it('a factor for an account that does not exist is refused', async () => {
      await rejects(add('totp', `ghost-${tag()}`));
    });

    it('factors added at the same time to a new account: exactly one is preferred', async () => {
      await Promise.all(['totp', 'sms', 'voice', 'totp'].map((type) => factors.add({ id: newFactorId(), accountId: account.id, type, name: type, secretSealed: 's' })));
      const listed = await factors.listForAccount(account.id);
      expect(listed).to.have.length(4);
      expect(listed.filter((f) => f.preferred)).to.have.length(1);
    });
  });

  describe('RecoveryCodeRepo', () => {
    let accounts: AccountRepo;
    let codes: RecoveryCodeRepo;
    let account: Account;
    before(() => {
      accounts = new AccountRepo(opened.db.kysely);
      codes = new RecoveryCodeRepo(opened.db.kysely);
    });
    beforeEach(async () => {
      account = await accounts.create({ username: `recovery-${tag()}` });
    });

    it('[item 31] a code is consumed once, only by its own account', async () => {
      await codes.replace(account.id, ['d1', 'd2', 'd3']);
      expect(await codes.remaining(account.id)).to.equal(3);
      const stranger = await accounts.create({ username: `stranger-${tag()}` });
      expect(await codes.consume(stranger.id, ['d1'])).to.equal(false);
      expect(await codes.consume(account.id, ['d1'])).to.equal(true);
      expect(await codes.consume(account.id, ['d1'])).to.equal(false);
      expect(await codes.consume(account.id, ['nope'])).to.equal(false);
      expect(await codes.remaining(account.id)).to.equal(2);
      // The digests of one typed code under each secret (current and earlier): any one matches.
      expect(await codes.consume(account.id, ['under-new-secret', 'd2'])).to.equal(true);
      expect(await codes.remaining(account.id)).to.equal(1);
    });

    it('[item 31] parallel uses of one code: exactly one succeeds', async () => {
      await codes.replace(account.id, ['d1']);
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => codes.consume(account.id, ['d1'])));
      expect(outcomes.filter(Boolean)).to.have.length(1);
    });

    it('a new set replaces the old one; deleting the account removes them', async () => {
      await codes.replace(account.id, ['old1', 'old2']);
      await codes.replace(account.id, ['new1']);
      expect(await codes.consume(account.id, ['old1'])).to.equal(false);
      expect(await codes.remaining(account.id)).to.equal(1);
      await accounts.remove(account.id);
      const left = await opened.db.kysely.selectFrom('recovery_codes').select('id').where('account_id', '=', account.id).execute();
      expect(left).to.deep.equal([]);
    });
  });

  describe('AuditRepo', () => {
    let audit: AuditRepo;
    const accountId = `acct-${tag()}`;
    const clientId = `client-${tag()}`;
    const base = { outcome: 'success', ip: '192.0.2.1', user_agent: 'test', reason: null, details: null };
    before(async () => {
      audit = new AuditRepo(opened.db.kysely);
      await audit.insertMany([
        { ...base, at: 1_000, type: 'signin.password', account_id: accountId, username: 'Zed', client_id: clientId },
        { ...base, at: 2_000, type: 'signin.mfa', account_id: accountId, username: 'Zed', client_id: clientId, outcome: 'failure', reason: 'invalid_code' },
        { ...base, at: 3_000, type: 'factor.added', account_id: accountId, username: 'Zed', client_id: null, details: '{"type":"totp"}' },
        { ...base, at: 4_000, type: 'signin.password', account_id: `other-${tag()}`, username: 'someone', client_id: clientId },
      ]);
      await audit.insertMany([]);
    });

    it('finds the events of an account newest first, with a total and paging', async () => {
      const all = await audit.query({ accountId });
      expect(all.total).to.equal(3);
      expect(all.items.map((e) => e.at)).to.deep.equal([3_000, 2_000, 1_000]);
      expect(all.items[1]).to.include({ type: 'signin.mfa', outcome: 'failure', reason: 'invalid_code', client_id: clientId, ip: '192.0.2.1' });
      const page = await audit.query({ accountId, limit: 1, offset: 1 });
      expect(page.total).to.equal(3);
      expect(page.items.map((e) => e.at)).to.deep.equal([2_000]);
    });

    it('filters by username in any case, client, exact type or type prefix, and time', async () => {
      expect((await audit.query({ username: 'zED' })).total).to.equal(3);
      expect((await audit.query({ clientId })).items.map((e) => e.at)).to.deep.equal([4_000, 2_000, 1_000]);
      expect((await audit.query({ accountId, type: 'signin.password' })).items.map((e) => e.at)).to.deep.equal([1_000]);
      expect((await audit.query({ accountId, type: 'signin.' })).items.map((e) => e.at)).to.deep.equal([2_000, 1_000]);
      expect((await audit.query({ accountId, since: 2_000, until: 3_000 })).items.map((e) => e.at)).to.deep.equal([2_000]);
    });
  });
}
