// The admin API as a table: every operation once, with its method, path, input schemas and what it
// answers. The router (routes.ts) and the OpenAPI document (openapi.ts) are both built from this
// table, so they cannot disagree.
import type { z } from 'zod';
import { userView, type AdminService, type Actor } from './service.js';
import type { ClientInput } from '../clients/service.js';
import { SEND_LIMIT_NAMES, type Policy } from '../policy/service.js';
import type { Config } from '../config/schema.js';
import { BadInput } from '../errors.js';
import { parseSince } from '../audit/service.js';
import * as s from './schemas.js';

export interface OperationInput {
  params: Record<string, string>;
  query: any;
  body: any;
  actor: Actor;
}

export interface Operation {
  id: string;
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Koa-style path under /admin/api/v1, e.g. /clients/:client_id */
  path: string;
  summary: string;
  tag: 'clients' | 'users' | 'policy' | 'audit';
  query?: z.ZodType;
  body?: z.ZodType;
  /** Success status and the schema of its body (none for 204). */
  status: number;
  /** When it can answer 409, what the conflict is (documented in the OpenAPI document). */
  conflict?: string;
  response?: z.ZodType;
  run(admin: AdminService, input: OperationInput): Promise<unknown>;
}

const clientInput = (b: z.infer<typeof s.clientUpdateSchema>): Partial<ClientInput> => {
  const input: Partial<ClientInput> = {
    name: b.client_name,
    redirectUris: b.redirect_uris,
    postLogoutRedirectUris: b.post_logout_redirect_uris,
    secret: b.client_secret,
    public: b.public,
    requireMfa: b.require_mfa,
    consent: b.consent,
    admin: b.admin,
    grantTypes: b.grant_types,
    scope: b.scope,
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
};

/** The policy as the API shows it: overrides applied over the configuration, so every value is the one in force. */
export const policyView = (p: Policy, config: Config): z.infer<typeof s.policyViewSchema> => {
  const limits = { ...config.sendLimits, ...p.sendLimits };
  return {
    require_mfa: p.requireMfa,
    allowed_factors: p.allowedFactors,
    grace_skips: p.graceSkips,
    grace_until: p.graceUntil,
    totp: { period: p.totp.period ?? config.totp.period, digits: p.totp.digits ?? config.totp.digits, algorithm: p.totp.algorithm ?? config.totp.algorithm },
    send_limits: Object.fromEntries(SEND_LIMIT_NAMES.map((n) => [s.apiLimitName(n), limits[n]])),
  };
};

/** API policy changes in the service's terms (send limits back to camelCase). */
function policyChanges(body: z.infer<typeof s.policyUpdateSchema>): Partial<Policy> {
  const changes: Partial<Policy> = {};
  if (body.require_mfa !== undefined) changes.requireMfa = body.require_mfa;
  if (body.allowed_factors !== undefined) changes.allowedFactors = body.allowed_factors;
  if (body.grace_skips !== undefined) changes.graceSkips = body.grace_skips;
  if (body.grace_until !== undefined) changes.graceUntil = body.grace_until;
  if (body.totp !== undefined) changes.totp = body.totp as Policy['totp'];
  if (body.send_limits !== undefined) {
    const given = body.send_limits as Record<string, number | null | undefined>;
    changes.sendLimits = Object.fromEntries(SEND_LIMIT_NAMES.filter((n) => given[s.apiLimitName(n)] !== undefined).map((n) => [n, given[s.apiLimitName(n)]])) as Policy['sendLimits'];
  }
  return changes;
}

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const at = parseSince(value);
  if (at === undefined) throw new BadInput(`${name} must be an ISO 8601 time or a span like 12h`);
  return at;
}

