// When a sign-in needs a second factor, decided in one place for the interaction policy (which
// sends the user to us) and for the sign-in pages (which decide what to ask).
import type { Policy } from '../policy/service.js';

export const ACR_PASSWORD = 'pwd';
export const ACR_MFA = 'mfa';
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA] as const;

export interface RequestFacts {
  /** The client's admin-set flag. */
  clientRequiresMfa: boolean;
  /** Space-separated acr_values from the authorization request. */
  acrValues?: string | undefined;
  /** The `acr` member of the claims parameter's id_token part, if any. */
  acrClaim?: { essential?: boolean; value?: string; values?: string[] } | null | undefined;
}

/**
 * Did the relying party ask for the second factor? It did when every acr it will accept is `mfa`:
 * `acr_values=mfa`, or an essential `acr` claim whose values are only `mfa`. (`acr_values=pwd mfa`
 * accepts either, so it does not force the second factor.)
 */
export function requestedByRelyingParty(facts: RequestFacts): boolean {
  const fromParam = (facts.acrValues ?? '').split(' ').filter(Boolean);
  if (fromParam.includes(ACR_MFA) && !fromParam.includes(ACR_PASSWORD)) return true;
  const claim = facts.acrClaim;
  if (claim?.essential) {
    const wanted = claim.values ?? (claim.value ? [claim.value] : []);
    if (wanted.includes(ACR_MFA) && !wanted.includes(ACR_PASSWORD)) return true;
  }
  return false;
}

export function secondFactorRequired(policy: Policy, facts: RequestFacts): boolean {
  return policy.requireMfa === 'all' || facts.clientRequiresMfa || requestedByRelyingParty(facts);
}

/**
 * An essential `acr` claim none of whose values this sign-in can end with: an unknown value, or
 * `pwd` where the second factor is required. oidc-provider matches the session's acr exactly
 * and would start a new interaction after every sign-in, so the sign-in must end with an error
 * instead (OIDC Core 5.5.1.1; unmet_authentication_requirements from OpenID Connect Unmet
 * Authentication Requirements 1.0). A voluntary claim or acr_values is only advice.
 */
export function essentialAcrUnattainable(policy: Policy, facts: RequestFacts): boolean {
  const claim = facts.acrClaim;
  if (!claim?.essential) return false;
  const wanted = claim.values ?? (claim.value ? [claim.value] : []);
  if (wanted.length === 0) return false;
  const attainable: readonly string[] = secondFactorRequired(policy, facts) ? [ACR_MFA] : ACR_VALUES;
  return !wanted.some((acr) => attainable.includes(acr));
}

/** RFC 8176 method references for a sign-in: the password, plus the factor's and `mfa` when one was used. */
export function amrFor(factorAmr?: string): string[] {
  return factorAmr ? [ACR_PASSWORD, factorAmr, ACR_MFA] : [ACR_PASSWORD];
}

export const hasSecondFactor = (amr: unknown): boolean => Array.isArray(amr) && amr.includes(ACR_MFA);
