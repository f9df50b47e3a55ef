// Steps 3 and 9: the sign-in result handed to oidc-provider. What the ID token says comes from
// here: acr, amr (RFC 8176) and auth_time. The audit event of each ending carries who signed in
// from where (`who`), like every other sign-in event.
import type { FlowServices, LoginResult, Outcome, Requester } from '../context.js';
import { CONTINUE } from '../context.js';
import type { LoginTransaction } from '../transaction.js';
import type { Account } from '../../db/repos/accounts.js';
import { ACR_MFA, ACR_PASSWORD, amrFor } from '../../oidc/second-factor-policy.js';

const from = (who?: Requester) => (who ? { ip: who.ip, userAgent: who.userAgent } : {});

/** Step 0: the relying party demands an acr no sign-in here can give; say so instead of looping. */
export async function unmetAcr(services: FlowServices, tx: LoginTransaction, who?: Requester): Promise<Outcome> {
  services.events.emit({ type: 'signin.failed', outcome: 'failure', accountId: tx.accountId ?? null, clientId: tx.clientId, ...from(who), reason: 'unmet_authentication_requirements' });
  return {
    kind: 'abort',
    error: 'unmet_authentication_requirements',
    description: 'none of the essential acr values requested can be met by this sign-in',
  };
}

/** Every successful ending: the event on record, the transaction gone, the result for oidc-provider. */
async function succeed(
  services: FlowServices,
  tx: LoginTransaction,
  who: Requester | undefined,
  login: LoginResult,
  event: { username?: string; reason?: string; factor?: string },
): Promise<Outcome> {
  services.events.emit({
    type: 'signin.succeeded',
    outcome: 'success',
    accountId: login.accountId,
    ...(event.username ? { username: event.username } : {}),
    clientId: tx.clientId,
    ...from(who),
    ...(event.reason ? { reason: event.reason } : {}),
    details: { acr: login.acr, ...(event.factor ? { factor: event.factor } : {}) },
  });
  await services.transactions.end(tx.uid);
  return { kind: 'finish', login };
}

export async function finishWithPassword(services: FlowServices, tx: LoginTransaction, who?: Requester, username?: string): Promise<Outcome> {
  if (tx.acrUnattainable) return unmetAcr(services, tx, who);
  if (!tx.accountId || !tx.passwordAt || tx.secondFactorRequired) return CONTINUE;
  return succeed(services, tx, who, { accountId: tx.accountId, acr: ACR_PASSWORD, amr: amrFor(), ts: tx.passwordAt }, { username });
}

export async function finishWithSecondFactor(services: FlowServices, tx: LoginTransaction, account: Account, who?: Requester): Promise<Outcome> {
  if (tx.acrUnattainable) return unmetAcr(services, tx, who);
  const second = tx.secondFactor;
  if (!second || tx.accountId !== account.id) return CONTINUE;
  return succeed(services, tx, who, { accountId: account.id, acr: ACR_MFA, amr: amrFor(second.amr), ts: second.at }, { username: account.username, factor: second.type });
}

/** The user skipped enrolment under the rollout grace policy: the sign-in ends with the password only. */
export async function finishWithGraceSkip(services: FlowServices, tx: LoginTransaction, account: Account, who?: Requester): Promise<Outcome> {
  if (tx.acrUnattainable) return unmetAcr(services, tx, who);
  if (!tx.passwordAt || tx.accountId !== account.id || tx.secondFactor || tx.requestedByRelyingParty) return CONTINUE;
  const login = { accountId: account.id, acr: ACR_PASSWORD, amr: amrFor(), ts: tx.passwordAt, graceSkip: true };
  return succeed(services, tx, who, login, { username: account.username, reason: 'grace_skip' });
}

/** POST "Finish" on the Setup / Finish screen. */
export async function submitFinish(services: FlowServices, tx: LoginTransaction, who?: Requester): Promise<Outcome> {
  if (!tx.accountId || !tx.secondFactor) return CONTINUE;
  const account = await services.accounts.findById(tx.accountId);
  return account ? finishWithSecondFactor(services, tx, account, who) : CONTINUE;
}
