// oidc-provider's interaction policy with one check added to the `login` prompt: a session that
// lacks the second factor does not satisfy a sign-in that requires one. oidc-provider then starts
// an interaction (or answers prompt=none with login_required), and the sign-in pages ask for the
// second factor only. The check reads the policy and the client on every request. The sign-in
// pages never hand oidc-provider a login result before the second factor is done (or skipped
// under the grace policy), so a resume through /auth/:uid cannot skip it.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { PolicyService } from '../policy/service.js';
import type { SessionStore } from '../store/session-store.js';
import { signedOut, signOutKey, type SignOutMarker } from '../account/service.js';
import { hasSecondFactor, requestedByRelyingParty, secondFactorRequired } from './second-factor-policy.js';

const { base, Check } = interactionPolicy;

export function buildInteractionPolicy(policy: PolicyService, store: SessionStore) {
  const prompts = base();
  const login = prompts.get('login')!;
  // "Sign out other sessions" on the account page: an SSO session from before it signs in afresh.
  login.checks.add(
    new Check('session_signed_out', 'the session was signed out', 'login_required', async (ctx: KoaContextWithOIDC) => {
      const session = ctx.oidc.session;
      if (!session?.accountId) return Check.NO_NEED_TO_PROMPT;
      const marker = await store.getJson<SignOutMarker>(signOutKey(session.accountId));
      return signedOut(marker, session.loginTs, session.uid) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
    1,
  );
  login.checks.add(
    new Check('second_factor_required', 'a second authentication factor is required', 'login_required', async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || hasSecondFactor(oidc.session.amr)) return Check.NO_NEED_TO_PROMPT;
      const facts = {
        clientRequiresMfa: (oidc.client as unknown as { require_mfa?: boolean })?.require_mfa === true,
        acrValues: oidc.params?.acr_values as string | undefined,
        acrClaim: (oidc.claims as { id_token?: { acr?: { essential?: boolean; value?: string; values?: string[] } } })?.id_token?.acr,
      };
      if (!secondFactorRequired(await policy.get(), facts)) return Check.NO_NEED_TO_PROMPT;
      // The sign-in that just finished skipped enrolment under the rollout grace policy: let this
      // one authorization through (acr=pwd says so). The flag lives in the server-side interaction
      // result, only while it resumes; never when the relying party asked for the second factor.
      if (oidc.result?.login?.graceSkip === true && oidc.session.accountId === oidc.result.login.accountId && !requestedByRelyingParty(facts)) {
        return Check.NO_NEED_TO_PROMPT;
      }
      return Check.REQUEST_PROMPT;
    }),
  );
  return prompts;
}
