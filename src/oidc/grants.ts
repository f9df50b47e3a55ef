// Clients an administrator registered are first-party (as in Keycloak): they get what they ask for
// without a consent screen, by having their grant made here. Clients registered with --consent
// keep oidc-provider's consent prompt, which the consent page answers.
//
// The admin scope is for machine access only (client credentials of an --admin client): a grant a
// user signs in for records it as rejected, so it never reaches a user's token and the consent
// prompt does not ask for it again.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { ADMIN_SCOPE } from '../clients/service.js';

type Grant = InstanceType<KoaContextWithOIDC['oidc']['provider']['Grant']>;

/** Adds the scopes a user may grant to `grant` and rejects the ones only machines may hold. */
export function grantUserScopes(grant: Grant, scopes: Iterable<string>): void {
  const wanted = [...scopes];
  const allowed = wanted.filter((s) => s !== ADMIN_SCOPE);
  if (allowed.length) grant.addOIDCScope(allowed.join(' '));
  if (allowed.length !== wanted.length) grant.rejectOIDCScope(ADMIN_SCOPE);
}

export async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client!;
  const accountId = oidc.session!.accountId;
  const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if ((client as unknown as { require_consent?: boolean }).require_consent || !accountId) return grant;

  if (grant && grant.accountId !== accountId) grant = undefined;
  grant ??= new oidc.provider.Grant({ accountId, clientId: client.clientId });

  const encountered = new Set((grant.getOIDCScopeEncountered() || '').split(' '));
  const scopes = [...oidc.requestParamOIDCScopes].filter((s) => !encountered.has(s));
  const grantedClaims = new Set(grant.getOIDCClaims());
  const claims = [...oidc.requestParamClaims].filter((c) => !grantedClaims.has(c));
  if (!grant.jti || scopes.length || claims.length) {
    grantUserScopes(grant, scopes);
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
  }
  return grant;
}
