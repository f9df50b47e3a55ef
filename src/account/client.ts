// The account page signs in through Twofold like any relying party: as this internal, public
// (PKCE) client, registered (or corrected) at every start so it always matches the issuer.
import type { Services } from '../services.js';
import { NotFound } from '../errors.js';

export const ACCOUNT_CLIENT_ID = 'twofold-account';

export async function ensureAccountClient(services: Services): Promise<void> {
  const issuer = services.config.issuer;
  const input = {
    name: 'Your Twofold account',
    redirectUris: [`${issuer}/account/callback`],
    postLogoutRedirectUris: [`${issuer}/account/signed-out`],
    public: true,
  };
  try {
    const current = await services.clients.show(ACCOUNT_CLIENT_ID);
    const same = current.redirect_uris.join() === input.redirectUris.join() && current.post_logout_redirect_uris.join() === input.postLogoutRedirectUris.join();
    if (!same) await services.clients.update(ACCOUNT_CLIENT_ID, input);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    try {
      await services.clients.add({ clientId: ACCOUNT_CLIENT_ID, ...input });
    } catch {
      // Another instance registered it at the same moment.
    }
  }
}
