// /account: users look after their own sign-in methods. The page signs in through Twofold itself
// (login.ts); every change needs the form token and a second factor from the last few minutes,
// otherwise the user steps up first (guards.ts). Routes are thin: AccountSelfService does the work.
//
//   GET  /account                          the page
//   GET  /account/login, /step-up          sign in; sign in again with the second factor
//   GET  /account/callback                 back from Twofold
//   POST /account/factors/:id/rename|preferred|remove
//   POST /account/password
//   POST /account/sessions/sign-out-others
//   POST /account/recovery/regenerate      a new set, shown once (download, print)
//   POST /account/recovery/saved           hide the new set
//   GET  /account/recovery-codes.txt, /recovery-codes/print   while the new set is shown
//   *    /account/enrol...                 adding a method (enrol-routes.ts)
//   POST /account/sign-out
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Services } from '../services.js';
import type { Views } from '../http/views.js';
import { parseBody } from '../http/body.js';
import { AccountSessions, type AccountSession } from './session.js';
import { AccountSelfService } from './service.js';
import { AccountLogin } from './login.js';
import { accountGuards, stateOf, type AccountState } from './guards.js';
import { field, whoOf } from '../http/body.js';
import { registerEnrolRoutes } from './enrol-routes.js';
import { LOW_RECOVERY_CODES } from '../factors/recovery/service.js';

/** How long new recovery codes stay on the page (and downloadable) unless the user hides them. */
const SHOW_CODES_MS = 10 * 60 * 1000;

