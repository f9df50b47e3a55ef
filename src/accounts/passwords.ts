// argon2id password hashing (the `argon2` package: the reference C implementation, prebuilt).
// Parameters come from the configuration; a hash made with other parameters is upgraded at the
// next successful sign-in.
import argon2 from 'argon2';
import type { Config } from '../config/schema.js';

export type Argon2Params = Config['argon2'];

export class PasswordHasher {
  /** A hash of a random password, verified when the username is unknown so both cases take as long. */
  private dummy?: Promise<string>;

  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: this.params.memoryKiB,
      timeCost: this.params.iterations,
      parallelism: this.params.parallelism,
    });
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false; // a malformed stored hash never signs anyone in
    }
  }

  /** Spends the same work as verify() for a user that does not exist. */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash(`not-a-password-${Math.random()}`);
    await this.verify(await this.dummy, password);
    return false;
  }

  needsRehash(hash: string): boolean {
    return argon2.needsRehash(hash, {
      memoryCost: this.params.memoryKiB,
      timeCost: this.params.iterations,
      parallelism: this.params.parallelism,
    });
  }
}
