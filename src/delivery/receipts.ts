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

const failedKey = (m: Pick<SentMessage, 'accountId' | 'bindingId' | 'factorId'>) => `tf:{a:${m.accountId}}:undelivered:${m.bindingId}:${m.factorId}`;

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

  problem(m: Pick<SentMessage, 'accountId' | 'bindingId' | 'factorId'>): Promise<DeliveryProblem | undefined> {
    return this.store.getJson<DeliveryProblem>(failedKey(m));
  }

  clear(m: Pick<SentMessage, 'accountId' | 'bindingId' | 'factorId'>): Promise<void> {
    return this.store.delete(failedKey(m));
  }
}
