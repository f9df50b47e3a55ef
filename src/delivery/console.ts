// Development only: codes go to the server log instead of a phone. Production refuses to start
// without Vonage credentials for the channels it offers (config/load.ts).
import type { Logger } from '../log.js';
import { smsText, type Message, type SendResult, type Sender } from './sender.js';
import { maskPhone } from '../phone/phone.js';

export class ConsoleSender implements Sender {
  readonly name = 'console';
  constructor(private readonly log: Logger) {}

  async send(message: Message): Promise<SendResult> {
    // The one place a code reaches a log, on purpose: there is no phone in development.
    this.log.warn({ channel: message.channel, to: maskPhone(message.to), delivery: 'console' }, `DEVELOPMENT ONLY, ${message.channel} to ${maskPhone(message.to)}: ${smsText(message)}`);
    return { ok: true, id: `console-${Date.now()}` };
  }
}
