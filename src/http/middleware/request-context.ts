// Gives every request an id (echoed in X-Request-Id and on error pages) and a child logger, and
// logs one line per request: method, path (never the query string, which may carry codes), status
// and duration.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { requestLineLogger, type Logger } from '../../log.js';

export function requestContext(log: Logger, onFinished?: (ctx: { method: string; route: string; status: number; seconds: number }) => void): Middleware {
  const lines = requestLineLogger(log);
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    // Read now: once the client has gone, its socket (and so ctx.ip) may no longer be there.
    const ip = ctx.ip;
    const incoming = ctx.get('x-request-id');
    const id = /^[A-Za-z0-9._-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    // Made on first use: most requests never log anything but their request line.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { configurable: true, enumerable: true, get: () => (child ??= log.child({ requestId: id })) });
    ctx.set('X-Request-Id', id);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = ctx.status;
      const level = status >= 500 ? 'error' : 'info';
      lines[level]({ requestId: id, method: ctx.method, path: ctx.path, status, ms: Math.round(seconds * 1000), ip }, 'request');
      onFinished?.({ method: ctx.method, route: routeLabel(ctx, status), status, seconds });
    }
  };
}

/**
 * The route a request took, as a metrics label: the router's pattern when one matched
 * (/admin/api/v1/users/:username), else the path with ids replaced; every path nothing serves is
 * "unmatched", or each scanner's probe would add a series for good.
 */
function routeLabel(ctx: { state: Record<string, unknown>; path: string; _matchedRoute?: string | RegExp }, status: number): string {
  if (typeof ctx.state.route === 'string') return ctx.state.route;
  if (typeof ctx._matchedRoute === 'string') return ctx._matchedRoute;
  return status === 404 ? 'unmatched' : routeOf(ctx.path);
}

/** A low-cardinality label for metrics: ids in paths are replaced by placeholders. */
export function routeOf(path: string): string {
  return path
    .replace(/^\/interaction\/[^/]+/, '/interaction/:uid')
    .replace(/^\/auth\/[^/]+/, '/auth/:uid')
    .replace(/\/[0-9a-f-]{36}(?=\/|$)/g, '/:id');
}