export function accountRoutes(provider: Provider, services: Services, views: Views): Router {
  const { config } = services;
  const sessions = new AccountSessions(services.store, config.issuer.startsWith('https://'), services.now);
  const self = new AccountSelfService(services);
  const login = new AccountLogin(config, sessions, services.now);
  const guards = accountGuards(services, views, sessions, login, self);
  const { fresh, signedIn, formToken, recent } = guards;
  const change = [signedIn, parseBody, formToken, recent] as const;
  const router = new Router({ prefix: '/account' });

  const codesKey = (session: AccountSession) => `recovery-display:${session.id}`;
  /** The new recovery codes this session is showing, if any (and not yet expired). */
  const shownCodes = (session: AccountSession): string[] | null =>
    session.freshRecoveryCodes && (session.freshRecoveryCodesUntil ?? 0) > services.now()
      ? (JSON.parse(services.keyring.open(session.freshRecoveryCodes, codesKey(session))) as string[])
      : null;

  /** Back to a page with a notice; other new recovery codes on show are hidden by any change. */
  async function done(ctx: Context, state: AccountState, notice: string, options: { to?: string; codes?: string[] } = {}) {
    const { session } = state;
    session.flash = { notice };
    delete session.freshRecoveryCodes;
    delete session.freshRecoveryCodesUntil;
    if (options.codes) {
      session.freshRecoveryCodes = services.keyring.seal(JSON.stringify(options.codes), codesKey(session));
      session.freshRecoveryCodesUntil = services.now() + SHOW_CODES_MS;
    }
    await sessions.save(session);
    ctx.status = 303;
    ctx.redirect(options.to ?? '/account');
  }

  router.get('/login', (ctx) => login.start(ctx, { stepUp: false }));
  router.get('/step-up', (ctx) => login.start(ctx, { stepUp: true }));

  router.get('/callback', async (ctx) => {
    const result = await login.finish(ctx);
    if (!result.ok) {
      return views.send(ctx, 'error', { title: 'Not signed in', heading: 'Not signed in', message: `${result.reason} Open the account page to try again.` }, 400);
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.get('/', signedIn, async (ctx) => {
    const { session, account } = stateOf(ctx);
    const flash = session.flash;
    if (flash) {
      delete session.flash;
      await sessions.save(session);
    }
    const policy = await services.policy.get();
    const recoveryLeft = await self.recoveryCodesLeft(account);
    await views.send(ctx, 'account/home', {
      title: 'Your account',
      csrf: session.csrf,
      account,
      factors: await self.methods(account),
      methods: services.factors.enrollable(policy).map((f) => ({ type: f.type, label: f.label, description: f.description })),
      canChange: fresh(session),
      stepUpMinutes: config.mfa.stepUpMinutes,
      lockedFor: await self.lockedFor(account),
      recoveryCodes: shownCodes(session),
      recoveryLeft,
      recoveryLow: recoveryLeft !== null && recoveryLeft <= LOW_RECOVERY_CODES,
      notice: flash?.notice,
      error: flash?.error,
    });
  });

  router.post('/factors/:id/rename', ...change, async (ctx) => {
    const state = stateOf(ctx);
    await self.rename(state.account, ctx.params.id!, field(ctx, 'name'), whoOf(ctx));
    await done(ctx, state, 'Renamed.');
  });

  router.post('/factors/:id/preferred', ...change, async (ctx) => {
    const state = stateOf(ctx);
    await self.prefer(state.account, ctx.params.id!, whoOf(ctx));
    await done(ctx, state, 'Your preferred method is changed. It is asked first when you sign in.');
  });

  router.post('/factors/:id/remove', ...change, async (ctx) => {
    const state = stateOf(ctx);
    const { recoveryDiscarded } = await self.remove(state.account, ctx.params.id!, whoOf(ctx));
    const codes = recoveryDiscarded ? ' Your recovery codes were removed with it.' : '';
    await done(ctx, state, `Removed.${codes} If you lost this device, also sign out your other sessions below.`);
  });

  router.post('/password', ...change, async (ctx) => {
    const state = stateOf(ctx);
    await self.changePassword(state.account, { current: field(ctx, 'current'), password: field(ctx, 'password'), confirm: field(ctx, 'confirm') }, whoOf(ctx));
    await done(ctx, state, 'Your password is changed. If you think someone else knew the old one, sign out your other sessions below.');
  });

  router.post('/sessions/sign-out-others', ...change, async (ctx) => {
    const state = stateOf(ctx);
    await self.signOutOthers(state.account, { sessionUid: await currentSessionUid(provider, ctx), accountSessionId: state.session.id }, whoOf(ctx));
    await done(ctx, state, 'Your other sessions are signed out. Applications there will ask you to sign in again.');
  });

  router.post('/recovery/regenerate', ...change, async (ctx) => {
    const state = stateOf(ctx);
    const codes = await self.regenerateRecoveryCodes(state.account, whoOf(ctx));
    await done(ctx, state, 'New recovery codes are ready. Your old codes no longer work.', { codes });
  });

  router.post('/recovery/saved', signedIn, parseBody, formToken, async (ctx) => {
    const state = stateOf(ctx);
    await done(ctx, state, 'Your new recovery codes are hidden now.');
  });

  /** The new codes for download or print, while the page shows them. */
  const codesToSave = (ctx: Context) => {
    const codes = shownCodes(stateOf(ctx).session);
    if (!codes) ctx.throw(404, 'These recovery codes are no longer available. You can make new ones on your account page.');
    ctx.set('Cache-Control', 'no-store');
    return codes!;
  };
  const made = () => new Date(services.now()).toISOString().slice(0, 10);

  router.get('/recovery-codes.txt', signedIn, (ctx) => {
    const codes = codesToSave(ctx);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.attachment('twofold-recovery-codes.txt');
    ctx.body = [`Twofold recovery codes for ${stateOf(ctx).account.username} at ${config.issuer}`, `Made ${made()}. Each code works once.`, '', ...codes, ''].join('\n');
  });

  router.get('/recovery-codes/print', signedIn, async (ctx) => {
    const codes = codesToSave(ctx);
    await views.send(ctx, 'recovery-print', { title: 'Recovery codes', codes, username: stateOf(ctx).account.username, issuer: config.issuer, made: made() });
  });

  registerEnrolRoutes(router, { services, views, sessions, guards, parseBody, done });

  router.post('/sign-out', signedIn, parseBody, formToken, async (ctx) => {
    const { session } = stateOf(ctx);
    await sessions.close(ctx, session);
    ctx.status = 303;
    ctx.redirect(await login.endSessionUrl(session));
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
