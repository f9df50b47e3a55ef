// oidc-provider set up for production: no development interactions, PKCE (S256) for every client,
// only the code flow, explicit lifetimes, cookie keys from the master secret, signing keys from the
// database, clients from the durable store, and our own pages for sign-in, errors and sign-out.
import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ErrorOut } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Keyring } from '../crypto/keyring.js';
import type { SessionStore } from '../store/session-store.js';
import type { ClientService } from '../clients/service.js';
import type { AccountService } from '../accounts/service.js';
import type { PolicyService } from '../policy/service.js';
import { adapterFactory } from './adapter.js';
import { buildInteractionPolicy } from './interaction-policy.js';
import { tokenSignedOut, signOutKey, type SignOutMarker } from '../account/service.js';
import { ACR_VALUES } from './second-factor-policy.js';
import { accountClaims, CLAIMS_BY_SCOPE, SCOPES } from './claims.js';
import { loadExistingGrant } from './grants.js';

export interface ProviderPages {
  renderError(ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void>;
  logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void>;
  postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void>;
}

export interface ProviderDeps {
  config: Config;
  keyring: Keyring;
  store: SessionStore;
  clients: ClientService;
  accounts: AccountService;
  policy: PolicyService;
  jwks: { keys: object[] };
  pages: ProviderPages;
}

const isAdminClient = (client: unknown): boolean => (client as { admin_api?: boolean }).admin_api === true;

export function createProvider(deps: ProviderDeps): Provider {
  const { config, keyring, store, clients, accounts, policy, jwks, pages } = deps;
  const ttl = config.ttl;
  const accountUsable = async (accountId: string | undefined): Promise<boolean> => {
    if (!accountId) return true; // client credentials act for the client itself
    const account = await accounts.findById(accountId);
    return Boolean(account && !account.disabled);
  };

  const configuration: Configuration = {
    adapter: adapterFactory(store, clients) as unknown as Configuration['adapter'],
    clients: [],
    jwks: jwks as Configuration['jwks'],
    cookies: {
      keys: keyring.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    scopes: [...SCOPES],
    claims: CLAIMS_BY_SCOPE,
    acrValues: [...ACR_VALUES],
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      // A client learns about and revokes its own tokens only; an --admin client may introspect any.
      // A token of an account since disabled or removed is not active (refresh and userinfo
      // already refuse it through findAccount).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) =>
          (token.clientId === client.clientId || isAdminClient(client)) && (await accountUsable((token as { accountId?: string }).accountId)),
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logoutSource,
        postLogoutSuccessSource: pages.postLogoutSuccessSource,
      },
    },
    extraClientMetadata: {
      properties: ['require_mfa', 'require_consent', 'admin_api'],
      validator(_ctx, key, value, metadata) {
        if (value === undefined) {
          (metadata as Record<string, unknown>)[key] = false;
          return;
        }
        if (typeof value !== 'boolean') throw new Error(`${key} must be a boolean`);
      },
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    interactions: {
      policy: buildInteractionPolicy(policy, store),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    loadExistingGrant,
    async findAccount(_ctx, sub, token) {
      const account = await accounts.findById(sub);
      if (!account || account.disabled) return undefined;
      // Tokens from before "Sign out other sessions" (other than this browser's) stop working.
      if (token) {
        const marker = await store.getJson<SignOutMarker>(signOutKey(sub));
        const t = token as unknown as { iat?: number; sessionUid?: string };
        if (tokenSignedOut(marker, t.iat, t.sessionUid)) return undefined;
      }
      return { accountId: sub, claims: async () => accountClaims(account) };
    },
    // Refresh tokens for every client allowed the grant; without offline_access they end with the
    // sign-in session (oidc-provider's expiresWithSession default).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    renderError: pages.renderError,
    ttl: {
      AccessToken: ttl.accessToken,
      AuthorizationCode: ttl.authorizationCode,
      ClientCredentials: ttl.clientCredentials,
      IdToken: ttl.idToken,
      Interaction: ttl.interaction,
      RefreshToken: ttl.refreshToken,
      Session: ttl.session,
      Grant: ttl.grant,
    },
    discovery: {
      service_documentation: `${config.issuer}/`,
    },
  };

  const provider = new Provider(config.issuer, configuration);
  // X-Forwarded-* are trusted only from TRUST_PROXY hops; see http/app.ts.
  provider.proxy = config.trustProxy > 0;
  provider.maxIpsCount = config.trustProxy;
  return provider;
}
