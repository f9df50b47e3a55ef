// Codes through Vonage (@vonage/server-sdk 3.27.0): text messages through the SMS API (API key +
// secret, HTTP Basic), calls through the Voice API (application id + private key, a JWT per
// request) with an NCCO that reads the code digit by digit, twice. Every request has a timeout.
// VONAGE_REST_HOST / VONAGE_API_HOST point the SDK at a proxy or, in tests, a fake server.
import { existsSync, readFileSync } from 'node:fs';
import { Vonage } from '@vonage/server-sdk';
import { SMSFailure } from '@vonage/sms';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { maskPhone } from '../phone/phone.js';
import { smsText, speechSsml, wordingFor, type Message, type SendFailure, type SendResult, type Sender } from './sender.js';

/** SMS API status codes (https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms). */
function smsFailure(status: string | undefined): SendFailure {
  switch (status) {
    case '1': // throttled
    case '5': // internal error
    case '10': // too many binds
      return 'unavailable';
    case '7': // number barred
    case '29': // non-whitelisted destination
    case '6': // invalid message (e.g. unroutable)
      return 'barred';
    case '8': // partner account barred
    case '9': // partner quota violation (out of credit)
      return 'quota';
    default:
      return 'error';
  }
}

function readPrivateKey(value: string): string {
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n');
  if (existsSync(value)) return readFileSync(value, 'utf8');
  throw new Error('VONAGE_PRIVATE_KEY is neither PEM text nor the path of a readable file');
}

/** Failures that never reached a decision at Vonage: timeouts, refused connections, HTTP 5xx. */
function transportFailure(err: unknown): { reason: SendFailure; detail: string } {
  const e = err as { name?: string; message?: string; response?: { status?: number }; cause?: { code?: string } };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return { reason: 'timeout', detail: 'no answer within the timeout' };
  const status = e?.response?.status;
  if (status === 401 || status === 403) return { reason: 'error', detail: `rejected credentials (HTTP ${status})` };
  if (status === 402) return { reason: 'quota', detail: 'out of credit (HTTP 402)' };
  if (status === 429 || (status && status >= 500)) return { reason: 'unavailable', detail: `HTTP ${status}` };
  if (status) return { reason: 'error', detail: `HTTP ${status}` };
  return { reason: 'unavailable', detail: e?.cause?.code ?? e?.message ?? 'request failed' };
}

export class VonageSender implements Sender {
  readonly name = 'vonage';
  private readonly client: Vonage;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    const v = config.vonage;
    this.client = new Vonage(
      {
        ...(v.apiKey && v.apiSecret ? { apiKey: v.apiKey, apiSecret: v.apiSecret } : {}),
        ...(v.applicationId && v.privateKey ? { applicationId: v.applicationId, privateKey: readPrivateKey(v.privateKey) } : {}),
      } as ConstructorParameters<typeof Vonage>[0],
      {
        timeout: v.timeoutMs,
        ...(v.restHost ? { restHost: v.restHost.replace(/\/+$/, '') } : {}),
        ...(v.apiHost ? { apiHost: v.apiHost.replace(/\/+$/, '') } : {}),
        appendUserAgent: 'twofold',
      },
    );
  }

  async send(message: Message): Promise<SendResult> {
    const result = message.channel === 'sms' ? await this.sendSms(message) : await this.call(message);
    if (!result.ok) this.log.warn({ channel: message.channel, to: maskPhone(message.to), reason: result.reason, detail: result.detail }, 'code delivery failed');
    return result;
  }

  private async sendSms(message: Message): Promise<SendResult> {
    try {
      const reply = await this.client.sms.send({
        to: message.to.replace(/^\+/, ''),
        from: this.config.vonage.smsFrom,
        text: smsText(message),
        type: /^[\x20-\x7e]*$/.test(smsText(message)) ? 'text' : 'unicode',
        ...(this.config.vonage.signatureSecret ? { callback: `${this.config.issuer}/webhooks/vonage/sms-status` } : {}),
      } as Parameters<Vonage['sms']['send']>[0]);
      // A reply without a JSON content type resolves without messages: that is not a success.
      const first = (reply as { messages?: Array<{ status?: string; messageId?: string }> })?.messages?.[0];
      if (first?.status === '0') return { ok: true, ...(first.messageId ? { id: first.messageId } : {}) };
      return { ok: false, reason: smsFailure(first?.status), detail: first ? `status ${first.status}` : 'reply without a message status' };
    } catch (err) {
      if (err instanceof SMSFailure) {
        // The SDK labels a single failed message "partial"; the status says what happened.
        const first = err.getMessages()[0] as { status?: string; errorText?: string } | undefined;
        return { ok: false, reason: smsFailure(first?.status), detail: `status ${first?.status ?? '?'}${first?.errorText ? `: ${first.errorText}` : ''}` };
      }
      return { ok: false, ...transportFailure(err) };
    }
  }

  private async call(message: Message): Promise<SendResult> {
    const wording = wordingFor(message.locale);
    try {
      const reply = await this.client.voice.createOutboundCall({
        to: [{ type: 'phone', number: message.to.replace(/^\+/, '') }],
        from: { type: 'phone', number: (this.config.vonage.voiceFrom ?? '').replace(/^\+/, '') },
        ncco: [{ action: 'talk', text: speechSsml(message), language: wording.voice, loop: 1, level: 0 }],
        ...(this.config.vonage.signatureSecret ? { eventUrl: [`${this.config.issuer}/webhooks/vonage/voice-event`], eventMethod: 'POST' } : {}),
      } as unknown as Parameters<Vonage['voice']['createOutboundCall']>[0]);
      const uuid = (reply as { uuid?: string })?.uuid;
      return uuid ? { ok: true, id: uuid } : { ok: false, reason: 'error', detail: 'reply without a call id' };
    } catch (err) {
      return { ok: false, ...transportFailure(err) };
    }
  }
}
