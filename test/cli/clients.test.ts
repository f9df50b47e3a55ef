// twofold client add|update|list|show|remove|rotate-secret and --help, run as the built CLI; a
// secret it prints is tried against a running provider.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.js';
import { relyingParty } from '../support/oidc.js';
import { SECRET, allFail, cliDatabase, failed, json, succeeded, type AuditEvent } from './helpers.js';

describe('CLI: --help and twofold client', function () {
  const cli = cliDatabase(this);
  const twofold = (...args: string[]) => cli.twofold(...args);

  describe('--help', () => {
    it('lists every command group, and each group its commands', async () => {
      const top = succeeded(await twofold('--help')).stdout;
      for (const group of ['serve', 'client', 'user', 'policy', 'keys', 'audit']) expect(top).to.match(new RegExp(`^\\s+${group}\\b`, 'm'));
      const client = succeeded(await twofold('client', '--help')).stdout;
      for (const cmd of ['add', 'update', 'list', 'show', 'remove', 'rotate-secret']) expect(client).to.match(new RegExp(`^\\s+${cmd}\\b`, 'm'));
      const user = succeeded(await twofold('user', '--help')).stdout;
      for (const cmd of ['add', 'list', 'show', 'remove', 'set-password', 'disable', 'enable', 'reset-mfa', 'unlock']) expect(user).to.match(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    });

    it('documents every option of client add and client update from the contract', async () => {
      const add = succeeded(await twofold('client', 'add', '--help')).stdout;
      for (const option of ['--redirect-uri', '--secret', '--public', '--require-mfa', '--name', '--post-logout-redirect-uri', '--consent', '--grant-type', '--scope', '--admin', '--json']) {
        expect(add).to.include(option);
      }
      expect(succeeded(await twofold('client', 'update', '--help')).stdout).to.include('--no-require-mfa');
      const userAdd = succeeded(await twofold('user', 'add', '--help')).stdout;
      for (const option of ['--password', '--password-stdin', '--email', '--name', '--role', '--locale']) expect(userAdd).to.include(option);
      expect(succeeded(await twofold('policy', 'set', '--help')).stdout).to.include('--require-mfa');
    });

    it('an unknown command, a missing argument or an unknown option fails with one line', async () => {
      await allFail(twofold, [
        [['frobnicate'], /^twofold: unknown command 'frobnicate'/],
        [['client', 'show'], /^twofold: missing required argument 'client_id'/],
        [['user', 'list', '--colour'], /^twofold: unknown option '--colour'/],
      ]);
    });
  });


  describe('client', () => {
    it('add registers a confidential client and prints its generated secret once', async () => {
      const run = succeeded(await twofold('client', 'add', 'crm', '--redirect-uri', 'https://crm.example.com/callback', '--name', 'Our CRM'));
      expect(run.stdout).to.include('Registered client "crm"');
      expect(run.stdout).to.match(/client_secret: [A-Za-z0-9_-]{43}\b/);
      const shown = json(await twofold('client', 'show', 'crm', '--json'));
      expect(shown).to.include({ client_id: 'crm', client_name: 'Our CRM', public: false, require_mfa: false, consent: false, admin: false });
      expect(shown.redirect_uris).to.deep.equal(['https://crm.example.com/callback']);
      expect(shown.grant_types).to.deep.equal(['authorization_code', 'refresh_token']);
      expect(JSON.stringify(shown)).to.not.include('secret');
    });

    it('add --json with every option, and a secret given on the command line is not echoed', async () => {
      const secret = 'a-secret-of-at-least-32-characters-long';
      const added = json(
        await twofold(
          'client', 'add', 'portal', '--json', '--secret', secret,
          '--redirect-uri', 'https://portal.example.com/a', '--redirect-uri', 'https://portal.example.com/b',
          '--post-logout-redirect-uri', 'https://portal.example.com/bye',
          '--require-mfa', '--consent', '--scope', 'openid email', '--name', 'Portal',
        ),
      );
      expect(added).to.include({ client_id: 'portal', client_name: 'Portal', require_mfa: true, consent: true, public: false, scope: 'openid email' });
      expect(added.redirect_uris).to.deep.equal(['https://portal.example.com/a', 'https://portal.example.com/b']);
      expect(added.post_logout_redirect_uris).to.deep.equal(['https://portal.example.com/bye']);
      expect(added).to.not.have.property('client_secret');
    });

    it('add --public registers a client without a secret; rotate-secret refuses it', async () => {
      const added = json(await twofold('client', 'add', 'spa', '--public', '--redirect-uri', 'http://localhost:5173/cb', '--json'));
      expect(added).to.include({ public: true });
      expect(added).to.not.have.property('client_secret');
      failed(await twofold('client', 'rotate-secret', 'spa'), /^twofold: .*public client/);
      failed(await twofold('client', 'add', 'spa2', '--public', '--secret', 'a-secret-of-at-least-32-characters-long', '--redirect-uri', 'https://x.example.com/cb'), /^twofold: .*public client/);
      failed(await twofold('client', 'add', 'spa3', '--public', '--grant-type', 'client_credentials'), /^twofold: .*client_credentials/);
    });

    it('--admin needs the client_credentials grant, and then gets the admin scope', async () => {
      failed(await twofold('client', 'add', 'ops', '--admin', '--redirect-uri', 'https://ops.example.com/cb'), /^twofold: .*client_credentials/);
      const added = json(await twofold('client', 'add', 'ops', '--admin', '--grant-type', 'client_credentials', '--json'));
      expect(added).to.include({ admin: true });
      expect(added.grant_types).to.deep.equal(['client_credentials']);
      expect(added.scope.split(' ')).to.include('admin');
      expect(added.client_secret).to.be.a('string').with.length.greaterThan(30);
      failed(await twofold('client', 'add', 'sneaky', '--grant-type', 'client_credentials', '--scope', 'openid admin'), /^twofold: .*admin/);
    });

    it('refuses a duplicate id, a bad redirect URI, a short secret and a bad grant type, each in one line', async () => {
      await allFail(twofold, [
        [['client', 'add', 'crm', '--redirect-uri', 'https://crm.example.com/callback'], /^twofold: a client with id "crm" already exists$/],
        [['client', 'add', 'bad1', '--redirect-uri', 'http://crm.example.com/callback'], /^twofold: .*redirect URI/],
        [['client', 'add', 'bad2', '--redirect-uri', 'https://crm.example.com/cb#frag'], /^twofold: .*redirect URI/],
        [['client', 'add', 'bad3', '--redirect-uri', 'not a url'], /^twofold: .*redirect URI/],
        [['client', 'add', 'bad4'], /^twofold: .*--redirect-uri/],
        [['client', 'add', 'bad5', '--redirect-uri', 'https://x.example.com/cb', '--secret', 'short'], /^twofold: .*32 characters/],
        [['client', 'add', 'bad6', '--redirect-uri', 'https://x.example.com/cb', '--grant-type', 'implicit'], /^twofold: /],
        [['client', 'add', 'bad id!', '--redirect-uri', 'https://x.example.com/cb'], /^twofold: .*client_id/],
      ]);
      const ids = json<Array<{ client_id: string }>>(await twofold('client', 'list', '--json')).map((c) => c.client_id);
      expect(ids.filter((id) => id.startsWith('bad'))).to.deep.equal([]);
    });

    it('update --require-mfa / --no-require-mfa and other options change only what is given', async () => {
      expect(json(await twofold('client', 'update', 'crm', '--require-mfa', '--json'))).to.include({ require_mfa: true, client_name: 'Our CRM' });
      expect(json(await twofold('client', 'show', 'crm', '--json'))).to.include({ require_mfa: true });
      expect(json(await twofold('client', 'update', 'crm', '--no-require-mfa', '--json'))).to.include({ require_mfa: false });
      const updated = json(await twofold('client', 'update', 'crm', '--name', 'CRM', '--redirect-uri', 'https://crm.example.com/new', '--json'));
      expect(updated).to.include({ client_name: 'CRM', require_mfa: false, public: false });
      expect(updated.redirect_uris).to.deep.equal(['https://crm.example.com/new']);
      const plain = succeeded(await twofold('client', 'update', 'crm', '--consent'));
      expect(plain.stdout).to.include('Updated client "crm"');
      failed(await twofold('client', 'update', 'ghost', '--require-mfa'), /^twofold: no client "ghost"$/);
      failed(await twofold('client', 'update', 'crm', '--redirect-uri', 'ftp://crm.example.com/'), /^twofold: .*redirect URI/);
    });

    it('list prints a table and --json an array; show prints the client', async () => {
      const table = succeeded(await twofold('client', 'list')).stdout;
      expect(table.split('\n')[0]).to.match(/^CLIENT_ID\s+CLIENT_NAME\s+TYPE\s+REQUIRE_MFA/);
      expect(table).to.match(/^spa\s.*public/m);
      expect(table).to.match(/^crm\s.*confidential/m);
      const listed = json<Array<{ client_id: string }>>(await twofold('client', 'list', '--json'));
      expect(listed.map((c) => c.client_id)).to.include.members(['crm', 'portal', 'spa', 'ops']);
      const shown = succeeded(await twofold('client', 'show', 'portal')).stdout;
      expect(shown).to.match(/^client_id\s+portal$/m);
      expect(shown).to.match(/^require_mfa\s+true$/m);
      failed(await twofold('client', 'show', 'ghost'), /^twofold: no client "ghost"$/);
      failed(await twofold('client', 'show', 'ghost', '--json'), /^twofold: no client "ghost"$/);
    });

    it('remove deletes a client once', async () => {
      succeeded(await twofold('client', 'add', 'temp', '--redirect-uri', 'https://t.example.com/cb'));
      expect(succeeded(await twofold('client', 'remove', 'temp')).stdout).to.include('Removed client "temp"');
      failed(await twofold('client', 'show', 'temp'), /no client "temp"/);
      failed(await twofold('client', 'remove', 'temp'), /^twofold: no client "temp"$/);
    });
  });


  describe('client secrets reach a running provider at once', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ databaseUrl: cli.db.url, secret: SECRET });
    });
    after(() => server?.close());

    it('a client added by the CLI gets tokens with its printed secret; rotate-secret replaces the secret without a restart', async () => {
      const { client_secret: first } = json<{ client_secret: string }>(await twofold('client', 'add', 'machine', '--grant-type', 'client_credentials', '--json'));
      const firstTokens = await oidc.clientCredentialsGrant(await relyingParty(server, 'machine', first));
      expect(firstTokens.access_token).to.be.a('string');

      const rotated = json<{ client_id: string; client_secret: string }>(await twofold('client', 'rotate-secret', 'machine', '--json'));
      expect(rotated.client_id).to.equal('machine');
      expect(rotated.client_secret).to.not.equal(first);
      expect((await oidc.clientCredentialsGrant(await relyingParty(server, 'machine', rotated.client_secret))).access_token).to.be.a('string');
      let refused: unknown;
      try {
        await oidc.clientCredentialsGrant(await relyingParty(server, 'machine', first));
      } catch (err) {
        refused = err;
      }
      // 401 with a WWW-Authenticate challenge naming invalid_client.
      expect(refused, 'the old secret still worked').to.have.property('status', 401);
      expect(JSON.stringify((refused as { cause: unknown }).cause)).to.include('invalid_client');

      const plain = succeeded(await twofold('client', 'rotate-secret', 'machine'));
      expect(plain.stdout).to.match(/New client_secret for "machine": [A-Za-z0-9_-]{43}/);
      failed(await twofold('client', 'rotate-secret', 'ghost'), /^twofold: no client "ghost"$/);
    });
  });


  describe('audit', () => {
    it('every client change is in the audit trail, marked as made at the CLI, without a secret', async () => {
      const events = json<AuditEvent[]>(await twofold('audit', '--json', '--limit', '1000'));
      expect(events.map((e) => `${e.type} ${e.client_id}`)).to.include.members([
        'admin.client_added crm',
        'admin.client_updated crm',
        'admin.client_removed temp',
        'admin.client_secret_rotated machine',
      ]);
      for (const event of events) expect(event.reason, event.type).to.equal('cli');
      expect(JSON.stringify(events)).to.not.include('a-secret-of-at-least-32-characters-long');
      const crm = json<AuditEvent[]>(await twofold('audit', '--client', 'crm', '--json'));
      expect(crm.length).to.be.greaterThan(1);
      expect(new Set(crm.map((e) => e.client_id))).to.deep.equal(new Set(['crm']));
    });
  });
});
