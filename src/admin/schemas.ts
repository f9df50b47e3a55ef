// The admin API's request and response shapes. Requests are validated with these (unknown fields
// are refused); responses are documented with them in the OpenAPI document, and the tests check
// real responses against them.
import { z } from 'zod';
import { FACTOR_TYPES, SEND_LIMIT_NAMES, totpOverridesSchema, type SendLimitName } from '../policy/service.js';
import { GRANT_TYPES } from '../clients/service.js';

const id = z.string().min(1).max(200);

export const clientCreateSchema = z
  .object({
    client_id: id,
    client_name: z.string().max(200).optional(),
    redirect_uris: z.array(z.string().max(2000)).max(50).optional(),
    post_logout_redirect_uris: z.array(z.string().max(2000)).max(50).optional(),
    client_secret: z.string().max(512).optional().describe('omit to have one generated (returned once)'),
    public: z.boolean().optional(),
    require_mfa: z.boolean().optional(),
    consent: z.boolean().optional(),
    admin: z.boolean().optional(),
    grant_types: z.array(z.enum(GRANT_TYPES)).max(3).optional(),
    scope: z.string().max(500).optional(),
  })
  .strict();

export const clientUpdateSchema = clientCreateSchema.omit({ client_id: true }).strict();

export const clientViewSchema = z.object({
  client_id: z.string(),
  client_name: z.string().nullable(),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  scope: z.string(),
  public: z.boolean(),
  require_mfa: z.boolean(),
  consent: z.boolean(),
  admin: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  client_secret: z.string().optional().describe('only when the server generated or rotated it'),
});

export const secretViewSchema = z.object({ client_id: z.string(), client_secret: z.string() });

export const userCreateSchema = z
  .object({
    username: z.string().max(64),
    password: z.string().max(256).optional(),
    email: z.string().max(254).nullable().optional(),
    name: z.string().max(200).nullable().optional(),
    role: z.string().max(64).nullable().optional(),
    locale: z.string().max(35).nullable().optional(),
  })
  .strict();

export const userUpdateSchema = z
  .object({
    email: z.string().max(254).nullable().optional(),
    name: z.string().max(200).nullable().optional(),
    role: z.string().max(64).nullable().optional(),
    locale: z.string().max(35).nullable().optional(),
    disabled: z.boolean().optional(),
  })
  .strict();

export const passwordSchemaBody = z.object({ password: z.string().max(256) }).strict();

export const factorViewSchema = z.object({
  id: z.string(),
  type: z.string(),
  name: z.string(),
  preferred: z.boolean(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
});

export const userViewSchema = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  role: z.string().nullable(),
  locale: z.string().nullable(),
  disabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  password_changed_at: z.string().nullable(),
});

export const userDetailSchema = userViewSchema.extend({ factors: z.array(factorViewSchema) });

export const pageQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

export const userListQuerySchema = pageQuerySchema.extend({ search: z.string().max(200).optional() }).strict();

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });

/** Send limit names as the API spells them (snake_case of the configuration's sendLimits). */
export const apiLimitName = (name: SendLimitName) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const limitFields = (value: z.ZodType) => Object.fromEntries(SEND_LIMIT_NAMES.map((n) => [apiLimitName(n), value]));

export const policyViewSchema = z.object({
  require_mfa: z.enum(['all', 'per-client']),
  allowed_factors: z.array(z.enum(FACTOR_TYPES)),
  grace_skips: z.number().int(),
  grace_until: z.string().nullable(),
  totp: z.object({ period: z.number().int(), digits: z.number().int(), algorithm: z.string() }).describe('authenticator app parameters for apps set up from now on'),
  send_limits: z.object(limitFields(z.number().int())).describe('limits on sending codes by text message and voice call'),
});

export const policyUpdateSchema = z
  .object({
    require_mfa: z.enum(['all', 'per-client']).optional(),
    allowed_factors: z.array(z.enum(FACTOR_TYPES)).min(1).max(3).optional(),
    grace_skips: z.number().int().min(0).max(100).optional(),
    grace_until: z.string().max(40).nullable().optional(),
    totp: totpOverridesSchema.extend({ period: z.number().int().min(15).max(120).nullable().optional(), digits: z.union([z.literal(6), z.literal(8)]).nullable().optional(), algorithm: z.enum(['sha1', 'sha256', 'sha512']).nullable().optional() }).strict().optional().describe('null resets a field to the configured value'),
    send_limits: z.object(limitFields(z.number().int().min(0).max(1_000_000).nullable().optional())).strict().optional().describe('null resets a limit to the configured value'),
  })
  .strict();

export const auditQuerySchema = pageQuerySchema
  .extend({
    user: z.string().max(64).optional(),
    client: z.string().max(200).optional(),
    type: z.string().max(100).optional(),
    since: z.string().max(40).optional().describe('ISO 8601 time, or 30m / 12h / 7d before now'),
    until: z.string().max(40).optional().describe('ISO 8601 time'),
  })
  .strict();

export const auditEventSchema = z.object({
  id: z.string(),
  at: z.string(),
  type: z.string(),
  outcome: z.string(),
  account_id: z.string().nullable(),
  username: z.string().nullable(),
  client_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});

export const resetViewSchema = z.object({ removed: z.number().int() });

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
});
