// A small relying party at /demo that signs in through Twofold with a real authorization code +
// PKCE flow (openid-client) and shows what the ID token says. Demo mode only.
import Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Views } from '../http/views.js';
import type { Config } from '../config/schema.js';
import { DEMO_CLIENT_ID } from './seed.js';

const COOKIE = 'twofold_demo';

export function demoRoutes(config: Config, views: Views): Router {
  const router = new Router({ prefix: '/demo' });
  let discovered: Promise<oidc.Configuration> | undefined;
  const configuration = () =>
    (discovered ??= oidc
      .discovery(new URL(config.issuer), DEMO_CLIENT_ID, undefined, oidc.None(), config.issuer.startsWith('http://') ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err) => {
        discovered = undefined;
        throw err;
      }));

  router.get('/', async (ctx) => {
    await views.send(ctx, 'demo/home', { title: 'Demo app', issuer: config.issuer });
  });

  router.get('/login', async (ctx) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const parameters: Record<string, string> = {
      redirect_uri: `${config.issuer}/demo/callback`,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (ctx.query.mfa === '1') parameters.acr_values = 'mfa';
    ctx.cookies.set(COOKIE, JSON.stringify({ verifier, state, nonce }), { signed: true, httpOnly: true, sameSite: 'lax', maxAge: 10 * 60 * 1000 });
    ctx.redirect(oidc.buildAuthorizationUrl(await configuration(), parameters).href);
  });

  router.get('/callback', async (ctx) => {
    const saved = ctx.cookies.get(COOKIE, { signed: true });
    if (!saved) {
      await views.send(ctx, 'error', { title: 'Demo', heading: 'Start again', message: 'The demo sign-in expired. Open /demo and sign in again.' }, 400);
      return;
    }
    const { verifier, state, nonce } = JSON.parse(saved) as { verifier: string; state: string; nonce: string };
    ctx.cookies.set(COOKIE, null);
    const current = new URL(ctx.originalUrl, config.issuer);
    if (current.searchParams.has('error')) {
      await views.send(ctx, 'error', { title: 'Demo', heading: 'Sign-in not completed', message: `Twofold answered: ${current.searchParams.get('error')}` }, 400);
      return;
    }
    const tokens = await oidc.authorizationCodeGrant(await configuration(), current, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    const claims: Record<string, unknown> = tokens.claims() ?? {};
    const userinfo = await oidc.fetchUserInfo(await configuration(), tokens.access_token, claims.sub as string);
    const logout = oidc.buildEndSessionUrl(await configuration(), { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${config.issuer}/demo` });
    await views.send(ctx, 'demo/signed-in', { title: 'Signed in', claims, userinfo, claimsJson: JSON.stringify(claims, null, 2), userinfoJson: JSON.stringify(userinfo, null, 2), logoutUrl: logout.href });
  });

  return router;
}
