// How codes leave Twofold: a text message or a voice call. Vonage in production; the server log
// in development ("console delivery"). A sender never throws for a delivery problem: it says
// what went wrong so the user can be told what to do next.
import type { Channel } from '../phone/phone.js';

export type SendFailure =
  /** No answer within the timeout. */
  | 'timeout'
  /** The provider is down or throttling us: try again shortly. */
  | 'unavailable'
  /** The provider refused this destination (barred, not permitted). */
  | 'barred'
  /** Our account is out of credit or over quota. */
  | 'quota'
  /** Anything else. */
  | 'error';

export type SendResult = { ok: true; id?: string } | { ok: false; reason: SendFailure; detail: string };

export interface Message {
  channel: Channel;
  /** E.164 destination. */
  to: string;
  code: string;
  /** BCP 47 language tag of the user (voice calls speak it where Vonage can). */
  locale: string;
  ttlMinutes: number;
}

export interface Sender {
  readonly name: string;
  send(message: Message): Promise<SendResult>;
}

/** What each failure means for the user. */
export function failureMessage(reason: SendFailure, channel: Channel): string {
  const what = channel === 'sms' ? 'text message' : 'call';
  switch (reason) {
    case 'barred':
      return `We could not reach that number by ${what}. Try the other way to receive the code, or use another method.`;
    case 'quota':
    case 'unavailable':
    case 'timeout':
    case 'error':
    default:
      return `We could not send the ${what} just now. Try again in a moment, try the other way to receive the code, or use another method.`;
  }
}

interface Wording {
  sms: (code: string, minutes: number) => string;
  speech: (code: string) => string;
  voice: string;
}

const digits = (code: string) => `<say-as interpret-as="digits">${code}</say-as>`;

/** Languages Vonage's text-to-speech speaks, with our words in them. English is the fallback. */
const WORDING: Record<string, Wording> = {
  en: {
    sms: (c, m) => `Your Twofold sign-in code is ${c}. It expires in ${m} minutes. Never share it.`,
    speech: (c) => `Your sign-in code is ${digits(c)}. Again, your code is ${digits(c)}.`,
    voice: 'en-US',
  },
  de: {
    sms: (c, m) => `Ihr Twofold-Anmeldecode lautet ${c}. Er läuft in ${m} Minuten ab. Geben Sie ihn nie weiter.`,
    speech: (c) => `Ihr Anmeldecode lautet ${digits(c)}. Noch einmal, Ihr Code lautet ${digits(c)}.`,
    voice: 'de-DE',
  },
  fr: {
    sms: (c, m) => `Votre code de connexion Twofold est ${c}. Il expire dans ${m} minutes. Ne le partagez jamais.`,
    speech: (c) => `Votre code de connexion est ${digits(c)}. Je répète, votre code est ${digits(c)}.`,
    voice: 'fr-FR',
  },
  es: {
    sms: (c, m) => `Tu código de acceso de Twofold es ${c}. Caduca en ${m} minutos. No lo compartas nunca.`,
    speech: (c) => `Tu código de acceso es ${digits(c)}. Repito, tu código es ${digits(c)}.`,
    voice: 'es-ES',
  },
};

export function wordingFor(locale: string): Wording {
  return WORDING[locale.toLowerCase().split('-')[0] ?? 'en'] ?? WORDING.en!;
}

export const smsText = (m: Message): string => wordingFor(m.locale).sms(m.code, m.ttlMinutes);
export const speechSsml = (m: Message): string => `<speak>${wordingFor(m.locale).speech(m.code)}</speak>`;
