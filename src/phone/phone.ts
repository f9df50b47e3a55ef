// Phone numbers: parsed and validated with libphonenumber-js (the "max" metadata, which knows
// number types), stored as E.164, shown masked. Premium-rate, shared-cost, toll-free, VoIP and
// other non-personal types are refused unless the configuration allows them.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { Config } from '../config/schema.js';

export type Channel = 'sms' | 'voice';

export interface PhoneNumber {
  e164: string;
  country: string | undefined;
  callingCode: string;
  type: string;
}

export type PhoneCheck = { ok: true; phone: PhoneNumber } | { ok: false; message: string };

const TYPE_WORDS: Record<string, string> = {
  PREMIUM_RATE: 'a premium-rate number',
  TOLL_FREE: 'a toll-free number',
  SHARED_COST: 'a shared-cost number',
  VOIP: 'an internet (VoIP) number',
  PERSONAL_NUMBER: 'a personal forwarding number',
  PAGER: 'a pager number',
  UAN: 'a company switchboard number',
  VOICEMAIL: 'a voicemail number',
  FIXED_LINE: 'a landline',
};

export function checkPhone(input: unknown, channel: Channel, config: Config['phone']): PhoneCheck {
  if (typeof input !== 'string' || !input.trim()) return { ok: false, message: 'Enter your phone number.' };
  if (input.length > 40) return { ok: false, message: 'That does not look like a phone number. Enter it like +1 202 555 0123.' };
  const parsed = parsePhoneNumberFromString(input, config.defaultCountry as CountryCode);
  if (!parsed || !parsed.isValid()) {
    return { ok: false, message: 'That does not look like a valid phone number. Enter it with your country code, like +1 202 555 0123.' };
  }
  if (config.allowedCountries.length > 0 && !(parsed.country && config.allowedCountries.includes(parsed.country))) {
    return { ok: false, message: 'We cannot send codes to phone numbers in that country. Use an authenticator app instead.' };
  }
  const type = parsed.getType() ?? 'UNKNOWN';
  const allowed = channel === 'sms' ? config.smsTypes : config.voiceTypes;
  if (!allowed.includes(type)) {
    const what = TYPE_WORDS[type] ?? 'a kind of number we cannot use';
    const hint = channel === 'sms' && type === 'FIXED_LINE' ? ' Use a mobile number, or choose a voice call.' : ' Use your own mobile number, or an authenticator app.';
    return { ok: false, message: `That is ${what}.${hint}` };
  }
  return { ok: true, phone: { e164: parsed.number, country: parsed.country, callingCode: parsed.countryCallingCode, type } };
}

/** "+1 ••• ••• 0123": enough for the owner to recognise the number, too little to reveal it. */
export function maskPhone(e164: string): string {
  const parsed = parsePhoneNumberFromString(e164);
  const callingCode = parsed?.countryCallingCode ?? '';
  return `+${callingCode} ••• ••• ${e164.slice(-4)}`;
}

export const callingCodeOf = (e164: string): string => parsePhoneNumberFromString(e164)?.countryCallingCode ?? 'unknown';

/** The number range a number belongs to (all but its last four digits), for pumping alerts. */
export const rangeOf = (e164: string): string => e164.slice(0, -4);
