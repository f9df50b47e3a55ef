// Delivery receipts (SMS) and call events (voice) arrive later on webhooks. We remember which
// sign-in each message belongs to, and when Vonage reports that it did not arrive, the challenge
// page says so on its next load and offers the other channel.
import type { SessionStore } from '../store/session-store.js';
import type { Channel } from '../phone/phone.js';

export interface SentMessage {
  accountId: string;
  bindingId: string;
  factorId: string;
  channel: Channel;
}

export interface DeliveryProblem {
  channel: Channel;
  status: string;
}

type Binding = Pick<SentMessage, 'accountId' | 'bindingId' | 'factorId'>;

const failedKey = (m: Binding) => `tf:{a:${m.accountId}}:undelivered:${m.bindingId}:${m.factorId}`;
const latestKey = (m: Binding) => `tf:{a:${m.accountId}}:latest:${m.bindingId}:${m.factorId}`;

export class DeliveryReceipts {
  constructor(private readonly store: SessionStore) {}

  remember(id: string, message: SentMessage): Promise<void> {
    return this.store.setJson(`tf:sent:${id}`, message, 3600);
  }

  /** Records a receipt; returns whether it matched a message we sent. */
  async record(id: string, delivered: boolean, status: string): Promise<boolean> {
    const message = await this.store.getJson<SentMessage>(`tf:sent:${id}`);
    if (!message) return false;
    if (!delivered) await this.store.setJson(failedKey(message), { channel: message.channel, status } satisfies DeliveryProblem, 900);
    return true;
  }

  problem(m: Binding): Promise<DeliveryProblem | undefined> {
    return this.store.getJson<DeliveryProblem>(failedKey(m));
  }

  clear(m: Binding): Promise<void> {
    return this.store.delete(failedKey(m));
  }

  /** Notes the channel that carried the sign-in's latest code for the factor, for as long as the code lives. */
  setLatest(m: Binding, channel: Channel, ttlSeconds: number): Promise<void> {
    return this.store.setJson(latestKey(m), { channel }, ttlSeconds);
  }

  /** The channel of the latest code sent in this sign-in for the factor, while it can still be live. */
  latest(m: Binding): Promise<{ channel: Channel } | undefined> {
    return this.store.getJson<{ channel: Channel }>(latestKey(m));
  }
}
