// Password sign-in throttling, per account and per client IP, in the session store. Unknown
// usernames are counted exactly like known ones, so the answer never says which exist.
import type { Config } from '../config/schema.js';
import { keys, type SessionStore } from '../store/session-store.js';
import { usernameKey } from '../db/repos/accounts.js';

export class SignInThrottle {
  constructor(
    private readonly store: SessionStore,
    private readonly config: Config['signIn'],
  ) {}

  private get window(): number {
    return this.config.windowMinutes * 60;
  }

  /** Seconds until another attempt is allowed (0: go ahead). */
  async retryAfter(username: string, ip: string): Promise<number> {
    const [account, client] = await Promise.all([
      this.store.peek(keys.signInFailuresAccount(usernameKey(username))),
      this.store.peek(keys.signInFailuresIp(ip)),
    ]);
    const waits = [
      this.config.maxFailuresPerAccount > 0 && account.count >= this.config.maxFailuresPerAccount ? account.ttl : 0,
      this.config.maxFailuresPerIp > 0 && client.count >= this.config.maxFailuresPerIp ? client.ttl : 0,
    ];
    return Math.max(...waits);
  }

  /** Counts a failure; returns true when this one locked the account (it reached the limit). */
  async recordFailure(username: string, ip: string): Promise<boolean> {
    const [account] = await Promise.all([
      this.store.increment(keys.signInFailuresAccount(usernameKey(username)), this.window),
      this.store.increment(keys.signInFailuresIp(ip), this.window),
    ]);
    return this.config.maxFailuresPerAccount > 0 && account.count === this.config.maxFailuresPerAccount;
  }

  async recordSuccess(username: string): Promise<void> {
    await this.store.delete(keys.signInFailuresAccount(usernameKey(username)));
  }

  /** `user unlock`: forget the account's password failures. */
  async unlock(username: string): Promise<void> {
    await this.store.delete(keys.signInFailuresAccount(usernameKey(username)));
  }
}

export const minutesFrom = (seconds: number): number => Math.max(1, Math.ceil(seconds / 60));
export const tryAgainIn = (seconds: number): string => {
  const minutes = minutesFrom(seconds);
  return `try again in ${minutes} minute${minutes === 1 ? '' : 's'}`;
};
