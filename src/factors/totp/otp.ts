// RFC 4226 (HOTP) and RFC 6238 (TOTP) through otplib, with the window rule Twofold applies:
// the current time step and one on each side; the client's clock never enters into it.
import { createGuardrails, generate, generateSecret, generateURI, verify } from 'otplib';

export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

export interface TotpParams {
  period: number;
  digits: 6 | 8;
  algorithm: TotpAlgorithm;
}

/** RFC 4226 asks for 128 bits at least and recommends 160; the RFC 6238 test seeds are 20, 32 and 64 bytes. */
const guardrails = createGuardrails({ MIN_SECRET_BYTES: 16 });

/** 20 random bytes (160 bits) from the CSPRNG, Base32 for authenticator apps. */
export const newTotpSecret = (): string => generateSecret({ length: 20 });

export const timeStep = (epochSeconds: number, period: number): number => Math.floor(epochSeconds / period);

export function hotp(secret: Uint8Array | string, counter: number, digits: 6 | 8 = 6, algorithm: TotpAlgorithm = 'sha1'): Promise<string> {
  return generate({ strategy: 'hotp', secret, counter, digits, algorithm, guardrails });
}

export function totp(secret: Uint8Array | string, epochSeconds: number, params: TotpParams): Promise<string> {
  return generate({ secret, epoch: epochSeconds, period: params.period, digits: params.digits, algorithm: params.algorithm, guardrails });
}

/**
 * Checks a code that already has the right shape (see parseCode). Returns the time step it
 * belongs to, or null. One step of tolerance each way: T-1, T and T+1.
 */
export async function matchTotp(secret: string, code: string, epochSeconds: number, params: TotpParams): Promise<number | null> {
  const result = await verify({
    secret,
    token: code,
    epoch: epochSeconds,
    period: params.period,
    digits: params.digits,
    algorithm: params.algorithm,
    epochTolerance: params.period,
    guardrails,
  });
  return result.valid && 'timeStep' in result ? (result.timeStep as number) : null;
}

export function otpauthUri(secret: string, issuer: string, label: string, params: TotpParams): string {
  return generateURI({ issuer, label, secret, period: params.period, digits: params.digits, algorithm: params.algorithm });
}
