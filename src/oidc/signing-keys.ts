// Token signing keys (RS256 and ES256): generated once by whichever instance starts first, sealed
// and kept in the database, so every instance signs with the same keys and restarts keep them.
// Rotation adds a new pair and retires the old one, which stays published so tokens it signed
// still verify (README, "Key rotation").
import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.js';
import type { SigningKeyRepo } from '../db/repos/signing-keys.js';
import type { SettingsRepo } from '../db/repos/settings.js';

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;

/** RFC 7638 JWK thumbprint, used as the key id. */
function thumbprint(jwk: JsonWebKey): string {
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function generate(alg: (typeof SIGNING_ALGS)[number]): JsonWebKey & { kid: string; alg: string; use: string } {
  const { privateKey } =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: thumbprint(jwk), alg, use: 'sig' };
}

const sealContext = (kid: string) => `signing-key:${kid}`;

export class SigningKeys {
  constructor(
    private readonly repo: SigningKeyRepo,
    private readonly settings: SettingsRepo,
    private readonly keyring: Keyring,
  ) {}

  /** Adds a fresh RS256 + ES256 pair and retires the keys that signed until now. */
  async rotate(): Promise<string[]> {
    const active = (await this.repo.list()).filter((k) => k.retired_at === null).map((k) => k.kid);
    const fresh = SIGNING_ALGS.map(generate);
    const now = Date.now();
    await this.repo.add(fresh.map((jwk) => ({ kid: jwk.kid, alg: jwk.alg, jwk_sealed: this.keyring.seal(JSON.stringify(jwk), sealContext(jwk.kid)), created_at: now })));
    await this.repo.retire(active, now);
    return fresh.map((k) => k.kid);
  }

  /** The provider's JWKS: active keys first (they sign), then retired ones (they only verify). */
  async jwks(): Promise<{ keys: JsonWebKey[] }> {
    let rows = await this.repo.list();
    if (rows.length === 0) rows = await this.initialise();
    const ordered = [...rows.filter((r) => r.retired_at === null), ...rows.filter((r) => r.retired_at !== null)];
    return { keys: ordered.map((r) => JSON.parse(this.keyring.open(r.jwk_sealed, sealContext(r.kid))) as JsonWebKey) };
  }

  list() {
    return this.repo.list();
  }

  remove(kid: string) {
    return this.repo.remove(kid);
  }

  /** First start: one instance claims the job, the others wait for its keys. */
  private async initialise() {
    const claimed = await this.settings.claim('signing-keys-initialised');
    if (claimed) {
      await this.rotate();
    }
    for (let waited = 0; waited < 10_000; waited += 100) {
      const rows = await this.repo.list();
      if (rows.length > 0) return rows;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('signing keys were not created; another instance claimed the job but did not finish (remove the "signing-keys-initialised" setting and restart)');
  }
}
