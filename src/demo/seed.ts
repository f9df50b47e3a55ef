// `npm run demo`: a demo relying party client and a demo user, printed once at start so a
// newcomer can sign in straight away. The demo user's password is renewed at every demo start.
import { randomBytes } from 'node:crypto';
import type { Services } from '../services.js';
import type { RunningServer } from '../server.js';
import type { Logger } from '../log.js';
import { NotFound } from '../errors.js';

export const DEMO_CLIENT_ID = 'twofold-demo';
export const DEMO_USERNAME = 'demo';

export async function seedDemo(services: Services): Promise<{ username: string; password: string }> {
  const redirect = `${services.config.issuer}/demo/callback`;
  const input = {
    name: 'Twofold demo app',
    redirectUris: [redirect],
    postLogoutRedirectUris: [`${services.config.issuer}/demo`],
    public: true,
  };
  try {
    await services.clients.update(DEMO_CLIENT_ID, input);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    await services.clients.add({ clientId: DEMO_CLIENT_ID, ...input });
  }
  const password = randomBytes(9).toString('base64url');
  const existing = await services.accounts.repo.findByUsername(DEMO_USERNAME);
  if (existing) await services.accounts.setPassword(DEMO_USERNAME, password);
  else await services.accounts.create({ username: DEMO_USERNAME, password, name: 'Demo User', email: 'demo@example.com', role: 'salesperson' });
  return { username: DEMO_USERNAME, password };
}

export async function announceDemo(running: RunningServer, log: Logger): Promise<void> {
  const { username, password } = await seedDemo(running.services);
  const issuer = running.services.config.issuer;
  // Printed to the terminal for the person who ran `npm run demo`; never written to the log.
  process.stdout.write(
    [
      '',
      '  Twofold demo is running.',
      `  Open ${issuer}/demo and sign in as:`,
      `    Username: ${username}`,
      `    Password: ${password}`,
      '  Choose "Sign in with a second factor" to set up an authenticator app.',
      '',
    ].join('\n') + '\n',
  );
  log.info({ demo: `${issuer}/demo` }, 'demo relying party ready');
}
