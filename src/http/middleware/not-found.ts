// The answer when nothing else answered: our 405 page (with Allow) when the path exists for other
// methods, our 404 page otherwise, never Koa's bare "Not Found" text. @koa/router's
// allowedMethods() reports our own routes' methods through the Allow header it sets;
// oidc-provider's router just falls through, so its endpoints' methods are listed here.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { MethodNotAllowed, NotFound } from '../../errors.js';

/** oidc-provider's discovery documents (always served, under fixed paths). */
const DISCOVERY_PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/** oidc-provider's other endpoints (by route name) and the methods each takes, as configured in oidc/provider.ts. */
const OIDC_ROUTE_METHODS: Array<[name: string, methods: string[]]> = [
  ['authorization', ['GET', 'HEAD']],
  ['token', ['POST', 'OPTIONS']],
  ['userinfo', ['GET', 'HEAD', 'POST', 'OPTIONS']],
  ['jwks', ['GET', 'HEAD', 'OPTIONS']],
  ['revocation', ['POST', 'OPTIONS']],
  ['introspection', ['POST', 'OPTIONS']],
  ['pushed_authorization_request', ['POST', 'OPTIONS']],
  ['end_session', ['GET', 'HEAD']],
  ['end_session_confirm', ['POST']],
  ['end_session_success', ['GET', 'HEAD']],
];

function oidcMethods(provider: Provider): Map<string, string[]> {
  const byPath = new Map<string, string[]>(DISCOVERY_PATHS.map((p) => [p, ['GET', 'HEAD', 'OPTIONS']]));
  for (const [name, methods] of OIDC_ROUTE_METHODS) {
    try {
      byPath.set(provider.pathFor(name).toLowerCase(), methods);
    } catch {
      // the feature is not enabled: the path does not exist
    }
  }
  return byPath;
}

export function notFound(provider: Provider): Middleware {
  const known = oidcMethods(provider);
  return async (ctx, next) => {
    await next();
    if (ctx.body != null || ![404, 405, 501].includes(ctx.status)) return;
    const allow = ctx.status === 404 ? known.get(ctx.path.replace(/(.)\/$/, '$1').toLowerCase()) : ctx.response.get('Allow').split(/,\s*/).filter(Boolean);
    if (allow && allow.length) throw new MethodNotAllowed(allow);
    throw new NotFound('There is no page at this address. Check the link, or go back to the application you came from.');
  };
}
