// The sign-in pages under /interaction/:uid. Thin: each route checks that the interaction belongs
// to this browser and that the form carries its CSRF token, calls one step of src/flow/login.ts,
// and turns the outcome into a page, a redirect, or the result oidc-provider resumes with.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { errors as oidcErrors } from 'oidc-provider';
import { Keyring } from '../../crypto/keyring.js';
import type { FlowServices, InteractionFacts, Outcome, Requester } from '../../flow/context.js';
import { startTransaction, nextStep, passwordThenNext, challenge, enrol, finish } from '../../flow/login.js';
import type { LoginTransaction } from '../../flow/transaction.js';
import { approve, describeConsent } from '../../oidc/consent.js';
import type { Views } from '../views.js';
import { field, localeFor, stringFields, whoOf } from '../body.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface InteractionState {
  details: Details;
  facts: InteractionFacts;
  tx: LoginTransaction;
  who: Requester;
}

const EXPIRED =
  'This sign-in page has expired or was already used. Go back to the application you came from and sign in again.';

export function interactionRoutes(provider: Provider, services: FlowServices, views: Views): Router {
  const router = new Router({ prefix: '/interaction/:uid' });

  /** Loads the interaction bound to this browser's cookie; anything else is an expired page. */
  async function load(ctx: Context, next: Next) {
    let details: Details;
    let tx: LoginTransaction | undefined;
    try {
      // The transaction is keyed by the uid in the URL; both reads go to the store together.
      [details, tx] = await Promise.all([provider.interactionDetails(ctx.req, ctx.res), services.transactions.find(String(ctx.params.uid))]);
    } catch (err) {
      if (err instanceof oidcErrors.SessionNotFound) return expired(ctx);
      throw err;
    }
    if (details.uid !== ctx.params.uid) return expired(ctx);
    const clientId = String(details.params.client_id);
    let client: InteractionFacts['client'];
    if (tx && tx.clientId === clientId && tx.clientName !== undefined) {
      client = { clientId, name: tx.clientName };
    } else {
      const found = await provider.Client.find(clientId);
      if (!found) return expired(ctx);
      client = { clientId, name: found.clientName ?? clientId, requireMfa: (found as unknown as { require_mfa?: boolean }).require_mfa === true };
    }
    const facts: InteractionFacts = {
      uid: details.uid,
      prompt: { name: details.prompt.name, reasons: details.prompt.reasons },
      params: details.params,
      exp: details.exp,
      client,
    };
    if (!tx) {
      facts.session = await sessionFacts(provider, details);
      tx = await startTransaction(services, facts);
    }
    ctx.state.interaction = {
      details,
      facts,
      tx,
      who: { ...whoOf(ctx), locale: localeFor(ctx) },
    } satisfies InteractionState;
    return next();
  }

  /** Every POST must carry this interaction's form token; without it nothing changes. */
  async function csrf(ctx: Context, next: Next) {
    const { tx } = ctx.state.interaction as InteractionState;
    const sent = field(ctx, '_csrf');
    if (!sent || !Keyring.equal(sent, tx.csrf)) {
      return views.send(ctx, 'error', { title: 'Form expired', heading: 'Form expired', message: 'This form has expired. Go back, reload the page and try again.' }, 403);
    }
    return next();
  }

  async function expired(ctx: Context) {
    await views.send(ctx, 'error', { title: 'Sign-in expired', heading: 'Sign-in expired', message: EXPIRED }, 400);
  }

  /** Applies a step's outcome to the response. */
  async function respond(ctx: Context, outcome: Outcome) {
    const { facts, tx, details } = ctx.state.interaction as InteractionState;
    switch (outcome.kind) {
      case 'render': {
        if (outcome.view === 'consent') return consentScreen(ctx);
        const data = { title: '', uid: facts.uid, base: `/interaction/${facts.uid}`, csrf: tx.csrf, client: facts.client, ...outcome.data };
        return views.send(ctx, outcome.view, data, outcome.status);
      }
      case 'continue':
        ctx.status = 303;
        return ctx.redirect(`/interaction/${facts.uid}`);
      case 'finish': {
        const { accountId, acr, amr, ts, graceSkip } = outcome.login;
        const login = { accountId, acr, amr, ts, remember: true, ...(graceSkip ? { graceSkip } : {}) };
        ctx.status = 303;
        return ctx.redirect(await settle(details, { login }, false));
      }
      case 'abort': {
        await services.transactions.end(details.uid);
        ctx.status = 303;
        return ctx.redirect(await settle(details, { error: outcome.error, error_description: outcome.description }, false));
      }
    }
  }

  /** Consent: first-party clients are approved at once; --consent clients see the screen. */
  async function consentScreen(ctx: Context) {
    const { details, facts, tx } = ctx.state.interaction as InteractionState;
    const client = await provider.Client.find(facts.client.clientId);
    if (!(client as unknown as { require_consent?: boolean })?.require_consent) return consentResult(ctx, await approve(provider, details));
    return views.send(ctx, 'consent', { title: 'Allow access?', uid: facts.uid, csrf: tx.csrf, client: facts.client, scopes: describeConsent(details) });
  }

  async function consentResult(ctx: Context, result: InteractionResults) {
    const { details } = ctx.state.interaction as InteractionState;
    ctx.status = 303;
    ctx.redirect(await settle(details, result, true));
  }

  const step = (run: (s: InteractionState, ctx: Context) => Promise<Outcome>) => async (ctx: Context) =>
    respond(ctx, await run(ctx.state.interaction as InteractionState, ctx));

  router.get('/', load, step(({ facts, tx, who }) => nextStep(services, facts, tx, who)));

  // The recovery codes made in this sign-in, while its Setup / Finish screen is showing them.
  const recoveryCodes = (ctx: Context) => {
    const { tx } = ctx.state.interaction as InteractionState;
    const codes = enrol.recoveryCodesToShow(services, tx);
    if (!codes) ctx.throw(404, 'These recovery codes are no longer available. You can make new ones on your account page.');
    ctx.set('Cache-Control', 'no-store');
    return { tx, codes: codes! };
  };
  router.get('/recovery-codes.txt', load, async (ctx) => {
    const { tx, codes } = recoveryCodes(ctx);
    const account = await services.accounts.findById(tx.accountId!);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.attachment('twofold-recovery-codes.txt');
    ctx.body = [`Twofold recovery codes for ${account?.username ?? ''} at ${services.config.issuer}`, `Made ${new Date().toISOString().slice(0, 10)}. Each code works once.`, '', ...codes, ''].join('\n');
  });
  router.get('/recovery-codes/print', load, async (ctx) => {
    const { tx, codes } = recoveryCodes(ctx);
    const account = await services.accounts.findById(tx.accountId!);
    await views.send(ctx, 'recovery-print', { title: 'Recovery codes', codes, username: account?.username ?? '', issuer: services.config.issuer, made: new Date().toISOString().slice(0, 10) });
  });
  // The password form's answer is the next screen, shown at this address: opening the address
  // again (a restored tab, Enter in the address bar) goes to wherever the sign-in now stands.
  router.get('/login', load, (ctx) => {
    ctx.status = 303;
    ctx.redirect(`/interaction/${(ctx.state.interaction as InteractionState).facts.uid}`);
  });
  router.post('/login', load, csrf, step(({ facts, tx, who }, ctx) =>
    passwordThenNext(services, facts, tx, who, { username: field(ctx, 'username'), password: field(ctx, 'password') })));
  router.post('/enrol', load, csrf, step(({ tx, who }, ctx) => enrol.chooseMethod(services, tx, who, field(ctx, 'method'))));
  router.post('/enrol/action', load, csrf, step(({ tx, who }, ctx) => enrol.submitEnrolmentAction(services, tx, who, field(ctx, 'action') ?? '', stringFields(ctx))));
  router.post('/enrol/verify', load, csrf, step(({ tx, who }, ctx) => enrol.submitEnrolmentCode(services, tx, who, field(ctx, 'code'))));
  router.post('/enrol/cancel', load, csrf, step(({ tx }) => enrol.cancelEnrolment(services, tx)));
  router.post('/enrol/skip', load, csrf, step(({ tx, who }) => enrol.skipEnrolment(services, tx, who)));
  router.post('/setup', load, csrf, step(({ tx }) => enrol.setupAnother(services, tx)));
  router.post('/finish', load, csrf, step(({ tx, who }) => finish.submitFinish(services, tx, who)));
  router.post('/challenge/verify', load, csrf, step(({ facts, tx, who }, ctx) => challenge.submitChallengeCode(services, facts, tx, who, field(ctx, 'code'))));
  router.post('/challenge/action', load, csrf, step(({ tx, who }, ctx) => challenge.submitChallengeAction(services, tx, who, field(ctx, 'action') ?? '')));
  router.post('/methods', load, csrf, step(({ tx }) => challenge.showMethods(services, tx)));
  router.post('/methods/choose', load, csrf, step(({ tx }, ctx) => challenge.chooseFactor(services, tx, field(ctx, 'factor'))));

  router.post('/consent', load, csrf, async (ctx) => {
    const { details, facts } = ctx.state.interaction as InteractionState;
    if (details.prompt.name !== 'consent') return respond(ctx, { kind: 'continue' });
    if (field(ctx, 'decision') !== 'allow') {
      return respond(ctx, { kind: 'abort', error: 'access_denied', description: `the user did not allow ${facts.client.name} access` });
    }
    return consentResult(ctx, await approve(provider, details));
  });

  router.post('/abort', load, csrf, (ctx) =>
    respond(ctx, { kind: 'abort', error: 'access_denied', description: 'the user cancelled the sign-in' }));

  return router;
}

/**
 * What provider.interactionResult does, on the interaction `load` already read for this request
 * rather than reading it from the store a second time: the result is saved on it for /auth/:uid
 * to resume with, and the address to send the browser to comes back.
 */
async function settle(details: Details, result: InteractionResults, mergeWithLastSubmission: boolean): Promise<string> {
  details.result = mergeWithLastSubmission && !('error' in result) ? { ...details.lastSubmission, ...result } : result;
  await details.save(details.exp - Math.floor(Date.now() / 1000));
  return details.returnTo;
}

async function sessionFacts(provider: Provider, details: Details): Promise<InteractionFacts['session']> {
  const session = details.session;
  if (!session?.accountId) return undefined;
  const stored = session.cookie ? await provider.Session.find(session.cookie) : undefined;
  return {
    accountId: session.accountId,
    ...(session.acr ? { acr: session.acr } : {}),
    ...(session.amr ? { amr: session.amr } : {}),
    ...(stored?.loginTs ? { loginTs: stored.loginTs } : {}),
  };
}
