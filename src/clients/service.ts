// Relying parties: registered by an administrator (CLI or admin API), stored durably, and handed
// to oidc-provider as client metadata on every lookup.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ClientRepo, StoredClient } from '../db/repos/clients.js';
import type { Keyring } from '../crypto/keyring.js';
import { parseInput } from '../validation.js';
import { BadInput, NotFound } from '../errors.js';

export const USER_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;
export const ADMIN_SCOPE = 'admin';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

const isLoopback = (host: string) => host === 'localhost' || host === '127.0.0.1' || host === '[::1]';

/** Redirect URIs: absolute, no fragment; http only to loopback (RFC 8252), otherwise https or a private-use scheme. */
const redirectUri = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      if (url.hash) return false;
      if (url.protocol === 'http:') return isLoopback(url.hostname);
      if (url.protocol === 'https:') return true;
      return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol); // reverse-domain private-use scheme
    } catch {
      return false;
    }
  },
  { message: 'each redirect URI must be an absolute https:// URL (http:// only for localhost), or an app\'s reverse-domain scheme (com.example.app:/callback), without a #fragment' },
);

export const clientInputSchema = z
  .object({
    clientId: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9._~-]+$/, 'client_id may use letters, digits and . _ ~ -'),
    name: z.string().trim().min(1).max(200).optional(),
    redirectUris: z.array(redirectUri).default([]),
    postLogoutRedirectUris: z.array(redirectUri).default([]),
    /** Omitted: a random secret is generated (confidential client). */
    secret: z.string().min(32, 'a client secret must be at least 32 characters').max(512).optional(),
    public: z.boolean().default(false),
    requireMfa: z.boolean().default(false),
    consent: z.boolean().default(false),
    admin: z.boolean().default(false),
    grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).optional(),
    scope: z
      .string()
      .trim()
      .optional()
      .refine((s) => !s || s.split(/\s+/).every((v) => (USER_SCOPES as readonly string[]).includes(v) || v === ADMIN_SCOPE), {
        message: `scope may contain ${[...USER_SCOPES, ADMIN_SCOPE].join(', ')}`,
      }),
  })
  .strict();

export type ClientInput = z.input<typeof clientInputSchema>;

/** A client as the CLI and admin API show it (never with its secret). */
export interface ClientView {
  client_id: string;
  client_name: string | null;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  scope: string;
  public: boolean;
  require_mfa: boolean;
  consent: boolean;
  admin: boolean;
  created_at: string;
  updated_at: string;
}

export class ClientService {
  constructor(
    private readonly repo: ClientRepo,
    private readonly keyring: Keyring,
  ) {}

  private sealSecret = (clientId: string, secret: string) => this.keyring.seal(secret, `client:${clientId}`);

  /** Builds oidc-provider metadata from validated input. */
  private static metadata(input: z.output<typeof clientInputSchema>): Record<string, unknown> {
    const grantTypes = input.grantTypes ?? ['authorization_code', 'refresh_token'];
    if (input.public && grantTypes.includes('client_credentials')) {
      throw new BadInput('a public client cannot use client_credentials; it has no secret');
    }
    const interactive = grantTypes.includes('authorization_code');
    if (interactive && input.redirectUris.length === 0) {
      throw new BadInput('the authorization_code grant needs at least one redirect URI (--redirect-uri; redirect_uris in the API)');
    }
    if (input.admin && !grantTypes.includes('client_credentials')) {
      throw new BadInput('an admin client needs the client_credentials grant (--grant-type client_credentials; grant_types in the API)');
    }
    let scope = input.scope ?? USER_SCOPES.join(' ');
    if (input.admin && !scope.split(' ').includes(ADMIN_SCOPE)) scope += ` ${ADMIN_SCOPE}`;
    if (!input.admin && scope.split(' ').includes(ADMIN_SCOPE)) {
      throw new BadInput('only an admin client (--admin; admin: true in the API) may have the admin scope');
    }
    return {
      client_id: input.clientId,
      ...(input.name ? { client_name: input.name } : {}),
      redirect_uris: input.redirectUris,
      post_logout_redirect_uris: input.postLogoutRedirectUris,
      grant_types: grantTypes,
      response_types: interactive ? ['code'] : [],
      token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
      scope,
      require_mfa: input.requireMfa,
      require_consent: input.consent,
      admin_api: input.admin,
    };
  }

