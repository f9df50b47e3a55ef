// Limits on sending codes, against SMS pumping and toll fraud. Text messages and calls count
// together. A send first claims the resend cooldown for its sign-in and destination, then takes a
// place under every hourly and daily limit (per number, account, IP and country calling code).
// Both are atomic increments, never a read followed by a write, so parallel requests from many
// sign-ins cannot slip past a limit together. A send that fails gives its places and its cooldown
// back. Phone numbers appear in keys only as a keyed hash.
import type { Config } from '../config/schema.js';
import type { Keyring } from '../crypto/keyring.js';
import type { SecurityEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { SessionStore } from '../store/session-store.js';
import { rangeOf, type Channel } from '../phone/phone.js';

export interface SendRequest {
  accountId: string;
  /** The interaction (or account-page operation) asking. */
  bindingId: string;
  e164: string;
  callingCode: string;
  channel: Channel;
  ip: string;
}

export type Reservation =
  | { ok: true; commit(): Promise<void>; release(): Promise<void> }
  | { ok: false; retryAfter: number; limit: string; message: string };

const HOUR = 3600;
const DAY = 86400;

/** "30 seconds", "12 minutes", "23 hours": a wait as people say it. */
export const waitText = (seconds: number): string => {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
};

export class SendLimits {
  constructor(
    private readonly store: SessionStore,
    private readonly keyring: Keyring,
    private readonly config: Config['sendLimits'],
    private readonly events: SecurityEvents,
    private readonly log: Logger,
    /** The administrator's current overrides (policy), read at every send. */
    private readonly overrides: () => Promise<Partial<Config['sendLimits']>> = async () => ({}),
  ) {}

  private async limits(): Promise<Config['sendLimits']> {
    return { ...this.config, ...(await this.overrides()) };
  }

  private hash = (value: string, purpose: string) => this.keyring.digest(value, purpose).slice(0, 22);

  private counters(req: SendRequest, c: Config['sendLimits']) {
    const number = this.hash(req.e164, 'phone');
    return [
      { key: `tf:send:n:${number}:h`, window: HOUR, limit: c.perNumberHour, name: 'number' },
      { key: `tf:send:n:${number}:d`, window: DAY, limit: c.perNumberDay, name: 'number' },
      { key: `tf:send:a:${req.accountId}:h`, window: HOUR, limit: c.perAccountHour, name: 'account' },
      { key: `tf:send:a:${req.accountId}:d`, window: DAY, limit: c.perAccountDay, name: 'account' },
      { key: `tf:send:ip:${req.ip}:h`, window: HOUR, limit: c.perIpHour, name: 'ip' },
      { key: `tf:send:ip:${req.ip}:d`, window: DAY, limit: c.perIpDay, name: 'ip' },
      { key: `tf:send:cc:${req.callingCode}:h`, window: HOUR, limit: c.perCountryHour, name: 'country' },
      { key: `tf:send:cc:${req.callingCode}:d`, window: DAY, limit: c.perCountryDay, name: 'country' },
    ];
  }

  private cooldownKey = (req: SendRequest) => `tf:send:cool:${req.bindingId}:${req.channel}:${this.hash(req.e164, 'phone')}`;
  private rangeKey = (e164: string) => `tf:send:range:${this.hash(rangeOf(e164), 'phone-range')}`;

  /** Seconds until the next send to this destination in this sign-in is allowed (0: now). */
  async cooldownLeft(req: SendRequest): Promise<number> {
    return (await this.store.peek(this.cooldownKey(req))).ttl;
  }

  async reserve(req: SendRequest): Promise<Reservation> {
    const limits = await this.limits();
    const counters = this.counters(req, limits);
    // Each send to a number this hour doubles the wait before the next one (30 s, 60 s, 120 s, ...).
    const sentThisHour = Math.max(0, (await this.store.peek(counters[0]!.key)).count);
    const cooldown = Math.min(limits.cooldownSeconds * 2 ** Math.min(sentThisHour, 20), limits.maxCooldownSeconds);

    const claim = await this.store.increment(this.cooldownKey(req), cooldown);
    if (claim.count > 1) {
      return this.refuse(req, 'cooldown', claim.ttl, `Wait ${waitText(claim.ttl)} before asking for another code.`);
    }
    const releaseCooldown = () => this.store.delete(this.cooldownKey(req));

    // Take the place first, then look: a limit of 3 lets exactly 3 of 10 parallel sends through.
    const limited = counters.filter((c) => c.limit > 0);
    const states = await Promise.all(limited.map((c) => this.store.increment(c.key, c.window)));
    const giveBack = () => Promise.all(limited.map((c) => this.store.increment(c.key, c.window, -1)));
    const over = limited.findIndex((c, i) => states[i]!.count > c.limit);
    if (over >= 0) {
      await Promise.all([giveBack(), releaseCooldown()]);
      const { name } = limited[over]!;
      const wait = waitText(Math.max(1, states[over]!.ttl));
      const message =
        name === 'number'
          ? `Too many codes sent to this number. Try again in ${wait} or use another method.`
          : name === 'account'
            ? `Too many codes requested for your account. Try again in ${wait} or use another method.`
            : name === 'ip'
              ? `Too many codes requested from your network. Try again in ${wait} or use another method.`
              : `Too many codes sent to this country right now. Try again in ${wait} or use another method.`;
      return this.refuse(req, name, states[over]!.ttl, message);
    }

    return {
      ok: true,
      release: async () => {
        await Promise.all([giveBack(), releaseCooldown()]);
      },
      commit: () => this.watchRange(req),
    };
  }

  /** A code sent to the number was verified: the number range is in real use. */
  async verified(e164: string): Promise<void> {
    await this.store.increment(`${this.rangeKey(e164)}:ok`, HOUR);
  }

  /** Many sends to one number range with few verifications is what SMS pumping looks like. */
  private async watchRange(req: SendRequest): Promise<void> {
    if (this.config.prefixAlertSends <= 0) return;
    const key = this.rangeKey(req.e164);
    const [sent, ok] = await Promise.all([this.store.increment(`${key}:sent`, HOUR), this.store.peek(`${key}:ok`)]);
    if (sent.count < this.config.prefixAlertSends || ok.count / sent.count >= this.config.prefixAlertMinVerifiedRatio) return;
    const first = await this.store.increment(`${key}:alerted`, HOUR);
    if (first.count !== 1) return;
    const range = `${rangeOf(req.e164)}xxxx`;
    this.log.warn({ range, sent: sent.count, verified: ok.count, alert: 'sms_pumping_suspected' }, 'many codes sent to one number range with few verifications');
    this.events.emit({ type: 'abuse.range_alert', outcome: 'info', accountId: req.accountId, ip: req.ip, reason: 'sms_pumping_suspected', details: { range, sent: sent.count, verified: ok.count, channel: req.channel } });
  }

  private refuse(req: SendRequest, limit: string, retryAfter: number, message: string): Reservation {
    this.events.emit({
      type: 'code.refused',
      outcome: 'failure',
      accountId: req.accountId,
      ip: req.ip,
      reason: `limit_${limit}`,
      details: { channel: req.channel, country: req.callingCode, limit },
    });
    return { ok: false, retryAfter: Math.max(1, retryAfter), limit, message };
  }
}
