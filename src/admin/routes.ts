// /admin/api/v1: the admin API over HTTP, built from the operation table. Every call needs a
// bearer access token that Twofold itself issued by the client credentials grant to a client
// registered with --admin, carrying the `admin` scope (checked through oidc-provider's own token
// models). No token or an invalid/expired one: 401. A user's token, or a token without the admin
// scope: 403. Errors are application/problem+json.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { BadInput, Forbidden, MethodNotAllowed, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from '../errors.js';
import { parseInput } from '../validation.js';
import { AdminService, type Actor } from './service.js';
import { OPERATIONS } from './operations.js';
import { openApiDocument } from './openapi.js';
import type { Services } from '../services.js';
import { z } from 'zod';

export const ADMIN_PREFIX = '/admin/api/v1';
const REALM = 'twofold-admin';

const BODY_LIMIT = '64kb';

/** What the JSON parser's failures mean for the caller. */
function bodyError(err: unknown): never {
  const e = err as { status?: number; message?: string };
  if (e.status === 413) throw new PayloadTooLarge('The body is larger than 64 kB.');
  if (/only supports object and array/.test(e.message ?? '')) throw new BadInput('The body must be a JSON object.');
  if (e.status && e.status >= 400 && e.status < 500) throw new BadInput('The body is not valid JSON. Check its quotes, commas and braces.');
  throw new BadInput('The body could not be read. Send JSON with Content-Type: application/json.');
}

/** An operation without a body takes none (an empty object is fine): unknown fields are refused. */
const noBody = z.object({}).strict();

/** PostgreSQL cannot store U+0000 in text, and no name, address or filter needs it: refuse it anywhere in the input. */
function refuseNul(value: unknown, where = ''): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new BadInput(`${where || 'The body'} may not contain the NUL character (U+0000).`);
  } else if (Array.isArray(value)) value.forEach((v, i) => refuseNul(v, `${where}[${i}]`));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) refuseNul(v, where ? `${where}.${k}` : k);
}

const isJson = (ctx: Context) => (ctx.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';

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
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, encoding: 'utf-8', onError: bodyError });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument(services.config.issuer);
  });

  const authenticated = async (ctx: Context, next: Next) => {
    ctx.state.actor = await authenticate(provider, ctx);
    await next();
  };

  for (const op of OPERATIONS) {
    // JSON only: any other body is refused before it is read.
    const contentType = async (ctx: Context, next: Next) => {
      if (ctx.request.length || ctx.get('transfer-encoding')) {
        if (!isJson(ctx)) throw new UnsupportedMediaType('Send the body as JSON with Content-Type: application/json.');
      } else if (op.body && !isJson(ctx)) {
        throw new UnsupportedMediaType('This operation needs a JSON body with Content-Type: application/json.');
      }
      await next();
    };
    router[op.method](op.path, authenticated, contentType, json, async (ctx: Context) => {
      const body = (ctx.request as unknown as { body?: unknown }).body;
      for (const part of [ctx.params, { ...ctx.query }, body]) refuseNul(part);
      const input = {
        params: ctx.params as Record<string, string>,
        query: op.query ? parseInput(op.query, { ...ctx.query }) : parseInput(noBody, { ...ctx.query }),
        body: op.body ? parseInput(op.body, body ?? {}) : parseInput(noBody, body ?? {}),
        actor: ctx.state.actor as Actor,
      };
      const result = await op.run(admin, input);
      ctx.status = op.status;
      if (op.status !== 204) ctx.body = result;
    });
  }

  // Anything else under the prefix: a problem document, not an HTML page; a known path with
  // another method says which methods it takes.
  router.all('/{*rest}', (ctx) => {
    const path = ctx.path.slice(ADMIN_PREFIX.length);
    const allow = OPERATIONS.filter((op) => new RegExp(`^${op.path.replace(/:[A-Za-z_]+/g, '[^/]+')}$`).test(path)).map((op) => op.method.toUpperCase());
    if (allow.length) throw new MethodNotAllowed(allow);
    ctx.throw(404, `No admin API route ${ctx.method} ${ctx.path}. See ${ADMIN_PREFIX}/openapi.json.`);
  });
  return router;
}
