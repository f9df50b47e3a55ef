// The audit trail, action by action: each security event is written exactly once, with its time,
// account, client, IP, user agent, outcome and reason; no password, code, TOTP secret, phone
// number, client secret or token reaches any column; and `twofold audit` reads the rows back.
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Agent, textOf } from '../support/agent.js';
import { createUser, exchange, passwordSignIn, registerClient, type TestClient } from '../support/oidc.js';
import { enrolTotpOnPage, failureState, finishAndExchange, nextCode, startSignIn, submitChallenge, wrongCode } from '../support/mfa.js';
import type { AuditEventRow } from '../../src/db/schema.js';
import { ACCOUNT_CLIENT_ID } from '../../src/account/client.js';
import { ADMIN_PREFIX } from '../../src/admin/routes.js';
import { keys } from '../../src/store/session-store.js';
import { E164, NUMBER } from '../phone/helpers.js';
import { CLI, runCli } from '../cli/helpers.js';
import { accountUrl, codesOn, factorId, openAccount, startAccountRig, stepUp, type AccountRig, type AccountUser } from '../account/helpers.js';

const UA = 'AuditTest/1.0 (a browser of the audit tests)';
const IP = /^(::ffff:)?127\.0\.0\.1$/;

describe('audit trail', function () {
  this.timeout(60_000);
  let rig: AccountRig;
  let plain: TestClient;
  const started = Date.now();
  /** Everything secret the tests typed or were given, to look for in every row. */
  const secrets = new Set<string>();
  /** One-time codes (6 digits): looked for in every column that is not an id or a time. */
  const codes = new Set<string>();

  const browser = () => new Agent({ 'user-agent': UA });

  async function rows(): Promise<AuditEventRow[]> {
    await rig.server.services.events.settle();
    return rig.server.services.db.kysely.selectFrom('audit_events').selectAll().orderBy('at').execute();
  }

  /** The rows an action wrote. */
  async function during(action: () => Promise<unknown>): Promise<AuditEventRow[]> {
    const before = new Set((await rows()).map((r) => r.id));
    await action();
    return (await rows()).filter((r) => !before.has(r.id));
  }

  const count = (written: AuditEventRow[]) => written.reduce<Record<string, number>>((n, r) => ({ ...n, [r.type]: (n[r.type] ?? 0) + 1 }), {});

  /** The one row of this type, checked for who, where, when and how it ended. */
  function one(written: AuditEventRow[], type: string, expected: { accountId: string | null; clientId: string | null; outcome: string; reason?: string | null; ip?: RegExp | null; userAgent?: string | null }): AuditEventRow {
    const matching = written.filter((r) => r.type === type);
    expect(matching, `${type} once among ${JSON.stringify(count(written))}`).to.have.length(1);
    const row = matching[0]!;
    expect(row.at, `${type}.at`).to.be.within(started, Date.now());
    expect(row.account_id, `${type}.account_id`).to.equal(expected.accountId);
    expect(row.client_id, `${type}.client_id`).to.equal(expected.clientId);
    expect(row.outcome, `${type}.outcome`).to.equal(expected.outcome);
    if (expected.reason !== undefined) expect(row.reason, `${type}.reason`).to.equal(expected.reason);
    if (expected.ip === null) expect(row.ip, `${type}.ip`).to.equal(null);
    else expect(row.ip, `${type}.ip`).to.match(expected.ip ?? IP);
    expect(row.user_agent, `${type}.user_agent`).to.equal(expected.userAgent === undefined ? UA : expected.userAgent);
    return row;
  }

  before(async () => {
    rig = await startAccountRig();
    plain = await registerClient(rig.server);
  });
  after(() => rig?.close());

  it('sign-in succeeded and failed: one event each, with time, account, client, IP, user agent, outcome and reason', async () => {
    const user = await createUser(rig.server, 'audit-pwd');
    secrets.add(user.password);
    let written = await during(() => passwordSignIn(rig.server, plain, user, {}, browser()));
    one(written, 'signin.password_verified', { accountId: user.account.id, clientId: plain.clientId, outcome: 'success' });
    const ok = one(written, 'signin.succeeded', { accountId: user.account.id, clientId: plain.clientId, outcome: 'success' });
    expect(ok.username).to.equal('audit-pwd');
    expect(JSON.parse(ok.details!)).to.deep.include({ acr: 'pwd' });
    expect(written).to.have.length(2);

    written = await during(async () => {
      const start = await startSignIn(plain, { username: user.username, password: 'not the password' }, {}, browser());
      expect(start.page.status).to.equal(401);
    });
    secrets.add('not the password');
    const failed = one(written, 'signin.failed', { accountId: user.account.id, clientId: plain.clientId, outcome: 'failure', reason: 'invalid_credentials' });
    expect(failed.username).to.equal('audit-pwd');
    expect(written).to.have.length(1);

    written = await during(() => startSignIn(plain, { username: 'nobody-at-all', password: 'whatever it is' }, {}, browser()));
    secrets.add('whatever it is');
    expect(one(written, 'signin.failed', { accountId: null, clientId: plain.clientId, outcome: 'failure', reason: 'invalid_credentials' }).username).to.equal('nobody-at-all');
  });

  let appUser: AccountUser;

  it('second factor: enrolment, verified, failed and the lockout, each once per action', async () => {
    const user = await createUser(rig.server, 'audit-mfa', undefined, { email: 'audit-mfa@example.com' });
    secrets.add(user.password);
    const agent = browser();
    let secret = '';
    let recoveryCodes: string[] = [];
    let written = await during(async () => {
      const start = await startSignIn(rig.client, user, {}, agent);
      const enrolled = await enrolTotpOnPage(agent, start.page, rig.clock);
      secret = enrolled.secret;
      recoveryCodes = codesOn(enrolled.page);
      await finishAndExchange(rig.client, start, enrolled.page);
    });
    secrets.add(secret);
    recoveryCodes.forEach((c) => secrets.add(c));
    rig.clock.advance(30);
    expect(JSON.parse(one(written, 'factor.enrolled', { accountId: user.account.id, clientId: rig.client.clientId, outcome: 'success' }).details!)).to.deep.equal({ factor: 'totp' });
    one(written, 'signin.succeeded', { accountId: user.account.id, clientId: rig.client.clientId, outcome: 'success' });
    appUser = { username: user.username, password: user.password, accountId: user.account.id, secret, recoveryCodes, agent };

    written = await during(async () => {
      const start = await startSignIn(rig.client, user, {}, browser());
      const code = await nextCode(secret, rig.clock);
      codes.add(code);
      const done = await submitChallenge(start.agent, start.page, code);
      await exchange(rig.client, start.auth, done.redirectedTo!);
    });
    expect(JSON.parse(one(written, 'mfa.verified', { accountId: user.account.id, clientId: rig.client.clientId, outcome: 'success', reason: null }).details!)).to.deep.equal({ factor: 'totp' });
    one(written, 'signin.succeeded', { accountId: user.account.id, clientId: rig.client.clientId, outcome: 'success' });

    written = await during(async () => {
      const start = await startSignIn(rig.client, user, {}, browser());
      const code = await wrongCode(secret, rig.clock);
      codes.add(code);
      expect((await submitChallenge(start.agent, start.page, code)).status).to.equal(400);
    });
    one(written, 'mfa.failed', { accountId: user.account.id, clientId: rig.client.clientId, outcome: 'failure', reason: 'invalid' });
    expect(count(written)).to.not.have.property('signin.succeeded');

    // The lockout: the wrong codes before it are failures, the one that locks is the lockout.
    const { lockoutThreshold, challengeMaxFailures } = rig.server.config.mfa;
    const prior = (await failureState(rig.server, user.account.id)).accountFailures;
    written = await during(async () => {
      for (let sent = prior; sent < lockoutThreshold; ) {
        const start = await startSignIn(rig.client, user, {}, browser());
        let page = start.page;
        for (let i = 0; i < challengeMaxFailures && sent < lockoutThreshold; i++, sent++) {
          const code = await wrongCode(secret, rig.clock);
          codes.add(code);
          page = await submitChallenge(start.agent, page, code);
        }
      }
    });
    expect(count(written)).to.deep.include({ 'mfa.failed': lockoutThreshold - prior - 1, 'mfa.locked': 1 });
    one(written, 'mfa.locked', { accountId: user.account.id, clientId: rig.client.clientId, outcome: 'failure', reason: 'locked' });
    const k = keys.account(user.account.id);
    await rig.server.services.store.delete(k.failures, k.lock, k.lockouts);
  });

  it('recovery code used, factor added and removed, password changed: once each', async () => {
    const user = appUser;
    let written = await during(async () => {
      const agent = browser();
      const start = await startSignIn(rig.client, user, {}, agent);
      const screen = await agent.submit(start.page, '/methods/choose', {}, { button: 'Use a recovery code' });
      const done = await submitChallenge(agent, screen, user.recoveryCodes[0]!);
      expect(done.redirectedTo, textOf(done)).to.be.a('string');
    });
    const used = one(written, 'recovery.used', { accountId: user.accountId, clientId: rig.client.clientId, outcome: 'success' });
    expect(JSON.parse(used.details!)).to.deep.include({ remaining: 9 });
    expect(JSON.parse(one(written, 'mfa.verified', { accountId: user.accountId, clientId: rig.client.clientId, outcome: 'success' }).details!)).to.deep.equal({ factor: 'recovery' });

    // The account page, in a browser with the same user agent.
    const agent = browser();
    await openAccount(rig, user, agent);
    let page = await stepUp(rig, user, agent);
    written = await during(async () => {
      page = await agent.submit(page, '/account/enrol', { method: 'sms' }, { button: 'Text message (SMS)' });
      page = await agent.submit(page, '/enrol/action', { phone: NUMBER });
      const code = rig.vonage.lastSmsCode();
      codes.add(code);
      page = await agent.submit(page, '/enrol/verify', { code });
      expect(textOf(page)).to.include('is set up');
    });
    expect(JSON.parse(one(written, 'factor.enrolled', { accountId: user.accountId, clientId: ACCOUNT_CLIENT_ID, outcome: 'success', reason: 'account_page' }).details!)).to.deep.equal({ factor: 'sms' });
    one(written, 'code.sent', { accountId: user.accountId, clientId: null, outcome: 'success' });

    const totp = await factorId(rig, user.accountId, 'totp');
    written = await during(async () => {
      page = await agent.submit(page, `/factors/${totp}/remove`, {}, { button: 'Remove Authenticator app' });
      expect(textOf(page)).to.include('Removed.');
    });
    expect(JSON.parse(one(written, 'factor.removed', { accountId: user.accountId, clientId: ACCOUNT_CLIENT_ID, outcome: 'success', reason: 'account_page' }).details!)).to.deep.equal({ factor: 'totp' });
    expect(written).to.have.length(1);

    written = await during(async () => {
      page = await agent.submit(page, '/account/password', { current: 'a wrong current one', password: 'audit new password', confirm: 'audit new password' });
    });
    secrets.add('a wrong current one');
    one(written, 'password.change_failed', { accountId: user.accountId, clientId: ACCOUNT_CLIENT_ID, outcome: 'failure', reason: 'invalid_password' });
    written = await during(async () => {
      page = await agent.submit(page, '/account/password', { current: user.password, password: 'audit new password', confirm: 'audit new password' });
      expect(textOf(page)).to.include('Your password is changed');
    });
    secrets.add('audit new password');
    one(written, 'password.changed', { accountId: user.accountId, clientId: ACCOUNT_CLIENT_ID, outcome: 'success', reason: 'account_page' });
    expect(written).to.have.length(1);
  });

  it('admin actions: each once, saying which admin client made it and from where', async () => {
    const admin = await registerClient(rig.server, { grantTypes: ['client_credentials'], admin: true, redirectUris: [] });
    secrets.add(admin.secret!);
    const { access_token } = await oidc.clientCredentialsGrant(admin.rp, { scope: 'admin' });
    secrets.add(access_token);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${rig.server.issuer}${ADMIN_PREFIX}${path}`, { method, headers: { authorization: `Bearer ${access_token}`, 'user-agent': UA, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      expect(res.status, `${method} ${path}`).to.be.below(300);
      return res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>);
    };
    const reason = `api:${admin.clientId}`;
    const actions: Array<[string, string, unknown, string, { accountId?: boolean; clientId?: string }]> = [
      ['POST', '/clients', { client_id: 'audited-app', redirect_uris: ['https://app.example.com/cb'] }, 'admin.client_added', { clientId: 'audited-app' }],
      ['PATCH', '/clients/audited-app', { require_mfa: true }, 'admin.client_updated', { clientId: 'audited-app' }],
      ['POST', '/clients/audited-app/rotate-secret', undefined, 'admin.client_secret_rotated', { clientId: 'audited-app' }],
      ['DELETE', '/clients/audited-app', undefined, 'admin.client_removed', { clientId: 'audited-app' }],
      ['POST', '/users', { username: 'audited-user', password: 'audited user password' }, 'admin.user_added', { accountId: true }],
      ['PATCH', '/users/audited-user', { role: 'salesperson' }, 'admin.user_updated', { accountId: true }],
      ['POST', '/users/audited-user/disable', undefined, 'admin.user_disabled', { accountId: true }],
      ['POST', '/users/audited-user/enable', undefined, 'admin.user_enabled', { accountId: true }],
      ['POST', '/users/audited-user/password', { password: 'audited user password 2' }, 'password.changed', { accountId: true }],
      ['POST', '/users/audit-mfa/reset-mfa', undefined, 'factor.reset', { accountId: true }],
      ['POST', '/users/audited-user/unlock', undefined, 'admin.user_unlocked', { accountId: true }],
      ['PATCH', '/policy', { grace_skips: 1 }, 'admin.policy_changed', {}],
      ['DELETE', '/users/audited-user', undefined, 'admin.user_removed', { accountId: true }],
    ];
    secrets.add('audited user password').add('audited user password 2');
    const auditedUser = { id: '' };
    for (const [method, path, body, type, target] of actions) {
      const written = await during(async () => {
        const answer = await call(method, path, body);
        if (type === 'admin.client_added' || type === 'admin.client_secret_rotated') secrets.add(String(answer!.client_secret));
        if (type === 'admin.user_added') auditedUser.id = String(answer!.id);
      });
      const accountId = target.accountId ? (path.includes('audit-mfa') ? appUser.accountId : auditedUser.id) : null;
      one(written, type, { accountId, clientId: target.clientId ?? null, outcome: 'success', reason, userAgent: UA });
      expect(written, `${method} ${path}: ${JSON.stringify(count(written))}`).to.have.length(1);
    }
  });

  it('no password, code, secret, phone number or token in any column of any row', async () => {
    const all = await rows();
    expect(all.length).to.be.greaterThan(30);
    expect(secrets.size).to.be.greaterThan(10);
    expect(codes.size).to.be.at.least(3);
    for (const row of all) {
      const everything = JSON.stringify(row).toLowerCase();
      for (const secret of secrets) expect(everything, `${row.type} holds a secret`).to.not.include(secret.toLowerCase());
      for (const code of appUser.recoveryCodes) expect(everything).to.not.include(code.replace(/-/g, ''));
      expect(everything).to.not.include(E164.slice(1));
      expect(everything).to.not.include('202 555 0123');
      // Six-digit codes could turn up by chance inside a random id or a millisecond time, so
      // those columns are left out of this one check.
      const { id: _id, account_id: _account, at: _at, ...rest } = row;
      const text = JSON.stringify(rest);
      for (const code of codes) expect(text, `${row.type} holds a code`).to.not.include(code);
    }
  });

  it('twofold audit --user u --since 1h --json reads them (the built CLI, as an operator runs it)', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
    await rig.server.services.events.settle();
    const { config } = rig.server;
    const env = { PATH: process.env.PATH, HOME: config.dataDir, DATABASE_URL: config.databaseUrl, TWOFOLD_SECRET: config.secret!, TWOFOLD_DATA_DIR: config.dataDir };
    const run = (...args: string[]) => runCli(env, args);
    const json = await run('audit', '--user', 'audit-mfa', '--since', '1h', '--json');
    expect(json.code, json.stderr).to.equal(0);
    const events = JSON.parse(json.stdout) as Array<{ type: string; username: string; at: string; ip: string; user_agent: string; outcome: string }>;
    const stored = (await rows()).filter((r) => r.username === 'audit-mfa');
    expect(events).to.have.length(stored.length);
    expect(events.every((e) => e.username === 'audit-mfa')).to.equal(true);
    expect(events.map((e) => e.type)).to.include.members(['factor.enrolled', 'mfa.verified', 'mfa.failed', 'mfa.locked', 'recovery.used', 'factor.removed', 'password.changed', 'factor.reset']);
    expect(events.map((e) => Date.parse(e.at))).to.deep.equal(events.map((e) => Date.parse(e.at)).sort((a, b) => b - a));
    expect(events.find((e) => e.type === 'mfa.failed')).to.deep.include({ outcome: 'failure', user_agent: UA });

    const none = await run('audit', '--user', 'audit-mfa', '--since', '2099-01-01T00:00:00Z', '--json');
    expect(JSON.parse(none.stdout)).to.deep.equal([]);
    const table = await run('audit', '--user', 'audit-pwd', '--since', '1h');
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout.split('\n')[0]).to.match(/^AT\s+TYPE\s+OUTCOME\s+USERNAME/);
    expect(table.stdout).to.include('signin.failed').and.include('invalid_credentials');
    const bad = await run('audit', '--since', 'last week');
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
  });
});
