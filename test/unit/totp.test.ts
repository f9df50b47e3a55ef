// The TOTP module against the RFCs' own test vectors, and the window rule Twofold applies.
// Everything goes through src/factors/totp/otp.ts and src/factors/attempts.ts (parseCode): the
// code that signs users in, not otplib called directly.
import { expect } from 'chai';
import { hotp, matchTotp, newTotpSecret, timeStep, totp, type TotpAlgorithm, type TotpParams } from '../../src/factors/totp/otp.js';
import { parseCode } from '../../src/factors/attempts.js';

const ascii = (s: string) => new TextEncoder().encode(s);

/** RFC 4648 Base32 (no padding), as an authenticator app reads the key. */
function base32Decode(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text.replace(/=+$/, '')) {
    const index = alphabet.indexOf(ch);
    if (index < 0) throw new Error(`not Base32: ${ch}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

describe('TOTP module (src/factors/totp/otp.ts)', () => {
  describe('[item 13] RFC 4226 Appendix D: HOTP, secret "12345678901234567890", counts 0-9', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expected.forEach((code, counter) => {
      it(`count ${counter} -> ${code}`, async () => {
        expect(await hotp(ascii('12345678901234567890'), counter)).to.equal(code);
      });
    });
  });

  describe('[item 14] RFC 6238 Appendix B: 18 values with the 20/32/64-byte seeds', () => {
    const seeds: Record<TotpAlgorithm, Uint8Array> = {
      sha1: ascii('12345678901234567890'),
      sha256: ascii('12345678901234567890123456789012'),
      sha512: ascii('1234567890'.repeat(6) + '1234'),
    };
    it('uses seeds of exactly 20, 32 and 64 bytes', () => {
      expect([seeds.sha1.length, seeds.sha256.length, seeds.sha512.length]).to.deep.equal([20, 32, 64]);
    });
    const table: Array<[number, string, string, string]> = [
      [59, '94287082', '46119246', '90693936'],
      [1111111109, '07081804', '68084774', '25091201'],
      [1111111111, '14050471', '67062674', '99943326'],
      [1234567890, '89005924', '91819424', '93441116'],
      [2000000000, '69279037', '90698825', '38618901'],
      [20000000000, '65353130', '77737706', '47863826'],
    ];
    for (const [time, sha1, sha256, sha512] of table) {
      for (const [algorithm, code] of [['sha1', sha1], ['sha256', sha256], ['sha512', sha512]] as const) {
        it(`T=${time} ${algorithm.toUpperCase()} -> ${code}`, async () => {
          const params: TotpParams = { period: 30, digits: 8, algorithm };
          expect(await totp(seeds[algorithm], time, params)).to.equal(code);
        });
      }
    }
  });

  describe('[item 16] window: T-1, T and T+1 pass; T-2 and T+2 fail; only the server clock counts', () => {
    const params: TotpParams = { period: 30, digits: 6, algorithm: 'sha1' };
    // A fixed 20-byte key, so no code from T±2 or T±3 can by chance equal one inside the window.
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    // The middle of a step and both of its edges, so the rule holds wherever "now" falls.
    for (const now of [1_700_000_010, 1_700_000_025, 1_700_000_040, 1_700_000_049]) {
      const T = timeStep(now, 30);
      it(`at ${now} (step ${T}) accepts exactly steps ${T - 1}..${T + 1}`, async () => {
        const results: Record<string, number | null> = {};
        for (const delta of [-3, -2, -1, 0, 1, 2, 3]) {
          const code = await totp(secret, (T + delta) * 30, params);
          results[delta] = await matchTotp(secret, code, now, params);
        }
        expect(results).to.deep.equal({ '-3': null, '-2': null, '-1': T - 1, 0: T, 1: T + 1, 2: null, 3: null });
      });
    }
    it('returns the time step a code belongs to (what replay protection records)', async () => {
      const now = 1_800_000_000;
      const code = await totp(secret, now + 30, params);
      expect(await matchTotp(secret, code, now, params)).to.equal(timeStep(now, 30) + 1);
    });
  });

  describe('[item 17] new secrets', () => {
    it('are 20 bytes (160 bits) of Base32, different every time', () => {
      const secrets = Array.from({ length: 50 }, () => newTotpSecret());
      for (const s of secrets) {
        expect(s).to.match(/^[A-Z2-7]{32}$/);
        expect(base32Decode(s)).to.have.length(20);
      }
      expect(new Set(secrets).size).to.equal(50);
    });
  });

  describe('parseCode: anything but exactly six ASCII digits never reaches the verifier', () => {
    it('accepts six digits', () => {
      expect(parseCode('012345')).to.equal('012345');
      expect(parseCode('12345678', 8)).to.equal('12345678');
    });
    const bad: Array<[string, unknown]> = [
      ['letters', '12a456'],
      ['all letters', 'abcdef'],
      ['a space inside', '123 456'],
      ['a leading space', ' 123456'],
      ['a trailing newline', '123456\n'],
      ['5 digits', '12345'],
      ['7 digits', '1234567'],
      ['empty', ''],
      ['10 kB of digits', '1'.repeat(10_240)],
      ['non-ASCII digits', '١٢٣٤٥٦'],
      ['full-width digits', '１２３４５６'],
      ['a sign', '+12345'],
      ['a number, not a string', 123456],
      ['an array of codes', ['123456', '654321']],
      ['undefined', undefined],
    ];
    for (const [what, input] of bad) {
      it(`rejects ${what}`, () => {
        expect(parseCode(input)).to.equal(null);
      });
    }
  });
});
