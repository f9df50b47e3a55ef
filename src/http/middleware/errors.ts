// Turns anything thrown below into an answer a person understands: our typed errors keep their
// status and message; an unreachable Redis or database is a 503 "try again" page (with
// Retry-After, counted once per request); everything else is a 500 that shows only a reference id
// (the details go to the log).
import type { Context, Middleware } from 'koa';
import { MethodNotAllowed, ServiceUnavailable, TwofoldError } from '../../errors.js';
import { isRedisOutage } from '../../store/outage.js';
import { isUnavailable as isDatabaseOutage } from '../../db/errors.js';
import type { Views } from '../views.js';
import type { Logger } from '../../log.js';

/** Which backing service an error says is down, if any. */
export function outageOf(err: unknown): string | undefined {
  if (err instanceof ServiceUnavailable) return err.service;
  if (isRedisOutage(err)) return 'redis';
  if (isDatabaseOutage(err)) return 'database';
  const cause = (err as { cause?: unknown })?.cause;
  return cause && cause !== err ? outageOf(cause) : undefined;
}

export interface Problem {
  status: number;
  title: string;
  detail: string;
}

/** What to tell the client about an error. */
export function describeError(err: unknown): Problem {
  const service = outageOf(err);
  if (service) return { status: 503, title: 'Temporarily unavailable', detail: 'The service is temporarily unavailable. Please try again in a moment.' };
  if (err instanceof TwofoldError && err.expose) return { status: err.status, title: titleFor(err.status), detail: err.message };
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string };
  const status = e?.status ?? e?.statusCode;
  if (status && status >= 400 && status < 500) {
    return { status, title: titleFor(status), detail: e.expose && e.message ? clientMessage(status, e.message) : titleFor(status) };
  }
  return { status: 500, title: 'Something went wrong', detail: 'Something went wrong on our side. Please try again; if it keeps happening, contact your administrator.' };
}

function clientMessage(status: number, message: string): string {
  if (status === 413) return 'The form you sent is too large.';
  if (status === 415) return 'That kind of request body is not accepted here.';
  if (/invalid|parse|unexpected/i.test(message) && status === 400) return 'The request could not be read. Check what you sent and try again.';
  return message;
}

export function titleFor(status: number): string {
  switch (status) {
    case 400: return 'Bad request';
    case 401: return 'Not signed in';
    case 403: return 'Not allowed';
    case 404: return 'Not found';
    case 405: return 'Method not allowed';
    case 409: return 'Conflict';
    case 413: return 'Too large';
    case 415: return 'Unsupported content';
    case 429: return 'Too many attempts';
    case 503: return 'Temporarily unavailable';
    default: return status >= 500 ? 'Something went wrong' : 'Request not accepted';
  }
}

/** Seconds a client is told to wait before trying again while a store is away. */
export const RETRY_AFTER_SECONDS = 5;

/** Told once per request that failed because a backing store (Redis, the database) was unreachable. */
export type OutageListener = (service: string) => void;

export const wantsJson = (ctx: Context): boolean =>
  ctx.path.startsWith('/admin/api') || (!ctx.accepts('html') && Boolean(ctx.accepts('json')));

export function errorHandler(views: Views, onOutage: OutageListener = () => {}): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const problem = describeError(err);
      const log = ctx.state.log as Logger;
      const outage = outageOf(err);
      if (outage) {
        onOutage(outage);
        // Expected while a store is away: one line without the stack, the request id ties it up.
        log.warn({ outage, reason: (err as Error)?.message }, 'request failed: a backing store is unavailable');
      } else if (problem.status >= 500) log.error({ err }, 'request failed');
      else log.info({ status: problem.status, reason: problem.detail }, 'request refused');
      if (problem.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      if (err instanceof TwofoldError && 'retryAfterSeconds' in err) ctx.set('Retry-After', String(err.retryAfterSeconds));
      if (err instanceof MethodNotAllowed) ctx.set('Allow', err.allow.join(', '));
      if (wantsJson(ctx)) {
        ctx.status = problem.status;
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'about:blank', ...problem, instance: ctx.state.requestId };
        return;
      }
      await views.send(ctx, 'error', { title: problem.title, heading: problem.title, message: problem.detail, requestId: ctx.state.requestId }, problem.status);
    }
  };
}

/**
 * Marks ctx.state.outage for every error oidc-provider reports that says a store is away. An
 * ioredis error reaches it unexposed ('server_error'), but our ServiceUnavailable is an exposed
 * error, so the provider reports it under the endpoint's own event ('grant.error',
 * 'userinfo.error'...) with status 500. Every '*.error' event carries (ctx, err), so one wrapper
 * sees them all, whatever endpoints a later oidc-provider adds.
 */
export function markProviderOutages(provider: { emit(event: string | symbol, ...args: unknown[]): boolean }): void {
  const emit = provider.emit.bind(provider);
  provider.emit = (event: string | symbol, ...args: unknown[]) => {
    if (typeof event === 'string' && (event === 'server_error' || event.endsWith('.error'))) {
      const [ctx, err] = args as [{ state?: Record<string, unknown> } | undefined, unknown];
      const outage = outageOf(err);
      if (outage && ctx?.state) ctx.state.outage = outage;
    }
    return emit(event, ...args);
  };
}

/**
 * oidc-provider renders its own errors, so an outage under its endpoints never reaches
 * errorHandler: it arrives as a 500. markProviderOutages and renderError mark
 * ctx.state.outage; this turns the answer into 503 with Retry-After, and for the endpoints
 * that speak JSON (token, userinfo, introspection...) into the OAuth error
 * `temporarily_unavailable`. Counted here, once.
 */
export function providerOutages(onOutage: OutageListener): Middleware {
  return async (ctx, next) => {
    await next();
    const outage = ctx.state.outage as string | undefined;
    if (!outage) return;
    onOutage(outage);
    if (ctx.status >= 500) {
      ctx.status = 503;
      if (wantsJson(ctx) || ctx.type === 'application/json') {
        ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable, try again' };
      }
    }
    if (ctx.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  };
}
