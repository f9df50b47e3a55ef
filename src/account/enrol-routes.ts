// Adding a sign-in method from the account page, with the same screens (and the same Factor
// interface) as at sign-in. Each enrolment has its own id: its codes are bound to it, and like any
// code check it first takes one of its attempts, so a burst of guesses gets no more codes checked
// than at sign-in. The factor is saved only when a code from it verifies.
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Services } from '../services.js';
import type { Views } from '../http/views.js';
import type { AttemptContext } from '../factors/factor.js';
import { minutesFrom } from '../accounts/throttle.js';
import type { AccountSessions } from './session.js';
import { ACCOUNT_CLIENT_ID } from './client.js';
import { stateOf, type AccountGuards, type AccountState } from './guards.js';
import { field, localeFor, stringFields, whoOf } from '../http/body.js';

export interface EnrolDeps {
  services: Services;
  views: Views;
  sessions: AccountSessions;
  guards: AccountGuards;
  parseBody: Middleware;
  /** Sends the user back to a page with a notice; `codes` are new recovery codes to show. */
  done(ctx: Context, state: AccountState, notice: string, options?: { to?: string; codes?: string[] }): Promise<void>;
}

/** Who is verifying, bound to this account-page session and this one enrolment. */
export function attemptOf(ctx: Context, { session, account }: AccountState): AttemptContext {
  return {
    account,
    bindingId: `account:${session.id}:${session.enrolment?.id ?? 'none'}`,
    ...whoOf(ctx),
    locale: localeFor(ctx, account.locale),
  };
}

export function registerEnrolRoutes(router: Router, deps: EnrolDeps): void {
  const { services, views, sessions, guards, parseBody, done } = deps;
  const { signedIn, formToken, recent } = guards;
  const change = [signedIn, parseBody, formToken, recent] as const;

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
    const view = await factor.enrolmentView(attemptOf(ctx, state), enrolment.state);
    await views.send(
      ctx,
      'enrol',
      { title: '', base: '/account', csrf: state.session.csrf, factor: { type: factor.type, label: factor.label }, partial: factor.views.enrol, view, notice: flash?.notice, error: error?.message ?? flash?.error },
      error?.status,
    );
  }

  /** Ends the enrolment with a reason (too many wrong codes, locked) and goes back to the page. */
  async function abandon(ctx: Context, state: AccountState, message: string) {
    delete state.session.enrolment;
    state.session.flash = { error: message };
    await sessions.save(state.session);
    ctx.status = 303;
    ctx.redirect('/account');
  }

  const lockedMessage = (seconds: number) => {
    const minutes = minutesFrom(seconds);
    return `Too many wrong codes. Your second factor is locked for ${minutes} minute${minutes === 1 ? '' : 's'}; try again later.`;
  };

  router.post('/enrol', ...change, async (ctx) => {
    const state = stateOf(ctx);
    const factor = services.factors.enrollable(await services.policy.get()).find((f) => f.type === field(ctx, 'method'));
    if (!factor) return done(ctx, state, 'Choose one of the methods listed.');
    state.session.enrolment = { id: randomBytes(12).toString('base64url'), type: factor.type, state: {} };
    state.session.enrolment.state = await factor.startEnrolment(attemptOf(ctx, state));
    await sessions.save(state.session);
    ctx.status = 303;
    ctx.redirect('/account/enrol');
  });

  router.get('/enrol', signedIn, (ctx) => enrolScreen(ctx, stateOf(ctx)));

  router.post('/enrol/action', ...change, async (ctx) => {
    const state = stateOf(ctx);
    const enrolment = state.session.enrolment;
    const factor = enrolment && services.factors.get(enrolment.type);
    if (!enrolment || !factor?.enrolmentAction) return enrolScreen(ctx, state);
    const result = await factor.enrolmentAction(attemptOf(ctx, state), enrolment.state, field(ctx, 'action') ?? '', stringFields(ctx));
    enrolment.state = result.state;
    if (result.error) {
      await sessions.save(state.session);
      return enrolScreen(ctx, state, { message: result.error, status: 400 });
    }
    await done(ctx, state, result.notice ?? '', { to: '/account/enrol' });
  });

  router.post('/enrol/verify', ...change, async (ctx) => {
    const state = stateOf(ctx);
    const { account, session } = state;
    const enrolment = session.enrolment;
    const factor = enrolment && services.factors.get(enrolment.type);
    if (!enrolment || !factor) return enrolScreen(ctx, state);
    const attempt = attemptOf(ctx, state);
    const refused = await services.attempts.reserve(account.id, attempt.bindingId);
    if (refused) {
      return abandon(ctx, state, refused.reason === 'locked' ? lockedMessage(refused.lockedFor) : 'Too many wrong codes for this method. Start adding it again.');
    }
    const outcome = await factor.verifyEnrolment(attempt, enrolment.state, field(ctx, 'code') ?? '');
    if (!outcome.ok) {
      if (outcome.reason === 'locked') return abandon(ctx, state, lockedMessage(outcome.lockedFor));
      if (outcome.challengeOver) return abandon(ctx, state, 'Too many wrong codes for this method. Start adding it again.');
      const message = outcome.reason === 'malformed' ? outcome.hint : "That code didn't work. Check it and try again.";
      return enrolScreen(ctx, state, { message, status: 400 });
    }
    const factorId = factor.enrolmentFactorId(enrolment.state);
    await services.factors.save(account, factor.type, factorId, outcome.enrolled!);
    delete session.enrolment;
    services.events.emit({ type: 'factor.enrolled', outcome: 'success', accountId: account.id, username: account.username, clientId: ACCOUNT_CLIENT_ID, ...whoOf(ctx), reason: 'account_page', details: { factor: factor.type } });
    // A first method (again) brings recovery codes, shown once like at sign-in.
    const codes = (await services.recovery.has(account.id)) ? undefined : await services.recovery.generate(account);
    await done(ctx, state, `${factor.label} is set up.`, codes ? { codes } : {});
  });

  router.post('/enrol/cancel', signedIn, parseBody, formToken, async (ctx) => {
    const { session } = stateOf(ctx);
    delete session.enrolment;
    await sessions.save(session);
    ctx.status = 303;
    ctx.redirect('/account');
  });
}
