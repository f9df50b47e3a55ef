// /account: users look after their own sign-in methods. The page signs in through Twofold itself
// (the internal first-party client "twofold-account", authorization code + PKCE), so the same
// second-factor rules apply. Every change needs a second factor from the last few minutes;
// otherwise the user is sent through a step-up sign-in first (acr_values=mfa, max_age).
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import * as oidc from 'openid-client';
import type { Services } from '../services.js';
import type { Views } from '../http/views.js';
import { parseBody } from '../http/body.js';
import { Keyring } from '../crypto/keyring.js';
import { AccountSessions, type AccountSession } from './session.js';
import { AccountSelfService } from './service.js';
import { ACCOUNT_CLIENT_ID } from './client.js';
import type { Account } from '../db/repos/accounts.js';
import type { AttemptContext } from '../factors/factor.js';
import { malformedCodeMessage } from '../factors/attempts.js';
import { TwofoldError } from '../errors.js';

interface AccountState {
  session: AccountSession;
  account: Account;
}

const field = (ctx: Context, name: string): string | undefined => {
  const value = (ctx.request as unknown as { body?: Record<string, unknown> }).body?.[name];
  return typeof value === 'string' ? value : undefined;
};

export function accountRoutes(provider: Provider, services: Services, views: Views): Router {
  const { config } = services;
  const sessions = new AccountSessions(services.store, config.issuer.startsWith('https://'));
  const self = new AccountSelfService(services);
  const router = new Router({ prefix: '/account' });
  const redirectUri = `${config.issuer}/account/callback`;
  let discovered: Promise<oidc.Configuration> | undefined;
  const client = () =>
    (discovered ??= oidc
      .discovery(new URL(config.issuer), ACCOUNT_CLIENT_ID, undefined, oidc.None(), config.issuer.startsWith('http://') ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err) => {
        discovered = undefined;
        throw err;
      }));

  const who = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 512) });
  const attempt = (ctx: Context, s: AccountState): AttemptContext => ({
    account: s.account,
    bindingId: `account:${s.session.id}`,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 512),
    locale: s.account.locale ?? ctx.acceptsLanguages()[0] ?? 'en',
  });

  /** A second factor within the last few minutes: the condition for any change. */
  const fresh = (session: AccountSession) =>
    session.amr.includes('mfa') && Math.floor(Date.now() / 1000) - session.authTime <= config.mfa.stepUpMinutes * 60;

  async function signIn(ctx: Context, options: { stepUp: boolean; returnTo: string }) {
    const verifier = oidc.randomPKCECodeVerifier();
    const pending = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce(), returnTo: options.returnTo };
    sessions.rememberLogin(ctx, pending);
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    };
    if (options.stepUp) {
      params.acr_values = 'mfa';
      params.max_age = String(config.mfa.stepUpMinutes * 60);
    }
    ctx.redirect(oidc.buildAuthorizationUrl(await client(), params).href);
  }

  /** Loads the signed-in user, or starts the sign-in. */
  async function signedIn(ctx: Context, next: Next) {
    const session = await sessions.load(ctx);
    const account = session && (await services.accounts.findById(session.accountId));
    if (!session || !account || account.disabled) {
      if (ctx.method !== 'GET') return views.send(ctx, 'error', { title: 'Signed out', heading: 'Signed out', message: 'Your account page session has ended. Open the account page again to sign in.' }, 401);
      return signIn(ctx, { stepUp: false, returnTo: '/account' });
    }
    ctx.state.account = { session, account } satisfies AccountState;
    return next();
  }

  /** Changes need the form token and a recent second factor; otherwise step up first. */
  async function change(ctx: Context, next: Next) {
    const { session } = ctx.state.account as AccountState;
    const sent = field(ctx, '_csrf');
    if (!sent || !Keyring.equal(sent, session.csrf)) {
      return views.send(ctx, 'error', { title: 'Form expired', heading: 'Form expired', message: 'This form has expired. Go back, reload the page and try again.' }, 403);
    }
    if (!fresh(session)) {
      ctx.status = 303;
      return ctx.redirect('/account/step-up');
    }
    try {
      await next();
    } catch (err) {
      // A refused change goes back to the page with the reason, and nothing changed.
      if (err instanceof TwofoldError && err.expose && err.status < 500) {
        session.flash = { error: err.message };
        await sessions.save(session);
        ctx.status = 303;
        return ctx.redirect(ctx.path.startsWith('/account/enrol') ? '/account/enrol' : '/account');
      }
      throw err;
    }
  }

  const done = async (ctx: Context, session: AccountSession, notice: string, to = '/account') => {
    session.flash = { notice };
    await sessions.save(session);
    ctx.status = 303;
    ctx.redirect(to);
  };

  router.get('/login', (ctx) => signIn(ctx, { stepUp: false, returnTo: '/account' }));
  router.get('/step-up', (ctx) => signIn(ctx, { stepUp: true, returnTo: '/account' }));

  router.get('/callback', async (ctx) => {
    const pending = sessions.takeLogin(ctx);
    const current = new URL(ctx.originalUrl, config.issuer);
    if (!pending || current.searchParams.has('error')) {
      const reason = current.searchParams.get('error_description') ?? 'The sign-in did not complete.';
      return views.send(ctx, 'error', { title: 'Not signed in', heading: 'Not signed in', message: `${reason} Open the account page to try again.` }, 400);
    }
    const tokens = await oidc.authorizationCodeGrant(await client(), current, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce });
    const claims = tokens.claims()!;
    await sessions.open(ctx, {
      accountId: claims.sub,
      amr: (claims.amr as string[] | undefined) ?? [],
      authTime: (claims.auth_time as number | undefined) ?? Math.floor(Date.now() / 1000),
      idToken: tokens.id_token!,
    });
    ctx.status = 303;
    ctx.redirect(pending.returnTo.startsWith('/account') ? pending.returnTo : '/account');
  });

  router.get('/', signedIn, async (ctx) => {
    const { session, account } = ctx.state.account as AccountState;
    const flash = session.flash;
    const freshCodes = session.freshRecoveryCodes;
    if (flash || freshCodes) {
      delete session.flash;
      delete session.freshRecoveryCodes;
      await sessions.save(session);
    }
    const policy = await services.policy.get();
    const factors = await services.factors.list(account.id);
    await views.send(ctx, 'account/home', {
      title: 'Your account',
      csrf: session.csrf,
      account,
      factors: factors.map((f) => ({ ...f, label: services.factors.get(f.type)?.label ?? f.type })),
      methods: services.factors.enrollable(policy).map((f) => ({ type: f.type, label: f.label, description: f.description })),
      canChange: fresh(session),
      stepUpMinutes: config.mfa.stepUpMinutes,
      lockedFor: await self.lockedFor(account),
      recoveryCodes: freshCodes ? (JSON.parse(services.keyring.open(freshCodes, `recovery-display:${session.id}`)) as string[]) : null,
      notice: flash?.notice,
      error: flash?.error,
    });
  });

  router.post('/factors/:id/rename', signedIn, parseBody, change, async (ctx) => {
    const { session, account } = ctx.state.account as AccountState;
    await self.rename(account, ctx.params.id!, field(ctx, 'name'));
    await done(ctx, session, 'Renamed.');
  });

  router.post('/factors/:id/preferred', signedIn, parseBody, change, async (ctx) => {
    const { session, account } = ctx.state.account as AccountState;
    await self.prefer(account, ctx.params.id!);
    await done(ctx, session, 'Your preferred method is changed. It is asked first when you sign in.');
  });

  router.post('/factors/:id/remove', signedIn, parseBody, change, async (ctx) => {
    const { session, account } = ctx.state.account as AccountState;
    await self.remove(account, ctx.params.id!, who(ctx));
    await done(ctx, session, 'Removed. If you lost this device, also sign out your other sessions below.');
  });

  router.post('/password', signedIn, parseBody, change, async (ctx) => {
    const { session, account } = ctx.state.account as AccountState;
    await self.changePassword(account, { current: field(ctx, 'current'), password: field(ctx, 'password'), confirm: field(ctx, 'confirm') }, who(ctx));
    await done(ctx, session, 'Your password is changed. If you think someone else knew the old one, sign out your other sessions below.');
  });

  router.post('/sessions/sign-out-others', signedIn, parseBody, change, async (ctx) => {
    const { session, account } = ctx.state.account as AccountState;
    const current = await currentSessionUid(provider, ctx);
    await self.signOutOthers(account, current, who(ctx));
    await done(ctx, session, 'Your other sessions are signed out. Applications there will ask you to sign in again.');
  });

  // --- adding a method, with the same screens as at sign-in
  router.post('/enrol', signedIn, parseBody, change, async (ctx) => {
    const state = ctx.state.account as AccountState;
    const factor = services.factors.enrollable(await services.policy.get()).find((f) => f.type === field(ctx, 'method'));
    if (!factor) return done(ctx, state.session, 'Choose one of the methods listed.');
    state.session.enrolment = { type: factor.type, state: await factor.startEnrolment(attempt(ctx, state)) };
    await sessions.save(state.session);
    ctx.status = 303;
    ctx.redirect('/account/enrol');
  });

  async function enrolScreen(ctx: Context, state: AccountState, error?: { message: string; status: number }) {
    const enrolment = state.session.enrolment;
    const factor = enrolment && services.factors.get(enrolment.type);
    if (!enrolment || !factor) {
      ctx.status = 303;
      return ctx.redirect('/account');
    }
    const flash = state.session.flash;
    if (flash) {
      delete state.session.flash;
      await sessions.save(state.session);
    }
    const view = await factor.enrolmentView(attempt(ctx, state), enrolment.state);
    await views.send(
      ctx,
      'enrol',
      { title: '', base: '/account', cancel: '/account/enrol/cancel', csrf: state.session.csrf, factor: { type: factor.type, label: factor.label }, partial: factor.views.enrol, view, notice: flash?.notice, error: error?.message ?? flash?.error },
      error?.status,
    );
  }

  router.get('/enrol', signedIn, (ctx) => enrolScreen(ctx, ctx.state.account as AccountState));

  router.post('/enrol/action', signedIn, parseBody, change, async (ctx) => {
    const state = ctx.state.account as AccountState;
    const factor = state.session.enrolment && services.factors.get(state.session.enrolment.type);
    if (!factor?.enrolmentAction) return enrolScreen(ctx, state);
    const form = Object.fromEntries(Object.entries((ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const result = await factor.enrolmentAction(attempt(ctx, state), state.session.enrolment!.state, field(ctx, 'action') ?? '', form);
    state.session.enrolment = { type: factor.type, state: result.state };
    if (result.error) {
      await sessions.save(state.session);
      return enrolScreen(ctx, state, { message: result.error, status: 400 });
    }
    await done(ctx, state.session, result.notice ?? '', '/account/enrol');
  });

  router.post('/enrol/verify', signedIn, parseBody, change, async (ctx) => {
    const state = ctx.state.account as AccountState;
    const enrolment = state.session.enrolment;
    const factor = enrolment && services.factors.get(enrolment.type);
    if (!enrolment || !factor) return enrolScreen(ctx, state);
    const outcome = await factor.verifyEnrolment(attempt(ctx, state), enrolment.state, field(ctx, 'code') ?? '');
    if (!outcome.ok) {
      const message =
        outcome.reason === 'locked'
          ? 'Too many wrong codes. Your second factor is locked for a while; try again later.'
          : outcome.reason === 'malformed'
            ? malformedCodeMessage(config.totp.digits)
            : "That code didn't work. Check it and try again.";
      return enrolScreen(ctx, state, { message, status: outcome.reason === 'locked' ? 429 : 400 });
    }
    const factorId = factor.enrolmentFactorId(enrolment.state);
    await services.factors.save(state.account, factor.type, factorId, outcome.enrolled!);
    delete state.session.enrolment;
    services.events.emit({ type: 'factor.enrolled', outcome: 'success', accountId: state.account.id, username: state.account.username, ip: ctx.ip, userAgent: ctx.get('user-agent'), reason: 'account_page', details: { factor: factor.type } });
    await done(ctx, state.session, `${factor.label} is set up.`);
  });

  router.post('/enrol/cancel', signedIn, parseBody, async (ctx) => {
    const { session } = ctx.state.account as AccountState;
    delete session.enrolment;
    await sessions.save(session);
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/sign-out', signedIn, parseBody, async (ctx) => {
    const { session } = ctx.state.account as AccountState;
    const sent = field(ctx, '_csrf');
    if (!sent || !Keyring.equal(sent, session.csrf)) return views.send(ctx, 'error', { title: 'Form expired', heading: 'Form expired', message: 'This form has expired. Go back and try again.' }, 403);
    await sessions.close(ctx, session);
    const url = oidc.buildEndSessionUrl(await client(), { id_token_hint: session.idToken, post_logout_redirect_uri: `${config.issuer}/account/signed-out` });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/signed-out', (ctx) => views.send(ctx, 'signed-out', { title: 'Signed out', clientName: '' }));

  return router;
}

/** The uid of this browser's SSO session (read from oidc-provider's signed session cookie). */
async function currentSessionUid(provider: Provider, ctx: Context): Promise<string | undefined> {
  const jti = ctx.cookies.get('_session', { signed: true });
  if (!jti) return undefined;
  const session = await provider.Session.find(jti);
  return session?.uid;
}
