// The HTTP application: our middleware and pages in front, oidc-provider mounted behind them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Koa from 'koa';
import mount from 'koa-mount';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../services.js';
import { createProvider, type ProviderPages } from '../oidc/provider.js';
import { Views, VIEWS_DIR } from './views.js';
import { requestContext } from './middleware/request-context.js';
import { securityHeaders } from './middleware/security-headers.js';
import { describeError, errorHandler, markProviderOutages, outageOf, providerOutages } from './middleware/errors.js';
import { notFound } from './middleware/not-found.js';
import { interactionRoutes } from './routes/interaction.js';
import { healthRoutes } from './routes/health.js';
import { vonageWebhookRoutes } from './routes/vonage-webhooks.js';
import { ADMIN_PREFIX, adminRoutes } from '../admin/routes.js';
import { accountRoutes } from '../account/routes.js';
import { ensureAccountClient } from '../account/client.js';
import { internalRoutes } from './routes/internal.js';
import { Metrics } from '../metrics.js';
import { parseBody } from './body.js';

export interface TwofoldApp {
  app: Koa;
  provider: Provider;
  metrics: Metrics;
  views: Views;
}


function providerPages(views: Views): ProviderPages {
  return {
    async renderError(ctx, out, error) {
      const outage = outageOf(error);
      if (outage) ctx.state.outage = outage; // providerOutages adds Retry-After and counts it
      const problem = outage ? describeError(error) : undefined;
      const status = problem?.status ?? ctx.status;
      const message = problem?.detail ?? friendlyOidcError(out.error, out.error_description);
      await views.send(ctx, 'error', { title: 'Sign-in problem', heading: problem ? problem.title : 'Sign-in problem', message, requestId: ctx.state.requestId as string }, status);
    },
    // oidc-provider hands us its form as HTML; we render our own with the same action and xsrf
    // secret (kept in the session's logout state) so the buttons sit inside the form.
    async logoutSource(ctx) {
      const client = ctx.oidc.client;
      await views.send(ctx, 'logout', {
        title: 'Sign out?',
        action: ctx.oidc.urlFor('end_session_confirm'),
        xsrf: String((ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? ''),
        clientName: client ? (client.clientName ?? client.clientId) : '',
      });
    },
    // Reached with client_id only when the user signed out of that application alone.
    async postLogoutSuccessSource(ctx) {
      const client = ctx.oidc.client;
      await views.send(ctx, 'signed-out', { title: 'Signed out', clientName: client ? (client.clientName ?? client.clientId) : '' });
    },
  };
}

/** oidc-provider's error descriptions are for developers; this says what a person can do. */
function friendlyOidcError(error: string, description?: string): string {
  switch (error) {
    case 'invalid_client':
      return 'The application that sent you here is not registered with this sign-in service. Contact the application’s administrator.';
    case 'invalid_redirect_uri':
      return 'The application asked to return you to an address it has not registered, so the sign-in was stopped for your safety.';
    case 'invalid_request':
      return `The application sent an incomplete or invalid sign-in request${description ? ` (${description})` : ''}. Go back and try again.`;
    case 'session_not_found':
    case 'invalid_grant':
      return 'This sign-in has expired or was already completed. Go back to the application and sign in again.';
    default:
      return `The sign-in could not continue${description ? ` (${description})` : ''}. Go back to the application and try again.`;
  }
}

/**
 * Runs a router's middleware only for paths under its prefix. Every request to oidc-provider
 * (authorize, token, userinfo) passes the routers mounted before it; this spares it their matching.
 */
function under<C extends Koa.Context>(prefix: string, middleware: (ctx: C, next: Koa.Next) => unknown) {
  return async (ctx: C, next: Koa.Next) => (ctx.path === prefix || ctx.path.startsWith(`${prefix}/`) ? middleware(ctx, next) : next());
}

export async function createApp(services: Services): Promise<TwofoldApp> {
  const { config, log } = services;
  const views = new Views({ cache: true, productName: 'Twofold' });
  const metrics = new Metrics();
  metrics.subscribe(services.events);
  const provider = createProvider({
    config,
    keyring: services.keyring,
    store: services.store,
    clients: services.clients,
    accounts: services.accounts,
    policy: services.policy,
    jwks: await services.signingKeys.jwks(),
    pages: providerPages(views),
  });
  markProviderOutages(provider);
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    if (!ctx.state.outage) (ctx.state.log ?? log).error({ err }, 'oidc-provider server error');
  });

  const app = new Koa();
  app.proxy = config.trustProxy > 0;
  app.maxIpsCount = config.trustProxy;
  app.keys = services.keyring.cookieKeys;
  app.silent = true;

  app.use(requestContext(log, (r) => metrics.observeRequest(r)));
  app.use(securityHeaders({ https: config.issuer.startsWith('https://') }));
  app.use(errorHandler(views, (store) => metrics.storeError(store)));
  app.use(notFound(provider));
  app.use(providerOutages((store) => metrics.storeError(store)));

  // The few static files, read once.
  const statics = new Map(
    (['twofold.css', 'print.js'] as const).map((name) => [name, { body: readFileSync(path.join(VIEWS_DIR, 'static', name)), type: name.endsWith('.css') ? 'text/css' : 'text/javascript' }]),
  );
  const pages = new Router();
  pages.get('/static/:file', (ctx) => {
    const file = statics.get(ctx.params.file as 'twofold.css');
    if (!file) return ctx.throw(404, 'No such file.');
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  });
  pages.get('/', async (ctx) => {
    await views.send(ctx, 'home', { title: 'Twofold', issuer: config.issuer });
  });
  pages.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  const health = healthRoutes([
    { name: 'database', ping: () => services.db.ping() },
    { name: 'sessionStore', ping: () => services.store.ping() },
  ]);
  const interactions = interactionRoutes(provider, services, views);

  app.use(pages.routes());
  app.use(health.routes());
  app.use(under('/webhooks/vonage', vonageWebhookRoutes(config, services.receipts).routes()));
  app.use(internalRoutes(services).routes());
  await ensureAccountClient(services);
  const account = accountRoutes(provider, services, views);
  app.use(under('/account', account.routes()));
  app.use(under('/account', account.allowedMethods()));
  const admin = adminRoutes(provider, services);
  app.use(under(ADMIN_PREFIX, admin.routes()));
  app.use(under(ADMIN_PREFIX, admin.allowedMethods({ throw: true })));
  app.use(async (ctx, next) => (ctx.path.startsWith('/interaction/') ? parseBody(ctx, next) : next()));
  app.use(under('/interaction', interactions.routes()));
  app.use(under('/interaction', interactions.allowedMethods()));
  if (config.demo) {
    const { demoRoutes } = await import('../demo/routes.js');
    app.use(demoRoutes(config, views).routes());
  }
  app.use(mount(provider as unknown as Koa));
  return { app, provider, metrics, views };
}