export const OPERATIONS: Operation[] = [
  // --- clients
  { id: 'listClients', method: 'get', path: '/clients', tag: 'clients', summary: 'List relying parties', status: 200, response: s.page(s.clientViewSchema),
    run: async (a) => { const items = await a.listClients(); return { items, total: items.length, limit: items.length, offset: 0 }; } },
  { id: 'createClient', method: 'post', path: '/clients', tag: 'clients', summary: 'Register a relying party; a generated secret is returned once', body: s.clientCreateSchema, status: 201, response: s.clientViewSchema, conflict: 'A client with this client_id exists',
    run: async (a, { body, actor }) => { const { client, secret } = await a.addClient(actor, { clientId: body.client_id, ...clientInput(body) } as ClientInput); return { ...client, ...(secret ? { client_secret: secret } : {}) }; } },
  { id: 'getClient', method: 'get', path: '/clients/:client_id', tag: 'clients', summary: 'Show a relying party', status: 200, response: s.clientViewSchema,
    run: (a, { params }) => a.showClient(params.client_id!) },
  { id: 'updateClient', method: 'patch', path: '/clients/:client_id', tag: 'clients', summary: 'Change a relying party (only the fields given), e.g. require_mfa', body: s.clientUpdateSchema, status: 200, response: s.clientViewSchema, conflict: "The account page's own client (twofold-account) is managed by Twofold",
    run: (a, { params, body, actor }) => a.updateClient(actor, params.client_id!, clientInput(body)) },
  { id: 'deleteClient', method: 'delete', path: '/clients/:client_id', tag: 'clients', summary: 'Remove a relying party', status: 204, conflict: "The account page's own client (twofold-account) is managed by Twofold",
    run: (a, { params, actor }) => a.removeClient(actor, params.client_id!) },
  { id: 'rotateClientSecret', method: 'post', path: '/clients/:client_id/rotate-secret', tag: 'clients', summary: 'Replace the client secret; the old one stops working at once', status: 200, response: s.secretViewSchema, conflict: "The account page's own client (twofold-account) is managed by Twofold",
    run: async (a, { params, actor }) => ({ client_id: params.client_id!, client_secret: await a.rotateClientSecret(actor, params.client_id!) }) },

  // --- users
  { id: 'listUsers', method: 'get', path: '/users', tag: 'users', summary: 'List users, with search and paging', query: s.userListQuerySchema, status: 200, response: s.page(s.userViewSchema),
    run: async (a, { query }) => ({ ...(await a.listUsers(query)), limit: query.limit, offset: query.offset }) },
  { id: 'createUser', method: 'post', path: '/users', tag: 'users', summary: 'Create a user', body: s.userCreateSchema, status: 201, response: s.userViewSchema, conflict: 'A user with this username exists',
    run: (a, { body, actor }) => a.addUser(actor, body) },
  { id: 'getUser', method: 'get', path: '/users/:username', tag: 'users', summary: 'Show a user and their second factors', status: 200, response: s.userDetailSchema,
    run: (a, { params }) => a.showUser(params.username!) },
  { id: 'updateUser', method: 'patch', path: '/users/:username', tag: 'users', summary: 'Change a user (email, name, role, locale, disabled)', body: s.userUpdateSchema, status: 200, response: s.userViewSchema,
    run: (a, { params, body, actor }) => a.updateUser(actor, params.username!, body) },
  { id: 'deleteUser', method: 'delete', path: '/users/:username', tag: 'users', summary: 'Delete a user and their factors', status: 204,
    run: (a, { params, actor }) => a.removeUser(actor, params.username!) },
  { id: 'setUserPassword', method: 'post', path: '/users/:username/password', tag: 'users', summary: 'Set a password (second factors stay)', body: s.passwordSchemaBody, status: 204,
    run: (a, { params, body, actor }) => a.setPassword(actor, params.username!, body.password) },
  { id: 'disableUser', method: 'post', path: '/users/:username/disable', tag: 'users', summary: 'Stop a user from signing in', status: 200, response: s.userViewSchema,
    run: async (a, { params, actor }) => userView(await a.setDisabled(actor, params.username!, true)) },
  { id: 'enableUser', method: 'post', path: '/users/:username/enable', tag: 'users', summary: 'Let a disabled user sign in again', status: 200, response: s.userViewSchema,
    run: async (a, { params, actor }) => userView(await a.setDisabled(actor, params.username!, false)) },
  { id: 'resetUserFactors', method: 'post', path: '/users/:username/reset-mfa', tag: 'users', summary: "Remove all of a user's second factors", status: 200, response: s.resetViewSchema,
    run: async (a, { params, actor }) => ({ removed: await a.resetMfa(actor, params.username!) }) },
  { id: 'unlockUser', method: 'post', path: '/users/:username/unlock', tag: 'users', summary: "Clear a user's sign-in and second-factor lockouts", status: 204,
    run: (a, { params, actor }) => a.unlock(actor, params.username!) },

  // --- policy
  { id: 'getPolicy', method: 'get', path: '/policy', tag: 'policy', summary: 'The instance second-factor policy', status: 200, response: s.policyViewSchema,
    run: async (a) => policyView(await a.getPolicy(), a.config) },
  { id: 'updatePolicy', method: 'patch', path: '/policy', tag: 'policy', summary: 'Change the policy (only the fields given)', body: s.policyUpdateSchema, status: 200, response: s.policyViewSchema,
    run: async (a, { body, actor }) => {
      return policyView(await a.setPolicy(actor, policyChanges(body)), a.config);
    } },

  // --- audit
  { id: 'queryAudit', method: 'get', path: '/audit', tag: 'audit', summary: 'Security events, newest first, by user, client, type and time range', query: s.auditQuerySchema, status: 200, response: s.page(s.auditEventSchema),
    run: async (a, { query }) => {
      const since = time(query.since, 'since');
      const until = time(query.until, 'until');
      const { items, total } = await a.queryAudit({
        ...(query.user ? { username: query.user } : {}),
        ...(query.client ? { clientId: query.client } : {}),
        ...(query.type ? { type: query.type } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        limit: query.limit,
        offset: query.offset,
      });
      return { items, total, limit: query.limit, offset: query.offset };
    } },
];
