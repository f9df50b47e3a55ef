// twofold policy show|set and keys list|rotate|remove, configuration errors, and the CLI on
// PostgreSQL, run as the built CLI.
import { expect } from 'chai';
import { allFail, cliDatabase, cliEnv, failed, json, runCli, succeeded, type AuditEvent } from './helpers.js';

describe('CLI: twofold policy and keys', function () {
  const cli = cliDatabase(this);
  const twofold = (...args: string[]) => cli.twofold(...args);

  describe('policy', () => {
    it('show prints the default policy; set changes it; show --json reads it back', async () => {
      const shown = succeeded(await twofold('policy', 'show')).stdout;
      expect(shown).to.match(/^require-mfa\s+per-client$/m);
      expect(json(await twofold('policy', 'show', '--json'))).to.include({ requireMfa: 'per-client' });
      expect(succeeded(await twofold('policy', 'set', '--require-mfa', 'all')).stdout).to.include('require-mfa all');
      expect(json(await twofold('policy', 'show', '--json'))).to.include({ requireMfa: 'all' });
      const next = json(await twofold('policy', 'set', '--require-mfa', 'per-client', '--allowed-factors', 'totp,sms', '--grace-skips', '3', '--grace-until', '2030-01-31', '--json'));
      expect(next).to.deep.equal({ requireMfa: 'per-client', allowedFactors: ['totp', 'sms'], graceSkips: 3, graceUntil: '2030-01-31T00:00:00.000Z', totp: {}, sendLimits: {} });
      // Overrides of the configured authenticator app parameters and send limits; "default" resets one.
      const tuned = json(await twofold('policy', 'set', '--totp-period', '60', '--totp-digits', '8', '--send-limit', 'perNumberHour=3', '--send-limit', 'perIpDay=50', '--json'));
      expect(tuned).to.deep.include({ totp: { period: 60, digits: 8 }, sendLimits: { perNumberHour: 3, perIpDay: 50 } });
      const reset = json(await twofold('policy', 'set', '--send-limit', 'perNumberHour=default', '--json'));
      expect(reset).to.deep.include({ sendLimits: { perIpDay: 50 } });
      failed(await twofold('policy', 'set', '--send-limit', 'perFortnight=3'), /^twofold: option '--send-limit <name=value>' argument 'perFortnight=3' is invalid/);
      expect(json(await twofold('policy', 'set', '--grace-until', 'none', '--json'))).to.include({ graceUntil: null, graceSkips: 3 });
    });

    it('refuses a bad value in one line, naming the option, and changes nothing', async () => {
      const before = json(await twofold('policy', 'show', '--json'));
      await allFail(twofold, [
        [['policy', 'set', '--require-mfa', 'sometimes'], /^twofold: option '--require-mfa <mode>' argument 'sometimes' is invalid\. Allowed choices are all, per-client/],
        [['policy', 'set', '--grace-skips', 'lots'], /^twofold: option '--grace-skips <n>' argument 'lots' is invalid/],
        [['policy', 'set', '--grace-skips', '1000'], /^twofold: .*100/],
        [['policy', 'set', '--allowed-factors', 'totp,fax'], /^twofold: option '--allowed-factors <types>' argument 'totp,fax' is invalid/],
        [['policy', 'set', '--grace-until', 'someday'], /^twofold: option '--grace-until <date>' argument 'someday' is invalid/],
      ]);
      expect(json(await twofold('policy', 'show', '--json'))).to.deep.equal(before);
    });
  });


  describe('keys', () => {
    it('list, rotate (the old pair retires), and remove only a retired key', async () => {
      const initial = json<unknown[]>(await twofold('keys', 'list', '--json'));
      succeeded(await twofold('keys', 'rotate'));
      const first = json<Array<{ kid: string; alg: string; state: string }>>(await twofold('keys', 'list', '--json')).slice(0, 2);
      expect(first.map((k) => k.alg).sort()).to.deep.equal(['ES256', 'RS256']);
      expect(first.map((k) => k.state)).to.deep.equal(['signing', 'signing']);

      const rotated = succeeded(await twofold('keys', 'rotate')).stdout;
      const listed = json<Array<{ kid: string; state: string }>>(await twofold('keys', 'list', '--json'));
      expect(listed).to.have.length(initial.length + 4);
      const signing = listed.filter((k) => k.state === 'signing').map((k) => k.kid);
      expect(signing).to.have.length(2);
      for (const kid of signing) expect(rotated).to.include(kid);
      for (const old of first) expect(listed.find((k) => k.kid === old.kid)!.state).to.match(/^retired /);

      const table = succeeded(await twofold('keys', 'list')).stdout;
      expect(table.split('\n')[0]).to.match(/^KID\s+ALG\s+STATE/);

      failed(await twofold('keys', 'remove', signing[0]!), /^twofold: key .* still signs/);
      // A kid is base64url: one that starts with "-" is still a kid, not an option.
      failed(await twofold('keys', 'remove', '-Q8CYL5wvOOJFArceT9RthyXJxZInTVp52VKQGPEo4I'), /^twofold: no key "-Q8CYL5wv/);
      expect(succeeded(await twofold('keys', 'remove', first[0]!.kid)).stdout).to.include(`Removed key ${first[0]!.kid}`);
      failed(await twofold('keys', 'remove', first[0]!.kid), /^twofold: no key /);
      expect(json<unknown[]>(await twofold('keys', 'list', '--json'))).to.have.length(initial.length + 3);
    });
  });

  describe('audit', () => {
    it('each policy change is in the audit trail, with what changed', async () => {
      const events = json<Array<AuditEvent & { details: Record<string, unknown> | null }>>(await twofold('audit', '--type', 'admin.policy_changed', '--json'));
      expect(events.length).to.equal(5);
      expect(events.every((e) => e.reason === 'cli')).to.equal(true);
      expect(events.map((e) => e.details)).to.deep.include({ requireMfa: 'all' });
      expect(events.map((e) => e.details)).to.deep.include({ totp: { period: 60, digits: 8 }, sendLimits: { perNumberHour: 3, perIpDay: 50 } });
    });
  });

  describe('configuration errors', () => {
    it('a bad DATABASE_URL or an unreachable database fails in one line', async () => {
      failed(await runCli({ ...cliEnv(cli.db), DATABASE_URL: 'mysql://localhost/x' }, ['client', 'list']), /^twofold: DATABASE_URL must start with sqlite: or postgres:\/\//);
      failed(await runCli({ ...cliEnv(cli.db), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' }, ['client', 'list']), /^twofold: .*(database|ECONNREFUSED)/i);
      failed(await runCli({ ...cliEnv(cli.db), TWOFOLD_SECRET: 'too short' }, ['client', 'list']), /^twofold: .*TWOFOLD_SECRET must be at least 32 characters/);
    });

    it('NODE_ENV=production refuses the development defaults, in one line naming each fix', async () => {
      const { TWOFOLD_SECRET: _secret, ...withoutSecret } = cliEnv(cli.db);
      const refused = await runCli({ ...withoutSecret, NODE_ENV: 'production' }, ['client', 'list']);
      failed(refused, /^twofold: refusing to start with NODE_ENV=production: /);
      for (const fix of ['TWOFOLD_SECRET is required', 'REDIS_URL is required', 'VONAGE_API_KEY', 'VONAGE_APPLICATION_ID', 'ISSUER must be an https:// URL']) {
        expect(refused.stderr, fix).to.include(fix);
      }
      // Each refusal goes away with its fix: here every one but the https issuer.
      const almost = await runCli({ ...cliEnv(cli.db), NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:6379', TWOFOLD_FACTORS: 'totp' }, ['client', 'list']);
      failed(almost, /^twofold: refusing to start with NODE_ENV=production: ISSUER must be an https:\/\/ URL$/);
    });
  });
});

describe('CLI on PostgreSQL', function () {
  const cli = cliDatabase(this, 'postgres');

  it('registers a client and a user in PostgreSQL named by DATABASE_URL', async () => {
    const env = cliEnv(cli.db);
    succeeded(await runCli(env, ['client', 'add', 'crm', '--redirect-uri', 'https://crm.example.com/cb']));
    succeeded(await runCli(env, ['user', 'add', 'Alice', '--password-stdin'], 'correct horse battery\n'));
    failed(await runCli(env, ['user', 'add', 'alice', '--password', 'correct horse battery']), /^twofold: a user named "alice" already exists$/);
    expect(JSON.parse(succeeded(await runCli(env, ['client', 'list', '--json'])).stdout).map((c: { client_id: string }) => c.client_id)).to.deep.equal(['crm']);
    expect(JSON.parse(succeeded(await runCli(env, ['user', 'show', 'alice', '--json'])).stdout)).to.include({ username: 'Alice' });
  });
});
