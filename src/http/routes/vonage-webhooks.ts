// Webhooks from Vonage: SMS delivery receipts and voice call events. Both must be signed with
// VONAGE_SIGNATURE_SECRET (receipts: the signed-SMS `sig` parameter; call events: a JWT whose
// payload_hash covers the body); anything else is refused. A failed delivery is remembered for
// the sign-in it belongs to, whose challenge page then offers the other channel.
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { SMS } from '@vonage/sms';
import { verifySignature } from '@vonage/jwt';
import type { Config } from '../../config/schema.js';
import type { DeliveryReceipts } from '../../delivery/receipts.js';

const SMS_FAILED = new Set(['expired', 'failed', 'rejected']);
const CALL_FAILED = new Set(['busy', 'cancelled', 'failed', 'rejected', 'timeout', 'unanswered']);
const MAX_SKEW_SECONDS = 300;
const MAX_BODY = 16 * 1024;

async function rawBody(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) ctx.throw(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}

export function vonageWebhookRoutes(config: Config, receipts: DeliveryReceipts): Router {
  const router = new Router({ prefix: '/webhooks/vonage' });
  const secret = config.vonage.signatureSecret;
  const verifier = new SMS({ apiKey: 'unused', apiSecret: 'unused' } as ConstructorParameters<typeof SMS>[0]);

  const refuse = (ctx: Context, status: number, message: string) => {
    ctx.status = status;
    ctx.body = { error: message };
  };

  /** SMS delivery receipt: GET query or POST form/JSON, signed with `sig`. */
  const smsStatus = async (ctx: Context) => {
    if (!secret) return refuse(ctx, 403, 'webhooks are disabled: VONAGE_SIGNATURE_SECRET is not set');
    const raw = ctx.method === 'GET' ? '' : await rawBody(ctx);
    let params: Record<string, string>;
    try {
      params = ctx.method === 'GET' ? (ctx.query as Record<string, string>) : ctx.is('json') ? (JSON.parse(raw) as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw));
    } catch {
      return refuse(ctx, 400, 'unreadable body');
    }
    const flat = Object.fromEntries(Object.entries(params).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const { sig, messageId, status } = flat;
    let valid = false;
    try {
      valid = Boolean(sig) && verifier.verifySignature(sig!, flat, secret, config.vonage.signatureMethod as never);
    } catch {
      valid = false;
    }
    const age = Math.abs(Date.now() / 1000 - Number(flat.timestamp));
    if (!valid || !(age <= MAX_SKEW_SECONDS)) return refuse(ctx, 401, 'invalid signature');
    if (!messageId || !status) return refuse(ctx, 400, 'messageId and status are required');
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
    let event: { uuid?: string; status?: string };
    try {
      event = JSON.parse(raw);
    } catch {
      return refuse(ctx, 400, 'unreadable body');
    }
    if (!event.uuid || !event.status) return refuse(ctx, 400, 'uuid and status are required');
    await receipts.record(event.uuid, !CALL_FAILED.has(event.status), event.status);
    ctx.status = 204;
  });

  return router;
}
