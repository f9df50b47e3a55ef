// What text-message and voice-call factors share: a verified phone number (sealed at rest), a
// code sent once when the challenge starts, resend/call-again with a growing cooldown, and a
// switch to the other channel for the same number when delivery fails. SMS and voice are separate
// factors (src/factors/sms, src/factors/voice); each is this class with its own channel.
import type { Config } from '../../config/schema.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { StoredFactor } from '../../db/repos/factors.js';
import { newFactorId } from '../../db/repos/factors.js';
import type { SecurityEvents } from '../../events.js';
import type { PolicyService } from '../../policy/service.js';
import type { Codes } from '../../codes/codes.js';
import { waitText, type SendLimits } from '../../abuse/send-limits.js';
import type { DeliveryProblem, DeliveryReceipts } from '../../delivery/receipts.js';
import { failureMessage, type Sender } from '../../delivery/sender.js';
import { callingCodeOf, checkPhone, maskPhone, type Channel } from '../../phone/phone.js';
import type { ActionOutcome, AttemptContext, EnrolledSecret, Factor, FactorState, VerifyOutcome } from '../factor.js';
import { openFactorSecret } from '../service.js';

export interface PhoneFactorDeps {
  config: Config;
  keyring: Keyring;
  codes: Codes;
  limits: SendLimits;
  sender: Sender;
  receipts: DeliveryReceipts;
  events: SecurityEvents;
  /** The instance policy: the other channel is offered only if its factor type is allowed. */
  policy: Pick<PolicyService, 'get'>;
  now: () => number;
}

/** Enrolment: the number being verified (sealed) and whether a code went out. */
interface Enrolment extends FactorState {
  factorId: string;
  sealedNumber?: string;
  masked?: string;
}

/** Challenge: which channel carries the code now, and whether one went out. */
interface Challenge extends FactorState {
  channel: Channel;
  sent: boolean;
}

const other = (channel: Channel): Channel => (channel === 'sms' ? 'voice' : 'sms');

const CALL_PROBLEMS: Record<string, string> = { busy: 'the line was busy', unanswered: 'nobody answered', timeout: 'nobody answered', rejected: 'the call was rejected' };

/** What a failed delivery receipt or call event means, in words. */
function undeliveredText(problem: DeliveryProblem): string {
  return problem.channel === 'sms' ? 'Your text message could not be delivered.' : `Your call could not be completed (${CALL_PROBLEMS[problem.status] ?? 'the call failed'}).`;
}
const channelAmr = (channel: Channel) => (channel === 'voice' ? 'tel' : 'sms');

export abstract class PhoneFactor implements Factor {
  abstract readonly type: Channel;
  abstract readonly label: string;
  abstract readonly description: string;
  /** The enrolment button: "Send code" or "Call". */
  abstract readonly sendLabel: string;

  constructor(protected readonly deps: PhoneFactorDeps) {}

  get amr(): string {
    return channelAmr(this.type);
  }

  get views() {
    return { enrol: 'factors/phone-enrol', challenge: 'factors/phone-challenge' };
  }

  private enrolmentContext = (ctx: AttemptContext, factorId: string) => `phone-enrolment:${ctx.account.id}:${factorId}`;

  // --- enrolment

  async startEnrolment(): Promise<FactorState> {
    return { factorId: newFactorId() } satisfies Enrolment;
  }

  enrolmentFactorId(state: FactorState): string {
    return (state as Enrolment).factorId;
  }

  async enrolmentAction(ctx: AttemptContext, raw: FactorState, action: string, form: Record<string, string>): Promise<ActionOutcome> {
    const state = raw as Enrolment;
    if (action !== 'send') return { state, error: `Press ${this.sendLabel}.` };
    let e164: string;
    if (!form.phone?.trim() && state.sealedNumber) {
      // An empty field after a send means "the same number again".
      e164 = this.deps.keyring.open(state.sealedNumber, this.enrolmentContext(ctx, state.factorId));
    } else {
      const check = checkPhone(form.phone, this.type, this.deps.config.phone);
      if (!check.ok) return { state, error: check.message };
      e164 = check.phone.e164;
    }
    const sent = await this.deliver(ctx, state.factorId, e164, this.type);
    if (!sent.ok) return { state, error: sent.error };
    const masked = maskPhone(e164);
    return {
      state: { factorId: state.factorId, sealedNumber: this.deps.keyring.seal(e164, this.enrolmentContext(ctx, state.factorId)), masked } satisfies Enrolment,
      notice: this.type === 'sms' ? `We sent a code to ${masked}.` : `We are calling ${masked} now. Answer and listen for the code.`,
    };
  }

