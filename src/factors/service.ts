// Users' enrolled factors: which exist, which a user may use, and saving, renaming, preferring
// and removing them. Secrets are sealed under the factor's own id.
import type { Account } from '../db/repos/accounts.js';
import type { FactorRepo, StoredFactor } from '../db/repos/factors.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Policy, FactorType } from '../policy/service.js';
import { NotFound } from '../errors.js';
import { isRestricted, type ChallengeFactor, type EnrolledSecret, type Factor } from './factor.js';

export const factorSealContext = (factorId: string): string => `factor:${factorId}`;

/** A stored factor's secret in the clear (TOTP seed, phone number); never for display or logs. */
export const openFactorSecret = (keyring: Keyring, factor: StoredFactor): string => keyring.open(factor.secretSealed, factorSealContext(factor.id));

export class FactorService {
  private readonly byType: Map<string, Factor>;
  private readonly fallbackByType: Map<string, ChallengeFactor>;

  /**
   * `factors`: what users enrol, in the order the method chooser lists them. `fallbacks`: ways to
   * pass a challenge that are not enrolled (recovery codes), always offered last.
   */
  constructor(
    readonly repo: FactorRepo,
    private readonly keyring: Keyring,
    readonly factors: Factor[],
    fallbacks: ChallengeFactor[] = [],
  ) {
    this.byType = new Map(factors.map((f) => [f.type, f]));
    this.fallbackByType = new Map(fallbacks.map((f) => [f.type, f]));
  }

  /** An enrollable factor by type. */
  get(type: string): Factor | undefined {
    return this.byType.get(type);
  }

  /** Anything that can answer a challenge of this type (enrollable factors and fallbacks). */
  challenger(type: string): ChallengeFactor | undefined {
    return this.byType.get(type) ?? this.fallbackByType.get(type);
  }

  isFallback(type: string): boolean {
    return this.fallbackByType.has(type);
  }

  /** Factor types the policy lets users enrol, in chooser order: RESTRICTED ones (SMS, voice) always after the others. */
  enrollable(policy: Policy): Factor[] {
    const allowed = this.factors.filter((f) => policy.allowedFactors.includes(f.type as FactorType));
    return [...allowed.filter((f) => !isRestricted(f)), ...allowed.filter((f) => isRestricted(f))];
  }

  /** The account's factors that the policy still allows, preferred first, fallbacks (recovery codes) last. */
  async usable(accountId: string, policy: Pick<Policy, 'allowedFactors'>): Promise<StoredFactor[]> {
    const all = await this.repo.listForAccount(accountId);
    // (A sign-in started before allowedFactors was kept in the transaction has none: allow all.)
    const allowed: readonly string[] = policy.allowedFactors ?? this.factors.map((f) => f.type);
    const primary = all.filter((f) => this.byType.has(f.type) && allowed.includes(f.type as FactorType));
    return [...primary, ...all.filter((f) => this.fallbackByType.has(f.type))];
  }

  list(accountId: string): Promise<StoredFactor[]> {
    return this.repo.listForAccount(accountId);
  }

  async find(accountId: string, factorId: string): Promise<StoredFactor> {
    const factor = await this.repo.find(accountId, factorId);
    if (!factor) throw new NotFound('That method is not set up on this account.');
    return factor;
  }

  /** Saves a factor whose code has just been verified. */
  save(account: Account, type: string, factorId: string, enrolled: EnrolledSecret): Promise<StoredFactor> {
    return this.repo.add({
      id: factorId,
      accountId: account.id,
      type,
      name: enrolled.name,
      secretSealed: this.keyring.seal(enrolled.secret, factorSealContext(factorId)),
    });
  }

  /** The stored secret in the clear (a phone number to send to); never for display or logs. */
  openSecret(factor: StoredFactor): string {
    return openFactorSecret(this.keyring, factor);
  }

  touch(factor: StoredFactor): Promise<void> {
    return this.repo.touch(factor.id);
  }

  removeAll(accountId: string): Promise<number> {
    return this.repo.removeAll(accountId);
  }
}
