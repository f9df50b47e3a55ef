// Webhooks from Vonage: SMS delivery receipts and voice call events. Both must be signed with
// VONAGE_SIGNATURE_SECRET (receipts: the signed-SMS `sig` parameter; call events: a JWT whose
// payload_hash covers the body); anything else is refused. A failed delivery is remembered for
// the sign-in it belongs to, whose challenge page then offers the other channel.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { verifySignature } from '@vonage/jwt';
import type { Config } from '../../config/schema.js';
import type { DeliveryReceipts } from '../../delivery/receipts.js';

const SMS_FAILED = new Set(['expired', 'failed', 'rejected']);
const CALL_FAILED = new Set(['busy', 'cancelled', 'failed', 'rejected', 'timeout', 'unanswered']);
const MAX_SKEW_SECONDS = 300;
const MAX_BODY = 16 * 1024;

/**
 * The request body as text, at most MAX_BODY bytes. Past that it stops reading and pauses the
 * request instead of destroying it: leaving a `for await` loop early destroys the socket, and the
 * 413 (and the request log, which reads ctx.ip from the socket) then failed as a bare 500.
 */
function rawBody(ctx: Context): Promise<string> {
  const declared = Number(ctx.get('content-length'));
  if (declared > MAX_BODY) {
    ctx.set('Connection', 'close');
    return Promise.reject(Object.assign(new Error('body too large'), { status: 413, expose: true }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const req = ctx.req;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) return void chunks.push(chunk);
      cleanup();
      req.pause();
      ctx.set('Connection', 'close');
      reject(Object.assign(new Error('body too large'), { status: 413, expose: true }));
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}

const HMAC_OF: Record<string, string> = { md5hmac: 'md5', sha1hmac: 'sha1', sha256hmac: 'sha256', sha512hmac: 'sha512' };

/**
 * The `sig` of a signed SMS webhook, as Vonage computes it: every other parameter, sorted by name,
 * as `&name=value` with `&` and `=` in values replaced by `_`; then an HMAC of that under the
 * signature secret (or, for `md5hash`, an MD5 of it with the secret appended). Computed here and
 * compared in constant time: the SDK's verifySignature wants its own upper-case method names (it
 * refused every receipt signed with our lower-case `sha256hmac`) and compares with `===`.
 */
export function smsSignature(params: Record<string, string>, secret: string, method: string): string {
  const query = Object.keys(params)
    .filter((k) => k !== 'sig')
    .sort()
    .map((k) => `&${k}=${params[k]!.replace(/[&=]/g, '_')}`)
    .join('');
  if (method === 'md5hash') return createHash('md5').update(query + secret).digest('hex');
  return createHmac(HMAC_OF[method] ?? 'sha256', secret).update(query).digest('hex');
}

/** A parsed body that is a plain set of fields (JSON `null`, arrays and numbers are not). */
const isFields = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function vonageWebhookRoutes(config: Config, receipts: DeliveryReceipts): Router {
  const router = new Router({ prefix: '/webhooks/vonage' });
  const secret = config.vonage.signatureSecret;

  const refuse = (ctx: Context, status: number, message: string) => {
    ctx.status = status;
    ctx.body = { error: message };
  };

  /** SMS delivery receipt: GET query or POST form/JSON, signed with `sig`. */
  const smsStatus = async (ctx: Context) => {
    if (!secret) return refuse(ctx, 403, 'webhooks are disabled: VONAGE_SIGNATURE_SECRET is not set');
    const raw = ctx.method === 'GET' ? '' : await rawBody(ctx);
    let params: unknown;
    try {
      params = ctx.method === 'GET' ? ctx.query : ctx.is('json') ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw));
    } catch {
      return refuse(ctx, 400, 'unreadable body');
    }
    if (!isFields(params)) return refuse(ctx, 400, 'the body must be a set of fields');
    const flat = Object.fromEntries(Object.entries(params).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const { sig, messageId, status } = flat;
    const valid = Boolean(sig) && sameHex(sig!, smsSignature(flat, secret, config.vonage.signatureMethod));
    const age = Math.abs(Date.now() / 1000 - Number(flat.timestamp));
    if (!valid || !(age <= MAX_SKEW_SECONDS)) return refuse(ctx, 401, 'invalid signature');
    if (!messageId || !status) return refuse(ctx, 400, 'messageId and status are required');
    if (messageId.length > 100) return refuse(ctx, 400, 'messageId is too long');
    await receipts.record(messageId, !SMS_FAILED.has(status), status);
    ctx.status = 204;
  };
  router.get('/sms-status', smsStatus);
  router.post('/sms-status', smsStatus);

  /** Voice call event: JSON body, `Authorization: Bearer <JWT signed with the signature secret>`. */
  router.post('/voice-event', async (ctx) => {
    if (!secret) return refuse(ctx, 403, 'webhooks are disabled: VONAGE_SIGNATURE_SECRET is not set');
    const raw = await rawBody(ctx);
    const token = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    let claims: { payload_hash?: string; iat?: number } = {};
    try {
      if (!token || !verifySignature(token, secret)) return refuse(ctx, 401, 'invalid signature');
      claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    } catch {
      return refuse(ctx, 401, 'invalid signature');
    }
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    if (!claims.payload_hash || !sameHex(claims.payload_hash, bodyHash)) return refuse(ctx, 401, 'payload does not match its signature');
    if (typeof claims.iat !== 'number' || Math.abs(Date.now() / 1000 - claims.iat) > MAX_SKEW_SECONDS) return refuse(ctx, 401, 'stale signature');
    let event: unknown;
    try {
      event = JSON.parse(raw);
    } catch {
      return refuse(ctx, 400, 'unreadable body');
    }
    if (!isFields(event) || typeof event.uuid !== 'string' || typeof event.status !== 'string') return refuse(ctx, 400, 'uuid and status are required');
    await receipts.record(event.uuid, !CALL_FAILED.has(event.status), event.status);
    ctx.status = 204;
  });

  return router;
}
