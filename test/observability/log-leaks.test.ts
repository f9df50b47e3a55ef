// The secret-leak check of the whole test run (test/support/leak-hooks.ts, a mocha root hook) is
// itself tested here: it finds each kind of secret in real log lines and ignores look-alikes, it
// really fails a mocha run whose server logged a secret (and passes the same run without it), and
// the secrets of a real sign-in reach its list without the test naming them. The logger's own
// redaction, the first line of defence, is checked too.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createLogger } from '../../src/log.js';
import { findLeaks, readSecrets, type Secret } from '../support/secrets.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createUser, registerClient } from '../support/oidc.js';
import { enrolTotpOnPage, finishAndExchange, startSignIn, testClock } from '../support/mfa.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Log lines from the real logger, as text. */
function logged(write: (log: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  const out = new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) });
  write(createLogger('info', out));
  return lines.join('');
}

describe('observability: no secret in the logs', function () {
  this.timeout(60_000);

  describe('the search', () => {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const totp = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const token = randomBytes(32).toString('base64url');
    const secrets: Secret[] = [
      { kind: 'password', value: password },
      { kind: 'code', value: '481516' },
      { kind: 'totp', value: totp },
      { kind: 'token', value: token },
      { kind: 'phone', value: '+1 202 555 0123' },
    ];

    it('finds a password, a code, a TOTP key, a token and a full phone number wherever a log line carries them', () => {
      const text = logged((log) => {
        log.info(`signed in with ${password}`);
        log.warn({ attempt: '481516' }, 'code refused');
        log.info({ uri: `otpauth://totp/Twofold:bob?secret=${totp}&issuer=Twofold` }, 'enrolment started');
        log.info({ header: `Bearer ${token}` }, 'introspection');
        log.info({ to: '+12025550123' }, 'sending');
      });
      const kinds = findLeaks(text, secrets).map((l) => l.kind).sort();
      expect(kinds).to.deep.equal(['code', 'password', 'phone', 'token', 'totp']);
      // The report masks what it found.
      expect(JSON.stringify(findLeaks(text, secrets))).to.not.include(password).and.not.include(token);
    });

    it('ignores look-alikes: digits inside ids and longer numbers, a masked number, console delivery lines', () => {
      const text = logged((log) => {
        log.info({ requestId: `${randomUUID().slice(0, 9)}481516-x`, at: 17644815160001, ms: 4815169 }, 'request');
        log.info({ to: '+1 ••• ••• 0123' }, 'code sent');
        log.warn({ channel: 'sms', delivery: 'console' }, 'DEVELOPMENT ONLY, sms: Your code is 481516');
      });
      expect(findLeaks(text, secrets)).to.deep.equal([]);
    });

    it('the logger redacts secret fields wherever they sit, and keeps an error code', () => {
      const text = logged((log) => {
        log.info({ password, client_secret: token, code: '481516', body: { code: '481516', code_verifier: token }, user: { phone: '+12025550123', otp: '481516' }, vonage: { apiSecret: token } }, 'x');
        log.error({ err: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } }, 'y');
      });
      expect(findLeaks(text, secrets)).to.deep.equal([]);
      expect(text).to.include('[redacted]').and.include('ECONNREFUSED');
    });
  });

  describe('the check after the run', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'twofold-leaks-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** Runs the fixture in a mocha of its own (same .mocharc.json, so the same root hook), on files of its own. */
    function runFixture(leak: boolean) {
      const log = path.join(dir, `server-${leak}.log`);
      writeFileSync(log, '');
      const secret = `fixture-${randomBytes(8).toString('hex')}`;
      const run = spawnSync(process.execPath, ['node_modules/mocha/bin/mocha.js', 'test/observability/fixtures/leak.fixture.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, TWOFOLD_LEAK_LOG: log, TWOFOLD_SECRETS_FILE: path.join(dir, `secrets-${leak}.txt`), FIXTURE_SECRET: secret, LEAK: leak ? '1' : '0' },
        timeout: 40_000,
      });
      return { status: run.status, output: `${run.stdout}\n${run.stderr}`, log: readFileSync(log, 'utf8'), secret };
    }

    it('fails a mocha run whose server logged a secret the tests used', () => {
      const run = runFixture(true);
      expect(run.log, 'the fixture logged the secret').to.include(run.secret);
      expect(run.status, run.output).to.not.equal(0);
      expect(run.output).to.include('secret leak').and.include('password');
      expect(run.output, 'the report masks the secret').to.not.include(run.secret);
    });

    it('passes the same run when the secret stayed out of the log (redacted field only)', () => {
      const run = runFixture(false);
      expect(run.log).to.include('[redacted]').and.not.include(run.secret);
      expect(run.status, run.output).to.equal(0);
    });
  });

  describe('what a real sign-in registers', () => {
    const clock = testClock();
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ now: clock.now });
    });
    after(() => server?.close());

    it('the password typed, the TOTP key shown, the code typed and the tokens issued are all on the list, without the test naming them', async () => {
      const client = await registerClient(server, { requireMfa: true });
      const user = await createUser(server, 'lena', `lena-${randomBytes(6).toString('hex')}`);
      const start = await startSignIn(client, user);
      const { secret, page } = await enrolTotpOnPage(start.agent, start.page, clock);
      const tokens = await finishAndExchange(client, start, page);
      const listed = new Set(readSecrets().map((s) => `${s.kind}:${s.value}`));
      expect(listed.has(`password:${user.password}`), 'password').to.equal(true);
      expect(listed.has(`totp:${secret}`), 'TOTP key').to.equal(true);
      expect([...listed].some((s) => /^code:\d{6}$/.test(s)), 'code').to.equal(true);
      expect(listed.has(`token:${tokens.access_token}`), 'access token').to.equal(true);
    });
  });
});
