// The instance policy: when a second factor is required, which factors users may enrol, and the
// optional rollout grace period. Stored durably and read on each sign-in, so a change made by an
// administrator applies to the very next one on every instance.
import { z } from 'zod';
import type { SettingsRepo } from '../db/repos/settings.js';
import { parseInput } from '../validation.js';

export const FACTOR_TYPES = ['totp', 'sms', 'voice'] as const;
export type FactorType = (typeof FACTOR_TYPES)[number];

export const policySchema = z
  .object({
    /** `all`: every sign-in needs a second factor; `per-client`: only clients with require_mfa (or a request asking for it). */
    requireMfa: z.enum(['all', 'per-client']).default('per-client'),
    /** Factor types users may enrol and use. */
    allowedFactors: z.array(z.enum(FACTOR_TYPES)).min(1).default([...FACTOR_TYPES]),
    /** Rollout grace: users without a factor may skip enrolment this many times (0: off)... */
    graceSkips: z.number().int().min(0).max(100).default(0),
    /** ...and only until this date (ISO 8601; unset: no date limit). Never applies when the relying party asked for acr_values=mfa. */
    graceUntil: z.iso.datetime({ offset: true }).nullable().default(null),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;

const KEY = 'policy';

export class PolicyService {
  constructor(private readonly settings: SettingsRepo) {}

  async get(): Promise<Policy> {
    return policySchema.parse((await this.settings.get<unknown>(KEY)) ?? {});
  }

  /** Merges the changes into the current policy, validates, and stores it. */
  async set(changes: Partial<Policy>): Promise<Policy> {
    const next = parseInput(policySchema, { ...(await this.get()), ...changes });
    await this.settings.set(KEY, next);
    return next;
  }
}
