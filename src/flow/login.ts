// The sign-in flow, step by step. GET /interaction/:uid asks `nextStep` where the user stands and
// shows that screen; each POST performs one step and sends the user back to that page. The
// password form is answered with the next screen itself (`passwordThenNext`), as Keycloak answers
// its password form with the one-time-code form: a second-factor sign-in costs one request less.
//
//   1. consent        only for clients registered with --consent (others get their grant silently)
//      unmet acr      an essential acr no sign-in here can give ends with an error before anything is asked
//   2. password       unless an SSO session already proved it and only the second factor is missing
//   3. finish (pwd)   when no second factor is needed
//   4. locked         the account's second factor is locked after too many wrong codes
//   5. challenge      the user has factors: the preferred one first, "Use another method" for others
//   6. fresh password binding a first factor needs a password entered in the last few minutes
//   7. enrol          choose a method, set it up, verify a code: the factor is saved only then;
//                     or "Skip for now" under the rollout grace policy (finish with acr=pwd)
//   8. enrolled       "Setup" another method, or "Finish"
//   9. finish (mfa)   acr=mfa, amr=[pwd, <factor>, mfa], auth_time = when the second factor passed
//
// Every code any factor checks first takes one of the challenge's attempts (Attempts.reserve), so
// no burst of parallel requests gets more codes checked than the limits allow. Nothing here hands
// oidc-provider a login result before the second factor passed (or was skipped under the grace
// policy): a resume through /auth/:uid before that just starts a new interaction.
//
// Each step's work lives in steps/*.ts; this file only decides the order.
import type { FlowServices, InteractionFacts, Outcome, Requester } from './context.js';
import { render } from './context.js';
import type { LoginTransaction } from './transaction.js';
import { essentialAcrUnattainable, requestedByRelyingParty, secondFactorRequired } from '../oidc/second-factor-policy.js';
import { passwordIsFresh, passwordScreen, sessionProvesPassword, submitPassword } from './steps/password.js';
import { challengeOverScreen, challengeScreen, lockedScreen } from './steps/challenge.js';
import { chooserScreen, enrolledScreen, enrolmentScreen } from './steps/enrol.js';
import { finishWithPassword, finishWithSecondFactor, unmetAcr } from './steps/finish.js';

export * as password from './steps/password.js';
export * as challenge from './steps/challenge.js';
export * as enrol from './steps/enrol.js';
export * as finish from './steps/finish.js';

/** Starts this interaction's transaction, with the second-factor decision made now. */
export async function startTransaction(services: FlowServices, facts: InteractionFacts): Promise<LoginTransaction> {
  const requestFacts = {
    clientRequiresMfa: facts.client.requireMfa === true,
    acrValues: typeof facts.params.acr_values === 'string' ? facts.params.acr_values : undefined,
    acrClaim: parseAcrClaim(facts.params.claims),
  };
  const policy = await services.policy.get();
  return services.transactions.start(facts.uid, {
    clientId: facts.client.clientId,
    clientName: facts.client.name,
    allowedFactors: policy.allowedFactors,
    exp: facts.exp,
    secondFactorRequired: secondFactorRequired(policy, requestFacts),
    requestedByRelyingParty: requestedByRelyingParty(requestFacts),
    acrUnattainable: essentialAcrUnattainable(policy, requestFacts),
    // Over an SSO session that proved the password and lacks only the second factor, skip step 2.
    ...sessionProvesPassword(facts),
  });
}

/**
 * The password form, answered with the screen that comes next (the challenge, the enrolment chooser)
 * instead of a redirect to it. Reloading that page sends the password again, which checks it again
 * and shows the same screen: a code already sent is not sent twice.
 */
export async function passwordThenNext(
  services: FlowServices,
  facts: InteractionFacts,
  tx: LoginTransaction,
  who: Requester,
  form: Parameters<typeof submitPassword>[4],
): Promise<Outcome> {
  const outcome = await submitPassword(services, facts, tx, who, form);
  return outcome.kind === 'continue' ? nextStep(services, facts, tx, who) : outcome;
}

/** Where the user stands in the sign-in: the screen to show, or the end of it. */
export async function nextStep(services: FlowServices, facts: InteractionFacts, tx: LoginTransaction, who: Requester): Promise<Outcome> {
  if (facts.prompt.name === 'consent') return render('consent', {});
  if (tx.acrUnattainable) return unmetAcr(services, tx, who);
  if (!tx.accountId || tx.passwordTooOld) return passwordScreen();

  // On the way to a challenge, what it needs is read together with the account.
  const challenging = tx.secondFactorRequired && !tx.secondFactor;
  const [account, lockedFor, challengeFailures, factors] = await Promise.all([
    services.accounts.findById(tx.accountId),
    challenging ? services.attempts.lockedFor(tx.accountId) : 0,
    challenging ? services.attempts.challengeFailures(tx.accountId, tx.uid) : 0,
    challenging ? services.factors.usable(tx.accountId, tx) : [],
  ]);
  if (!account || account.disabled) return passwordScreen();
  if (!tx.secondFactorRequired && !tx.secondFactor) return finishWithPassword(services, tx, who, account.username);

  if (tx.secondFactor) {
    if (tx.enrolment) return enrolmentScreen(services, tx, account, who);
    if (tx.choosing) return chooserScreen(services, tx, account);
    if (tx.enrolled.length > 0) return enrolledScreen(services, tx, account);
    return finishWithSecondFactor(services, tx, account, who);
  }

  if (lockedFor > 0) return lockedScreen(lockedFor);

  if (factors.length > 0) {
    return challengeFailures >= services.config.mfa.challengeMaxFailures ? challengeOverScreen() : challengeScreen(services, tx, account, factors, who);
  }

  if (!passwordIsFresh(services, tx)) {
    tx.passwordTooOld = true;
    await services.transactions.save(tx);
    return passwordScreen('For your security, enter your password again before setting up a second factor.');
  }
  if (tx.enrolment) return enrolmentScreen(services, tx, account, who);
  return chooserScreen(services, tx, account);
}

function parseAcrClaim(claims: unknown): { essential?: boolean; value?: string; values?: string[] } | undefined {
  if (typeof claims !== 'string') return undefined;
  try {
    const parsed = JSON.parse(claims) as { id_token?: { acr?: { essential?: boolean; value?: string; values?: string[] } } };
    return parsed?.id_token?.acr ?? undefined;
  } catch {
    return undefined; // oidc-provider has already rejected a malformed claims parameter
  }
}