  /** Registers a client. Returns the secret in the clear once, for the operator to hand over. */
  async add(raw: ClientInput): Promise<{ client: ClientView; secret: string | null }> {
    const input = parseInput(clientInputSchema, raw);
    if (input.public && input.secret) throw new BadInput('a public client has no secret: give a secret (--secret; client_secret) or make it public (--public; public: true), not both');
    const metadata = ClientService.metadata(input);
    const secret = input.public ? null : (input.secret ?? randomBytes(32).toString('base64url'));
    const stored = await this.repo.create(input.clientId, metadata, secret && this.sealSecret(input.clientId, secret));
    return { client: ClientService.view(stored), secret: input.secret ? null : secret };
  }

  /** Changes the given fields; the rest stay as they are. */
  async update(clientId: string, changes: Partial<Omit<ClientInput, 'clientId'>>): Promise<ClientView> {
    const current = await this.find(clientId);
    const merged = { ...ClientService.toInput(current), ...stripUndefined(changes), clientId };
    const input = parseInput(clientInputSchema, merged);
    if (input.public && changes.secret) throw new BadInput('a public client has no secret');
    let sealed = current.secretSealed;
    if (input.public) sealed = null;
    else if (changes.secret) sealed = this.sealSecret(clientId, changes.secret);
    else if (!sealed) throw new BadInput('turning a public client confidential needs a secret (--secret; client_secret in the API), or rotate the secret afterwards');
    const stored = await this.repo.update(clientId, ClientService.metadata(input), sealed);
    return ClientService.view(stored!);
  }

  async rotateSecret(clientId: string): Promise<string> {
    const current = await this.find(clientId);
    if (!current.secretSealed) throw new BadInput(`"${clientId}" is a public client; it has no secret`);
    const secret = randomBytes(32).toString('base64url');
    await this.repo.update(clientId, current.metadata, this.sealSecret(clientId, secret));
    return secret;
  }

  async show(clientId: string): Promise<ClientView> {
    return ClientService.view(await this.find(clientId));
  }

  async list(): Promise<ClientView[]> {
    return (await this.repo.list()).map(ClientService.view);
  }

  async remove(clientId: string): Promise<void> {
    if (!(await this.repo.remove(clientId))) throw new NotFound(`no client "${clientId}"`);
  }

  /** Opened secrets by their sealed form: a sealed value never changes meaning, so it is opened once. */
  private readonly opened = new Map<string, string>();

  /** The metadata oidc-provider sees, with the secret opened. Read on every lookup, so changes apply at once. */
  async providerMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
    const stored = await this.repo.find(clientId);
    if (!stored) return undefined;
    return { ...stored.metadata, ...(stored.secretSealed ? { client_secret: this.openSecret(clientId, stored.secretSealed) } : {}) };
  }

  private openSecret(clientId: string, sealed: string): string {
    let secret = this.opened.get(sealed);
    if (secret === undefined) {
      secret = this.keyring.open(sealed, `client:${clientId}`);
      if (this.opened.size >= 1000) this.opened.clear();
      this.opened.set(sealed, secret);
    }
    return secret;
  }

  private async find(clientId: string): Promise<StoredClient> {
    const stored = await this.repo.find(clientId);
    if (!stored) throw new NotFound(`no client "${clientId}"`);
    return stored;
  }

  private static toInput(stored: StoredClient): ClientInput {
    const m = stored.metadata as Record<string, any>;
    return {
      clientId: stored.clientId,
      ...(m.client_name ? { name: m.client_name } : {}),
      redirectUris: m.redirect_uris ?? [],
      postLogoutRedirectUris: m.post_logout_redirect_uris ?? [],
      public: m.token_endpoint_auth_method === 'none',
      requireMfa: Boolean(m.require_mfa),
      consent: Boolean(m.require_consent),
      admin: Boolean(m.admin_api),
      grantTypes: m.grant_types,
      // metadata() adds the admin scope back for admin clients
      scope: String(m.scope ?? '').split(' ').filter((v) => v && v !== ADMIN_SCOPE).join(' ') || undefined,
    };
  }

  static view(stored: StoredClient): ClientView {
    const m = stored.metadata as Record<string, any>;
    return {
      client_id: stored.clientId,
      client_name: m.client_name ?? null,
      redirect_uris: m.redirect_uris ?? [],
      post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
      grant_types: m.grant_types ?? [],
      scope: m.scope ?? '',
      public: m.token_endpoint_auth_method === 'none',
      require_mfa: Boolean(m.require_mfa),
      consent: Boolean(m.require_consent),
      admin: Boolean(m.admin_api),
      created_at: new Date(stored.createdAt).toISOString(),
      updated_at: new Date(stored.updatedAt).toISOString(),
    };
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
