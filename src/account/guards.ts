// The account page's checks, one middleware each: who is signed in (and not signed out from
// another browser since), whether the form carries this session's token, and whether the second
// factor is recent enough for a change (otherwise step up first). Refused changes go back to the
// page with the reason; nothing has changed.
import type { Context, Middleware, Next } from 'koa';
import type { Services } from '../services.js';
import type { Views } from '../http/views.js';
import type { Account } from '../db/repos/accounts.js';
import { Keyring } from '../crypto/keyring.js';
import { TwofoldError } from '../errors.js';
import type { AccountSession, AccountSessions } from './session.js';
import type { AccountLogin } from './login.js';
import { accountSessionSignedOut, type AccountSelfService } from './service.js';
import { field } from '../http/body.js';

export interface AccountState {
  session: AccountSession;
  account: Account;
}

export const stateOf = (ctx: Context): AccountState => ctx.state.account as AccountState;

export interface AccountGuards {
  /** A second factor within the last mfa.stepUpMinutes: the condition for any change. */
  fresh(session: AccountSession): boolean;
  signedIn: Middleware;
  formToken: Middleware;
  recent: Middleware;
}

export function accountGuards(services: Services, views: Views, sessions: AccountSessions, login: AccountLogin, self: AccountSelfService): AccountGuards {
  const fresh = (session: AccountSession) =>
    session.amr.includes('mfa') && Math.floor(services.now() / 1000) - session.authTime <= services.config.mfa.stepUpMinutes * 60;

  /** Loads the signed-in user, or starts the sign-in. */
  async function signedIn(ctx: Context, next: Next) {
    const session = await sessions.load(ctx);
    const account = session && (await services.accounts.findById(session.accountId));
    const over = session && account && accountSessionSignedOut(await self.signOutMarker(account), session.openedAt, session.id);
    if (!session || !account || account.disabled || over) {
      if (session) await sessions.close(ctx, session);
      if (ctx.method !== 'GET') {
        return views.send(ctx, 'error', { title: 'Signed out', heading: 'Signed out', message: 'Your account page session has ended. Open the account page again to sign in.' }, 401);
      }
      return login.start(ctx, { stepUp: false });
    }
    ctx.state.account = { session, account } satisfies AccountState;
    return next();
  }

  /** Every POST carries this session's form token; without it nothing changes. */
  async function formToken(ctx: Context, next: Next) {
    const { session } = stateOf(ctx);
    const sent = field(ctx, '_csrf');
    if (!sent || !Keyring.equal(sent, session.csrf)) {
      return views.send(ctx, 'error', { title: 'Form expired', heading: 'Form expired', message: 'This form has expired. Go back, reload the page and try again.' }, 403);
    }
    return next();
  }

  /** A change needs a recent second factor; a refused change shows its reason on the page. */
  async function recent(ctx: Context, next: Next) {
    const { session } = stateOf(ctx);
    if (!fresh(session)) {
      ctx.status = 303;
      return ctx.redirect('/account/step-up');
    }
    try {
      await next();
    } catch (err) {
      if (err instanceof TwofoldError && err.expose && err.status < 500) {
        session.flash = { error: err.message };
        await sessions.save(session);
        ctx.status = 303;
        return ctx.redirect(ctx.path.startsWith('/account/enrol') && session.enrolment ? '/account/enrol' : '/account');
      }
      throw err;
    }
  }

  return { fresh, signedIn, formToken, recent };
}
