// Form and JSON bodies for our own routes, with small limits; oidc-provider parses its own.
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { BadInput } from '../errors.js';

export const parseBody = bodyParser({
  enableTypes: ['form', 'json'],
  formLimit: '16kb',
  jsonLimit: '64kb',
  encoding: 'utf-8',
  // Limits and malformed JSON come with a 4xx status; anything else the parser throws (a
  // corrupt gzip stream, say) is still the sender's fault, never a 500.
  onError(err) {
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) throw err;
    throw new BadInput('The request body could not be read. Check what you sent and try again.');
  },
});


const bodyOf = (ctx: Context): Record<string, unknown> => (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};

/** A form field as a string, or undefined when missing or not a single string (qs arrays/objects). */
export function field(ctx: Context, name: string): string | undefined {
  const value = bodyOf(ctx)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Every form field that is a single string. */
export const stringFields = (ctx: Context): Record<string, string> =>
  Object.fromEntries(Object.entries(bodyOf(ctx)).filter((e): e is [string, string] => typeof e[1] === 'string'));

/** Who sent the request, as audit events and notices record it. */
export const whoOf = (ctx: Context): { ip: string; userAgent: string } => ({ ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 512) });

/** The language for codes read aloud and mailed: the account's own, else the browser's first ("*" means none), else English. */
export function localeFor(ctx: Context, accountLocale?: string | null): string {
  const browser = ctx.acceptsLanguages()[0];
  return accountLocale || (browser && browser !== '*' ? browser : 'en');
}
