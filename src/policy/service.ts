// The instance policy: when a second factor is required, which factors users may enrol, and the
// optional rollout grace period. Stored durably and read on each sign-in, so a change made by an
// administrator applies to the very next one on every instance.
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { SettingsRepo } from '../db/repos/settings.js';
import type { Database } from '../db/schema.js';
import { parseInput } from '../validation.js';
import { GraceSkips, graceOffer, type GraceOffer } from './grace.js';

export const FACTOR_TYPES = ['totp', 'sms', 'voice'] as const;
export type FactorType = (typeof FACTOR_TYPES)[number];

/** Authenticator app parameters for apps set up from now on; unset ones come from the configuration. */
export const totpOverridesSchema = z
  .object({
    period: z.number().int().min(15).max(120).optional(),
    digits: z.union([z.literal(6), z.literal(8)]).optional(),
    algorithm: z.enum(['sha1', 'sha256', 'sha512']).optional(),
  })
  .strict();

/** Send limits (see the configuration's sendLimits) an administrator can change at run time. */
export const SEND_LIMIT_NAMES = [
  'cooldownSeconds',
  'maxCooldownSeconds',
  'perNumberHour',
  'perNumberDay',
  'perAccountHour',
  'perAccountDay',
  'perIpHour',
  'perIpDay',
  'perCountryHour',
  'perCountryDay',
] as const;
export type SendLimitName = (typeof SEND_LIMIT_NAMES)[number];
export const sendLimitOverridesSchema = z
  .object(Object.fromEntries(SEND_LIMIT_NAMES.map((name) => [name, z.number().int().min(0).max(1_000_000).optional()])) as Record<SendLimitName, z.ZodOptional<z.ZodNumber>>)
  .strict();

export const policySchema = z
  .object({
    /** `all`: every sign-in needs a second factor; `per-client`: only clients with require_mfa (or a request asking for it). */
    requireMfa: z.enum(['all', 'per-client']).default('per-client'),
    /** Factor types users may enrol and use. */
    allowedFactors: z.array(z.enum(FACTOR_TYPES)).min(1).default([...FACTOR_TYPES]),
    /**
     * Rollout grace: users without a factor may skip enrolment this many times each (0: off)...
     * A skipped sign-in ends with acr=pwd; the relying party sees that nothing more was done.
     */
    graceSkips: z.number().int().min(0).max(100).default(0),
    /** ...and only until this date (ISO 8601; unset: no date limit). Never applies when the relying party asked for acr_values=mfa. */
    graceUntil: z.iso.datetime({ offset: true }).nullable().default(null),
    /** Overrides of the configured authenticator app parameters (new enrolments only). */
    totp: totpOverridesSchema.default({}),
    /** Overrides of the configured send limits. */
    sendLimits: sendLimitOverridesSchema.default({}),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;

const KEY = 'policy';

export class PolicyService {
  private readonly graceSkips: GraceSkips;

  constructor(
    private readonly settings: SettingsRepo,
    db: Kysely<Database>,
  ) {
    this.graceSkips = new GraceSkips(db);
  }

  async get(): Promise<Policy> {
    return policySchema.parse((await this.settings.get<unknown>(KEY)) ?? {});
  }

  /** Merges the changes into the current policy (overrides field by field), validates, and stores it. */
  async set(changes: Partial<Policy>): Promise<Policy> {
    const current = await this.get();
    const merged = {
      ...current,
      ...changes,
      totp: dropNulls({ ...current.totp, ...changes.totp }),
      sendLimits: dropNulls({ ...current.sendLimits, ...changes.sendLimits }),
    };
    const next = parseInput(policySchema, merged);
    await this.settings.set(KEY, next);
    return next;
  }

  /** The rollout grace an account without a factor has left (null: it must set one up now). */
  async graceFor(accountId: string, nowMs: number): Promise<GraceOffer | null> {
    const policy = await this.get();
    if (!graceOffer(policy, 0, nowMs)) return null;
    return graceOffer(policy, await this.graceSkips.used(accountId), nowMs);
  }

  /** Uses one of the account's skips; false when none is left (also when two tabs race for the last). */
  async takeGraceSkip(accountId: string, nowMs: number): Promise<boolean> {
    const policy = await this.get();
    if (!graceOffer(policy, 0, nowMs)) return false;
    return this.graceSkips.take(accountId, policy.graceSkips, nowMs);
  }
}

/** An override set to null goes back to the configured value. */
function dropNulls<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as T;
}
