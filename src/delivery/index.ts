// Picks how each channel's codes leave: Vonage when its credentials are set, otherwise the log
// (development only; production refuses to start without credentials, see config/load.ts).
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ConsoleSender } from './console.js';
import { VonageSender } from './vonage.js';
import type { Message, SendResult, Sender } from './sender.js';

const smsByVonage = (config: Config) => Boolean(config.vonage.apiKey && config.vonage.apiSecret);
const voiceByVonage = (config: Config) => Boolean(config.vonage.applicationId && config.vonage.privateKey);

/** Offered channels whose codes would go to the log; announced at start. */
export function consoleChannels(config: Config): string[] {
  return [
    config.factors.includes('sms') && !smsByVonage(config) && 'text messages',
    config.factors.includes('voice') && !voiceByVonage(config) && 'voice calls',
  ].filter((c): c is string => Boolean(c));
}

export function createSender(config: Config, log: Logger): Sender {
  const sms = smsByVonage(config);
  const voice = voiceByVonage(config);
  const vonage = sms || voice ? new VonageSender(config, log) : undefined;
  const console = new ConsoleSender(log);
  return {
    name: vonage ? 'vonage' : 'console',
    send(message: Message): Promise<SendResult> {
      const byVonage = message.channel === 'sms' ? sms : voice;
      return (byVonage ? vonage! : console).send(message);
    },
  };
}