  async enrolmentView(ctx: AttemptContext, raw: FactorState): Promise<Record<string, unknown>> {
    const state = raw as Enrolment;
    const problem = state.sealedNumber ? await this.deps.receipts.problem({ accountId: ctx.account.id, bindingId: ctx.bindingId, factorId: state.factorId }) : undefined;
    return {
      channel: this.type,
      masked: state.masked ?? null,
      undelivered: problem ? `${undeliveredText(problem)} Check the number, or choose ${this.type === 'sms' ? 'a voice call' : 'a text message'} or another method.` : null,
      sent: Boolean(state.sealedNumber),
      sendLabel: this.sendLabel,
      defaultCountry: this.deps.config.phone.defaultCountry,
    };
  }

  async verifyEnrolment(ctx: AttemptContext, raw: FactorState, code: string): Promise<VerifyOutcome & { enrolled?: EnrolledSecret }> {
    const state = raw as Enrolment;
    // The code must have gone to the number this enrolment holds (the HMAC covers it), so a code
    // sent to an earlier number, or a race between two sends, can never bind the wrong one.
    const e164 = state.sealedNumber ? this.deps.keyring.open(state.sealedNumber, this.enrolmentContext(ctx, state.factorId)) : '';
    const outcome = await this.deps.codes.verify({ accountId: ctx.account.id, bindingId: ctx.bindingId, factorId: state.factorId, destination: e164 }, code);
    if (!outcome.ok) return outcome;
    if (!e164) return { ok: false, reason: 'invalid', challengeOver: false, lockedFor: 0 };
    await this.deps.limits.verified(e164);
    // The name holds no digit of the number: it is stored in the clear, the number only sealed.
    return { ok: true, enrolled: { secret: e164, name: this.label } };
  }

  // --- challenge

  private numberOf(factor: StoredFactor): string {
    return openFactorSecret(this.deps.keyring, factor);
  }

  /**
   * Sends the first code, unless this sign-in already has a live one for this factor (the user went
   * to another method and came back): then it picks up where it was. Several first loads at once
   * send one code: the others find the cooldown claimed by the one sending and say it was sent.
   */
  async startChallenge(ctx: AttemptContext, factor: StoredFactor): Promise<ActionOutcome> {
    const latest = await this.deps.receipts.latest({ accountId: ctx.account.id, bindingId: ctx.bindingId, factorId: factor.id });
    if (latest) return { state: { channel: latest.channel, sent: true } satisfies Challenge };
    const started = await this.challengeSend(ctx, factor, this.type);
    if (started.limit === 'cooldown') return { state: { channel: this.type, sent: true } satisfies Challenge };
    const { limit: _limit, ...outcome } = started;
    return outcome;
  }

  async challengeAction(ctx: AttemptContext, factor: StoredFactor, raw: FactorState, action: string): Promise<ActionOutcome> {
    const state = raw as Challenge;
    if (action === 'resend') return this.challengeSend(ctx, factor, state.channel ?? this.type, state);
    if (action === 'switch' && (await this.canSwitch(this.numberOf(factor)))) return this.challengeSend(ctx, factor, other(state.channel ?? this.type), state);
    return { state, error: 'That action is not available here.' };
  }

  async challengeView(ctx: AttemptContext, factor: StoredFactor, raw: FactorState): Promise<Record<string, unknown>> {
    const state = raw as Challenge;
    const channel = state.channel ?? this.type;
    const e164 = this.numberOf(factor);
    const binding = { accountId: ctx.account.id, bindingId: ctx.bindingId, factorId: factor.id };
    const [cooldown, problem, canSwitch] = await Promise.all([
      this.deps.limits.cooldownLeft({ ...binding, e164, callingCode: callingCodeOf(e164), channel, ip: ctx.ip }),
      this.deps.receipts.problem(binding),
      this.canSwitch(e164),
    ]);
    return {
      channel,
      masked: maskPhone(e164),
      sent: state.sent,
      againLabel: channel === 'sms' ? 'Resend code' : 'Call again',
      cooldown,
      cooldownText: cooldown > 0 ? waitText(cooldown) : null,
      canSwitch,
      switchLabel: channel === 'sms' ? 'Call me instead' : 'Text me instead',
      // A receipt about the other channel (say a text that failed after the user took a call) is old news.
      undelivered:
        problem && problem.channel === channel
          ? `${undeliveredText(problem)} ${canSwitch ? `Try ${channel === 'sms' ? 'a call' : 'a text message'} instead, or use another method.` : 'Try again, or use another method.'}`
          : null,
    };
  }

