// A fake of Vonage's HTTP APIs for tests: the real @vonage/server-sdk talks to it over HTTP
// (VONAGE_REST_HOST / VONAGE_API_HOST). It checks what Vonage would check (Basic auth for the SMS
// API, a JWT signed with the application's key for the Voice API), records every request, and
// fails on demand. It can also send signed delivery receipts and call events to Twofold.
import http from 'node:http';
import { createHash, createHmac, generateKeyPairSync, randomUUID, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export type FailureMode =
  | { kind: 'ok' }
  | { kind: 'http'; status: number }
  | { kind: 'timeout' }
  /** SMS API: a 200 with this message status (e.g. "9" partner quota exceeded, "7" barred). */
  | { kind: 'status'; status: string; errorText?: string }
  /** A 200 whose body is not JSON (no JSON content type). */
  | { kind: 'nonjson' }
  /** Succeeds, but only after `ms` milliseconds (to order parallel requests in a test). */
  | { kind: 'delay'; ms: number };

export interface RecordedSms {
  auth: { user: string; password: string } | null;
  body: Record<string, string>;
  contentType: string;
  /** The message id the fake answered with (only for a message it accepted). */
  messageId?: string;
}

export interface RecordedCall {
  jwt: { header: Record<string, unknown>; payload: Record<string, unknown>; valid: boolean } | null;
  body: { to: Array<{ type: string; number: string }>; from: { type: string; number: string }; ncco: Array<Record<string, unknown>>; event_url?: string[]; event_method?: string };
  /** The call id the fake answered with (only for a call it accepted). */
  uuid?: string;
}

export interface FakeVonageOptions {
  apiKey: string;
  apiSecret: string;
  applicationId: string;
  signatureSecret: string;
}

export class FakeVonage {
  readonly sms: RecordedSms[] = [];
  readonly calls: RecordedCall[] = [];
  smsMode: FailureMode = { kind: 'ok' };
  callMode: FailureMode = { kind: 'ok' };
  readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private server?: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();
  url = '';

  constructor(readonly options: FakeVonageOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = publicKey;
  }

  /** Environment-style configuration that points Twofold's Vonage client here. */
  config(issuerHasWebhooks = true): Record<string, unknown> {
    return {
      vonage: {
        apiKey: this.options.apiKey,
        apiSecret: this.options.apiSecret,
        applicationId: this.options.applicationId,
        privateKey: this.privateKeyPem,
        voiceFrom: '+15550100',
        smsFrom: 'Twofold',
        restHost: this.url,
        apiHost: this.url,
        timeoutMs: 800,
        ...(issuerHasWebhooks ? { signatureSecret: this.options.signatureSecret } : {}),
      },
    };
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  reset(): void {
    this.sms.length = 0;
    this.calls.length = 0;
    this.smsMode = { kind: 'ok' };
    this.callMode = { kind: 'ok' };
  }

  /** Every message and call so far, newest last: the 6-digit codes they carried. */
  codes(): string[] {
    const fromSms = this.sms.map((s) => /\b(\d{6})\b/.exec(s.body.text ?? '')?.[1]);
    const fromCalls = this.calls.map((c) => /interpret-as="digits">(\d{6})</.exec(String(c.body.ncco?.[0]?.text ?? ''))?.[1]);
    return [...fromSms, ...fromCalls].filter((c): c is string => Boolean(c));
  }

  lastSmsCode(): string {
    const text = this.sms.at(-1)?.body.text ?? '';
    const code = /\b(\d{6})\b/.exec(text)?.[1];
    if (!code) throw new Error(`no code in the last text message: ${text}`);
    return code;
  }

  lastCallCode(): string {
    const text = String(this.calls.at(-1)?.body.ncco?.[0]?.text ?? '');
    const code = /interpret-as="digits">(\d{6})</.exec(text)?.[1];
    if (!code) throw new Error(`no code in the last call: ${text}`);
    return code;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'POST' && req.url?.startsWith('/sms/json')) return this.handleSms(req, res, raw);
    if (req.method === 'POST' && req.url?.startsWith('/v1/calls')) return this.handleCall(req, res, raw);
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }

  private handleSms(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const contentType = req.headers['content-type'] ?? '';
    const body = contentType.includes('json') ? (JSON.parse(raw) as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw));
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, password] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    this.sms.push({ auth: basic ? { user: user ?? '', password: password ?? '' } : null, body, contentType });
    if (user !== this.options.apiKey || password !== this.options.apiSecret) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"type":"unauthorized"}');
      return;
    }
    const mode = this.smsMode;
    const record = this.sms.at(-1)!;
    this.answer(mode, res, () => {
      const status = mode.kind === 'status' ? mode.status : '0';
      if (status === '0') record.messageId = randomUUID();
      const message =
        status === '0'
          ? { to: body.to, 'message-id': record.messageId, status: '0', 'remaining-balance': '10.0', 'message-price': '0.05', network: '12345' }
          : { to: body.to, status, 'error-text': mode.kind === 'status' ? (mode.errorText ?? 'failed') : 'failed' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ 'message-count': '1', messages: [message] }));
    });
  }

  private handleCall(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const jwt = token ? this.checkJwt(token) : null;
    this.calls.push({ jwt, body: JSON.parse(raw) as RecordedCall['body'] });
    if (!jwt?.valid || jwt.payload.application_id !== this.options.applicationId) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"title":"Unauthorized"}');
      return;
    }
    const record = this.calls.at(-1)!;
    this.answer(this.callMode, res, () => {
      record.uuid = randomUUID();
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ uuid: record.uuid, status: 'started', direction: 'outbound', conversation_uuid: `CON-${randomUUID()}` }));
    });
  }

  /** Answers as `mode` says: a failure, or `succeed()` (at once or after a delay). */
  private answer(mode: FailureMode, res: http.ServerResponse, succeed: () => void): void {
    if (this.fail(mode, res)) return;
    if (mode.kind === 'delay') setTimeout(succeed, mode.ms);
    else succeed();
  }

  /** Resolves once the fake has received `count` text messages and calls in all. */
  async received(count: number, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.sms.length + this.calls.length < count) {
      if (Date.now() > until) throw new Error(`the fake Vonage received ${this.sms.length + this.calls.length} requests, expected ${count}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private fail(mode: FailureMode, res: http.ServerResponse): boolean {
    switch (mode.kind) {
      case 'http':
        res.writeHead(mode.status, { 'content-type': 'application/json' }).end('{"title":"Internal Error"}');
        return true;
      case 'timeout':
        this.hanging.add(res); // never answers; the client must give up on its own
        return true;
      case 'nonjson':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Service Unavailable</html>');
        return true;
      default:
        return false;
    }
  }

  private checkJwt(token: string): RecordedCall['jwt'] {
    const [h, p, s] = token.split('.');
    try {
      const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>;
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      const valid = header.alg === 'RS256' && verifySignature('RSA-SHA256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s!, 'base64url'));
      return { header, payload, valid };
    } catch {
      return { header: {}, payload: {}, valid: false };
    }
  }

  // --- webhooks Vonage sends to Twofold

  /** A signed SMS delivery receipt (sha256 HMAC, as configured by default in Twofold). */
  async sendReceipt(
    issuer: string,
    messageId: string,
    status: string,
    options: { sign?: boolean; timestamp?: number; secret?: string; tamper?: Record<string, string>; json?: boolean } = {},
  ): Promise<Response> {
    const params: Record<string, string> = {
      msisdn: '12025550123',
      to: 'Twofold',
      messageId,
      status,
      'err-code': status === 'delivered' ? '0' : '1',
      'api-key': this.options.apiKey,
      timestamp: String(options.timestamp ?? Math.floor(Date.now() / 1000)),
      nonce: randomUUID(),
    };
    if (options.sign !== false) {
      const signed = Object.keys(params)
        .sort()
        .map((k) => `&${k}=${params[k]!.replace(/[&=]/g, '_')}`)
        .join('');
      params.sig = createHmac('sha256', options.secret ?? this.options.signatureSecret).update(signed).digest('hex');
    }
    Object.assign(params, options.tamper ?? {});
    if (options.json) return fetch(`${issuer}/webhooks/vonage/sms-status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
    return fetch(`${issuer}/webhooks/vonage/sms-status`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
  }

  /** A call event signed the way Vonage signs Voice webhooks: an HS256 JWT with payload_hash. */
  async sendCallEvent(issuer: string, uuid: string, status: string, options: { secret?: string; tamper?: boolean; iat?: number; unsigned?: boolean } = {}): Promise<Response> {
    const body = JSON.stringify({ uuid, conversation_uuid: `CON-${uuid}`, status, direction: 'outbound', timestamp: new Date().toISOString() });
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iat: options.iat ?? Math.floor(Date.now() / 1000), jti: randomUUID(), iss: 'Vonage', payload_hash: createHash('sha256').update(body).digest('hex'), api_key: this.options.apiKey, application_id: this.options.applicationId }),
    ).toString('base64url');
    const signature = createHmac('sha256', options.secret ?? this.options.signatureSecret).update(`${header}.${payload}`).digest('base64url');
    const sent = options.tamper ? body.replace(status, 'completed') : body;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!options.unsigned) headers.authorization = `Bearer ${header}.${payload}.${signature}`;
    return fetch(`${issuer}/webhooks/vonage/voice-event`, { method: 'POST', headers, body: sent });
  }
}

export async function startFakeVonage(): Promise<FakeVonage> {
  return new FakeVonage({ apiKey: 'test-key', apiSecret: 'test-secret-123', applicationId: randomUUID(), signatureSecret: 'test-signature-secret-0123456789abcdef' }).start();
}
