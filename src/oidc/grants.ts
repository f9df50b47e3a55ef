// Clients an administrator registered are first-party (as in Keycloak): they get what they ask for
// without a consent screen, by having their grant made here. Clients registered with --consent
// keep oidc-provider's consent prompt, which the consent page answers.
import type { KoaContextWithOIDC } from 'oidc-provider';

export async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client!;
  const accountId = oidc.session!.accountId;
  const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if ((client as unknown as { require_consent?: boolean }).require_consent || !accountId) return grant;

  if (grant && grant.accountId !== accountId) grant = undefined;
  grant ??= new oidc.provider.Grant({ accountId, clientId: client.clientId });

  const granted = new Set((grant.getOIDCScope() || '').split(' '));
  const scopes = [...oidc.requestParamOIDCScopes].filter((s) => !granted.has(s));
  const grantedClaims = new Set(grant.getOIDCClaims());
  const claims = [...oidc.requestParamClaims].filter((c) => !grantedClaims.has(c));
  if (!grant.jti || scopes.length || claims.length) {
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
  }
  return grant;
}
