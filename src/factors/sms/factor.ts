// Text message (SMS) codes to a verified mobile number.
import { PhoneFactor } from '../phone/phone-factor.js';

export class SmsFactor extends PhoneFactor {
  readonly type = 'sms' as const;
  readonly label = 'Text message (SMS)';
  readonly description = 'We text a code to your mobile phone. Text and data rates may apply.';
  readonly sendLabel = 'Send code';
}
