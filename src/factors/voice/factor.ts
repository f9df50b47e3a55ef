// Voice-call codes: we call a verified number and read the code aloud.
import { PhoneFactor } from '../phone/phone-factor.js';

export class VoiceFactor extends PhoneFactor {
  readonly type = 'voice' as const;
  readonly label = 'Voice call';
  readonly description = 'We call your phone and read a code aloud.';
  readonly sendLabel = 'Call';
}
