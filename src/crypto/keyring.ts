// Keys derived from the master secret (TWOFOLD_SECRET) with HKDF, one per purpose, so that no
// key is used for two things. Earlier secrets stay in the ring for reading what they sealed and
// for verifying old cookies, which is how the secret rotates (see the README).
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const SALT = 'twofold/v1';
const derive = (secret: string, purpose: string, length = 32): Buffer =>
  Buffer.from(hkdfSync('sha256', secret, SALT, purpose, length));

interface DataKey {
  kid: string;
  key: Buffer;
}

export class Keyring {
  private readonly dataKeys: DataKey[];
  private readonly peppers: Buffer[];
  /** Cookie signing keys for oidc-provider and our own cookies, newest first. */
  readonly cookieKeys: string[];
  /** Signs requests from the CLI to a running server on this machine (see http/routes/internal.ts). */
  private readonly internalKeys: Buffer[];

  constructor(secret: string, previous: string[] = []) {
    const secrets = [secret, ...previous];
    this.dataKeys = secrets.map((s) => {
      const key = derive(s, 'data-encryption');
      return { kid: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
    });
    this.peppers = secrets.map((s) => derive(s, 'code-pepper'));
    this.cookieKeys = secrets.map((s) => derive(s, 'cookie-keys').toString('base64url'));
    this.internalKeys = secrets.map((s) => derive(s, 'internal-operations'));
  }

  /** AES-256-GCM with a fresh IV; `context` binds the ciphertext to where it is stored (e.g. a factor id). */
  seal(plaintext: string, context: string): string {
    const { kid, key } = this.dataKeys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', kid, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, kid, iv, tag, body] = sealed.split('.');
    const entry = this.dataKeys.find((k) => k.kid === kid);
    if (version !== 'v1' || !entry || !iv || !tag || body === undefined) {
      throw new Error('sealed value has an unknown format or key id');
    }
    const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** HMAC of a code under the current pepper: what is stored. */
  digest(value: string, context: string): string {
    return Keyring.hmac(this.peppers[0]!, value, context);
  }

  /**
   * The value's HMAC under every pepper, current first: what a long-lived stored digest (a recovery
   * code) may be, whichever secret was current when it was made. Short-lived codes need only digest().
   */
  digests(value: string, context: string): string[] {
    return this.peppers.map((pepper) => Keyring.hmac(pepper, value, context));
  }

  private static hmac(pepper: Buffer, value: string, context: string): string {
    return createHmac('sha256', pepper).update(context).update('\0').update(value).digest('base64url');
  }

  /** A signature over an internal operation, under the current secret. */
  signInternal(message: string): string {
    return createHmac('sha256', this.internalKeys[0]!).update(message).digest('base64url');
  }

  verifyInternal(message: string, signature: string): boolean {
    return this.internalKeys.some((key) => Keyring.equal(createHmac('sha256', key).update(message).digest('base64url'), signature));
  }

  static equal(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }
}
