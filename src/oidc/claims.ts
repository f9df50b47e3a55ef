// Which claims each scope releases. acr, amr and auth_time sit under `openid`, so every ID token
// carries them whether or not the client asked (oidc-provider leaves amr out otherwise).
import type { Account } from '../db/repos/accounts.js';
import { ADMIN_SCOPE, USER_SCOPES } from '../clients/service.js';

export const SCOPES = [...USER_SCOPES, ADMIN_SCOPE] as const;

export const CLAIMS_BY_SCOPE = {
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'preferred_username', 'locale', 'role', 'updated_at'],
  email: ['email', 'email_verified'],
  sid: null,
  iss: null,
};

export function accountClaims(account: Account): { sub: string; [claim: string]: unknown } {
  return {
    sub: account.id,
    preferred_username: account.username,
    name: account.name ?? account.username,
    email: account.email ?? undefined,
    email_verified: account.email ? account.emailVerified : undefined,
    role: account.role ?? undefined,
    locale: account.locale ?? undefined,
    updated_at: Math.floor(account.updatedAt / 1000),
  };
}