  async verifyChallenge(ctx: AttemptContext, factor: StoredFactor, _state: FactorState, code: string): Promise<VerifyOutcome> {
    const e164 = this.numberOf(factor);
    const outcome = await this.deps.codes.verify({ accountId: ctx.account.id, bindingId: ctx.bindingId, factorId: factor.id, destination: e164 }, code);
    if (outcome.ok) await this.deps.limits.verified(e164);
    return outcome;
  }

  challengeAmr(raw: FactorState): string {
    return channelAmr((raw as Challenge).channel ?? this.type);
  }

  /**
   * The other channel is offered when this installation sends by it, the instance policy allows
   * its factor type (an administrator who turned text messages off gets none), and the number can
   * take it (a landline enrolled for calls is never sent a text message).
   */
  private async canSwitch(e164: string): Promise<boolean> {
    const channel = other(this.type);
    if (!this.deps.config.factors.includes(channel) || !checkPhone(e164, channel, this.deps.config.phone).ok) return false;
    return (await this.deps.policy.get()).allowedFactors.includes(channel);
  }

  private async challengeSend(ctx: AttemptContext, factor: StoredFactor, channel: Channel, previous?: Challenge): Promise<ActionOutcome & { limit?: string }> {
    const e164 = this.numberOf(factor);
    const sent = await this.deliver(ctx, factor.id, e164, channel);
    // A failed send changes nothing: the code that went out before (and its channel) still holds.
    if (!sent.ok) return { state: previous ?? ({ channel, sent: false } satisfies Challenge), error: sent.error, ...(sent.limit ? { limit: sent.limit } : {}) };
    const binding = { accountId: ctx.account.id, bindingId: ctx.bindingId, factorId: factor.id };
    await this.deps.receipts.setLatest(binding, channel, this.deps.config.codes.ttlSeconds);
    const masked = maskPhone(e164);
    // The first send needs no notice: the page itself says where the code went.
    if (!previous) return { state: { channel, sent: true } satisfies Challenge };
    return {
      state: { channel, sent: true } satisfies Challenge,
      notice: channel === 'sms' ? `We sent a new code to ${masked}.` : `We are calling ${masked} now. Answer and listen for the code.`,
    };
  }

  /**
   * Sends a fresh code by `channel`: claims the cooldown and a place under every limit, sends the
   * code, and only if it went out stores it (voiding the previous one) and keeps the claims.
   */
  private async deliver(ctx: AttemptContext, factorId: string, e164: string, channel: Channel): Promise<{ ok: true } | { ok: false; error: string; limit?: string }> {
    const { codes, limits, sender, receipts, events, config } = this.deps;
    const callingCode = callingCodeOf(e164);
    const binding = { accountId: ctx.account.id, bindingId: ctx.bindingId, factorId };
    const event = { accountId: ctx.account.id, username: ctx.account.username, ip: ctx.ip, userAgent: ctx.userAgent };
    const reservation = await limits.reserve({ ...binding, e164, callingCode, channel, ip: ctx.ip });
    if (!reservation.ok) return { ok: false, error: reservation.message, limit: reservation.limit };

    const ttlMinutes = Math.round(config.codes.ttlSeconds / 60);
    const result = await codes.issue({ ...binding, destination: e164 }, (code) => sender.send({ channel, to: e164, code, locale: ctx.locale, ttlMinutes }));
    if (!result.ok) {
      await reservation.release();
      events.emit({ type: 'code.send_failed', outcome: 'failure', ...event, reason: result.reason, details: { channel, country: callingCode, factor: this.type } });
      return { ok: false, error: failureMessage(result.reason, channel) };
    }
    await reservation.commit();
    // A new code went out: an earlier failed delivery is old news.
    await receipts.clear(binding);
    if (result.id) await receipts.remember(result.id, { ...binding, channel });
    events.emit({ type: 'code.sent', outcome: 'success', ...event, details: { channel, country: callingCode, factor: this.type, to: maskPhone(e164) } });
    return { ok: true };
  }
}
