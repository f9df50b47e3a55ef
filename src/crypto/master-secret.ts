// Development convenience: without TWOFOLD_SECRET, a random secret is generated once into the
// data directory (mode 0600) so restarts keep sessions and encrypted data readable.
// Production refuses this (config/load.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export function developmentSecret(dataDir: string): { secret: string; created: boolean; file: string } {
  const file = path.resolve(dataDir, 'secret');
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), created: false, file };
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, created: true, file };
}
