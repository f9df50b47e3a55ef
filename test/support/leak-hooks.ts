// A mocha root hook (wired in .mocharc.json "require"): before the run it starts a fresh list of
// secrets and watches fetch (test/support/secrets.ts); after the whole run it searches the log
// every test server wrote (test-artifacts/server.log) for each password, TOTP key, code, token and
// phone number the tests used, and fails the run if one is there. Console delivery lines, which
// carry a code on purpose in development, are the one exception.
import { existsSync, readFileSync } from 'node:fs';
import { findLeaks, observeFetch, readSecrets, resetSecrets, SERVER_LOG, SECRETS_FILE } from './secrets.js';

export const mochaHooks = {
  beforeAll(): void {
    resetSecrets();
    observeFetch();
  },
  afterAll(): void {
    if (!existsSync(SERVER_LOG)) return;
    const secrets = readSecrets();
    const leaks = findLeaks(readFileSync(SERVER_LOG, 'utf8'), secrets);
    if (leaks.length === 0) return;
    const shown = leaks.slice(0, 20).map((l) => `  ${l.kind} ${l.secret} at ${SERVER_LOG}:${l.line}: …${l.excerpt}…`);
    throw new Error(
      `secret leak: ${leaks.length} place(s) in the server log hold a secret the tests used (${secrets.length} searched, list in ${SECRETS_FILE}):\n${shown.join('\n')}`,
    );
  },
};
