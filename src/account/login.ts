// The account page signs in through Twofold like any relying party: as the internal public client
// "twofold-account", authorization code + PKCE with openid-client. A step-up asks for the second
// factor (acr_values=mfa) and a recent sign-in (max_age), so a stale session passes the challenge
// again before any change.
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { Config } from '../config/schema.js';
import { ACCOUNT_CLIENT_ID } from './client.js';
import type { AccountSession, AccountSessions } from './session.js';

export class AccountLogin {
  private discovered: Promise<oidc.Configuration> | undefined;
  private readonly redirectUri: string;

  constructor(
    private readonly config: Config,
    private readonly sessions: AccountSessions,
    private readonly now: () => number,
  ) {
    this.redirectUri = `${config.issuer}/account/callback`;
  }

  private client(): Promise<oidc.Configuration> {
    const insecure = this.config.issuer.startsWith('http://') ? { execute: [oidc.allowInsecureRequests] } : undefined;
    return (this.discovered ??= oidc.discovery(new URL(this.config.issuer), ACCOUNT_CLIENT_ID, undefined, oidc.None(), insecure).catch((err) => {
      this.discovered = undefined;
      throw err;
    }));
  }

  /** Redirects to Twofold's authorization endpoint. */
  async start(ctx: Context, options: { stepUp: boolean }): Promise<void> {
    const verifier = oidc.randomPKCECodeVerifier();
    const pending = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce(), returnTo: '/account' };
    this.sessions.rememberLogin(ctx, pending);
    const params: Record<string, string> = {
      redirect_uri: this.redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    };
    if (options.stepUp) {
      params.acr_values = 'mfa';
      params.max_age = String(this.config.mfa.stepUpMinutes * 60);
    }
    ctx.status = 303;
    ctx.redirect(oidc.buildAuthorizationUrl(await this.client(), params).href);
  }

  /**
   * The callback: exchanges the code and opens an account-page session. Anything that does not
   * add up (no pending sign-in, an error from Twofold, a forged or replayed code) is a reason to
   * show, never a 500.
   */
  async finish(ctx: Context): Promise<{ ok: true; session: AccountSession } | { ok: false; reason: string }> {
    const pending = this.sessions.takeLogin(ctx);
    const current = new URL(ctx.originalUrl, this.config.issuer);
    if (!pending) return { ok: false, reason: 'The sign-in expired or was already completed.' };
    if (current.searchParams.has('error')) return { ok: false, reason: current.searchParams.get('error_description') ?? 'The sign-in did not complete.' };
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(await this.client(), current, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce });
    } catch (err) {
      if (err instanceof oidc.ClientError || err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError) {
        return { ok: false, reason: 'The sign-in could not be completed.' };
      }
      throw err;
    }
    const claims = tokens.claims()!;
    const session = await this.sessions.open(ctx, {
      accountId: claims.sub,
      amr: Array.isArray(claims.amr) ? (claims.amr as string[]) : [],
      authTime: typeof claims.auth_time === 'number' ? claims.auth_time : Math.floor(this.now() / 1000),
      idToken: tokens.id_token!,
    });
    return { ok: true, session };
  }

  /** Where to send the browser to end its Twofold session too (RP-initiated logout). */
  async endSessionUrl(session: AccountSession): Promise<string> {
    return oidc.buildEndSessionUrl(await this.client(), { id_token_hint: session.idToken, post_logout_redirect_uri: `${this.config.issuer}/account/signed-out` }).href;
  }
}
