// The consent prompt, for clients registered with --consent (and for prompt=consent). First-party
// clients are approved without a screen: their grant is made in grants.ts.
import type Provider from 'oidc-provider';
import { ADMIN_SCOPE } from '../clients/service.js';
import { grantUserScopes } from './grants.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name, username and role',
  email: 'See your email address',
  offline_access: 'Stay signed in to keep working when you are away',
};

/** The sentences the consent screen lists. */
export function describeConsent(details: Details): string[] {
  const missing = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
  const scopes = (missing.length ? missing : String(details.params.scope ?? 'openid').split(' ')).filter((s) => s !== ADMIN_SCOPE);
  return [...new Set(scopes.map((s) => SCOPE_TEXT[s] ?? s))];
}

/** Records the user's approval in a grant and returns the interaction result. */
export async function approve(provider: Provider, details: Details): Promise<{ consent: { grantId: string } }> {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? ((await provider.Grant.find(grantId)) ?? new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string }))
    : new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string });
  const missingScope = prompt.details.missingOIDCScope as string[] | undefined;
  const missingClaims = prompt.details.missingOIDCClaims as string[] | undefined;
  const missingResource = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
  if (missingScope?.length) grantUserScopes(grant, missingScope);
  if (missingClaims?.length) grant.addOIDCClaims(missingClaims);
  for (const [indicator, scopes] of Object.entries(missingResource ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  return { consent: { grantId: await grant.save() } };
}
