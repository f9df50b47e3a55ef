// Recovery codes: 10 codes of 80 bits each (16 characters of Crockford's Base32, which leaves out
// letters that look like digits), shown once as xxxx-xxxx-xxxx-xxxx. Stored as an HMAC under the
// server pepper with the account as context: a copy of the database alone cannot be brute-forced,
// and online guessing is throttled like every other code.
import { randomBytes } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function generateRecoveryCode(): string {
  const bytes = randomBytes(10); // 80 bits -> 16 symbols of 5 bits
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = 15; i >= 0; i--) out += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return out.match(/.{4}/g)!.join('-');
}

/** Forgiving of how people type: case, spaces, dashes, and o/i/l read as 0/1/1. */
export function normaliseRecoveryCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const cleaned = input.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  return /^[0-9a-hjkmnp-tv-z]{16}$/.test(cleaned) ? cleaned : null;
}
