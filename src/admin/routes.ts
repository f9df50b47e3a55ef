// /admin/api/v1: the admin API over HTTP, built from the operation table. Every call needs a
// bearer access token that Twofold itself issued by the client credentials grant to a client
// registered with --admin, carrying the `admin` scope (checked through oidc-provider's own token
// models). No token or an invalid/expired one: 401. A user's token, or a token without the admin
// scope: 403. Errors are application/problem+json.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { TwofoldError } from '../errors.js';
import { parseInput } from '../validation.js';
import { AdminService, type Actor } from './service.js';
import { OPERATIONS } from './operations.js';
import { openApiDocument } from './openapi.js';
import type { Services } from '../services.js';

export const ADMIN_PREFIX = '/admin/api/v1';
const REALM = 'twofold-admin';

class Unauthorized extends TwofoldError {
  override readonly status = 401;
  override readonly expose = true;
}

class Forbidden extends TwofoldError {
  override readonly status = 403;
  override readonly expose = true;
}

async function authenticate(provider: Provider, ctx: Context): Promise<Actor> {
  const token = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(ctx.get('authorization'))?.[1];
  if (!token) {
    ctx.set('WWW-Authenticate', `Bearer realm="${REALM}"`);
    throw new Unauthorized('A bearer access token is required: use the client credentials grant of an admin client with scope "admin".');
  }
  const grant = await provider.ClientCredentials.find(token);
  if (!grant) {
    if (await provider.AccessToken.find(token)) throw new Forbidden("A user's access token cannot use the admin API: use the client credentials grant of an admin client.");
    ctx.set('WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_token"`);
    throw new Unauthorized('The access token is not valid or has expired.');
  }
  const clientId = grant.clientId ?? '';
  const client = await provider.Client.find(clientId);
  const isAdminClient = (client as unknown as { admin_api?: boolean } | undefined)?.admin_api === true;
  if (!client || !isAdminClient || !String(grant.scope ?? '').split(' ').includes('admin')) {
    ctx.set('WWW-Authenticate', `Bearer realm="${REALM}", error="insufficient_scope", scope="admin"`);
    throw new Forbidden('This token does not carry the admin scope of an admin client.');
  }
  return { via: 'api', clientId, ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 512) };
}

export function adminRoutes(provider: Provider, services: Services): Router {
  const admin = new AdminService(services);
  const router = new Router({ prefix: ADMIN_PREFIX });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8', onError: (err) => { throw err; } });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument(services.config.issuer);
  });

  const authenticated = async (ctx: Context, next: Next) => {
    ctx.state.actor = await authenticate(provider, ctx);
    await next();
  };

  for (const op of OPERATIONS) {
    router[op.method](op.path, authenticated, json, async (ctx: Context) => {
      const body = (ctx.request as unknown as { body?: unknown }).body;
      if (op.body && (ctx.get('content-type') ?? '').split(';')[0]?.trim() !== 'application/json') {
        ctx.throw(415, 'Send a JSON body with Content-Type: application/json.');
      }
      const input = {
        params: ctx.params as Record<string, string>,
        query: op.query ? parseInput(op.query, { ...ctx.query }) : {},
        body: op.body ? parseInput(op.body, body ?? {}) : undefined,
        actor: ctx.state.actor as Actor,
      };
      const result = await op.run(admin, input);
      ctx.status = op.status;
      if (op.status !== 204) ctx.body = result;
    });
  }

  // Anything else under the prefix: a problem document, not an HTML page.
  router.all('/{*rest}', (ctx) => {
    ctx.throw(404, `No admin API route ${ctx.method} ${ctx.path}. See ${ADMIN_PREFIX}/openapi.json.`);
  });
  return router;
}
