// Steps 6-8: setting up a factor. A first factor may be bound only right after the password
// (NIST 800-63B 4.1.2.1); another one only after this sign-in passed a second factor. The factor
// is saved only when a code from it verifies.
import type { FlowServices, Outcome, Requester } from '../context.js';
import { CONTINUE, render } from '../context.js';
import type { LoginTransaction } from '../transaction.js';
import type { Account } from '../../db/repos/accounts.js';
import { attemptContext, challengeOverScreen, describe, INVALID_CODE, lockedScreen } from './challenge.js';
import { passwordIsFresh } from './password.js';
import { finishWithGraceSkip } from './finish.js';
import { isRestricted } from '../../factors/factor.js';

/** Who may set up a factor in this sign-in, and the account they set it up for. */
async function enrolmentAllowed(services: FlowServices, tx: LoginTransaction): Promise<Account | undefined> {
  if (!tx.accountId) return undefined;
  const account = await services.accounts.findById(tx.accountId);
  if (!account || account.disabled) return undefined;
  if (tx.secondFactor) return account;
  const usable = await services.factors.usable(account.id, await services.policy.get());
  return usable.length === 0 && passwordIsFresh(services, tx) ? account : undefined;
}

export async function chooserScreen(services: FlowServices, tx: LoginTransaction, account: Account, error?: string): Promise<Outcome> {
  const policy = await services.policy.get();
  const methods = services.factors
    .enrollable(policy)
    .map((f) => ({ type: f.type, label: f.label, description: f.description, restricted: isRestricted(f) }));
  const adding = Boolean(tx.secondFactor);
  const grace = adding ? null : await graceFor(services, tx, account);
  return render('choose', { methods, adding, grace, username: account.username, error }, error ? 400 : undefined);
}

/** The rollout grace this sign-in may use: only for a first factor, never when the relying party asked for it. */
async function graceFor(services: FlowServices, tx: LoginTransaction, account: Account) {
  if (tx.requestedByRelyingParty || tx.secondFactor) return null;
  return services.policy.graceFor(account.id, services.now());
}

/** POST "Skip for now" on the chooser: uses one grace skip and finishes with the password only. */
export async function skipEnrolment(services: FlowServices, tx: LoginTransaction, who: Requester): Promise<Outcome> {
  const account = await enrolmentAllowed(services, tx);
  if (!account || tx.secondFactor || !(await graceFor(services, tx, account))) return CONTINUE;
  if (!(await services.policy.takeGraceSkip(account.id, services.now()))) return CONTINUE;
  services.events.emit({
    type: 'factor.enrolment_skipped',
    outcome: 'info',
    accountId: account.id,
    username: account.username,
    clientId: tx.clientId,
    ip: who.ip,
    userAgent: who.userAgent,
    reason: 'grace_policy',
  });
  return finishWithGraceSkip(services, tx, account, who);
}

export async function enrolmentScreen(
  services: FlowServices,
  tx: LoginTransaction,
  account: Account,
  who: Requester,
  error?: { message: string; status: number },
): Promise<Outcome> {
  const enrolment = tx.enrolment!;
  const factor = services.factors.get(enrolment.type)!;
  const flash = tx.flash;
  if (flash) {
    delete tx.flash;
    await services.transactions.save(tx);
  }
  const view = await factor.enrolmentView(attemptContext(tx, account, who), enrolment.state);
  return render(
    'enrol',
    { factor: { type: factor.type, label: factor.label }, partial: factor.views.enrol, view, notice: flash?.notice, error: error?.message ?? flash?.error },
    error?.status,
  );
}

export async function enrolledScreen(services: FlowServices, tx: LoginTransaction, account: Account): Promise<Outcome> {
  const all = await services.factors.list(account.id);
  const added = all.filter((f) => tx.enrolled.some((e) => e.factorId === f.id)).map((f) => describe(services, f));
  return render('enrolled', { added, recoveryCodes: recoveryCodesToShow(services, tx) });
}

const recoveryDisplayContext = (tx: LoginTransaction) => `recovery-display:${tx.uid}`;

/** Recovery codes made in this sign-in, shown on the Setup / Finish screen until it finishes. */
export function recoveryCodesToShow(services: FlowServices, tx: LoginTransaction): string[] | null {
  return tx.recoveryCodes ? (JSON.parse(services.keyring.open(tx.recoveryCodes, recoveryDisplayContext(tx))) as string[]) : null;
}

/** POST a method from the chooser: starts setting it up. */
export async function chooseMethod(services: FlowServices, tx: LoginTransaction, who: Requester, type: unknown): Promise<Outcome> {
  const account = await enrolmentAllowed(services, tx);
  if (!account) return CONTINUE;
  const policy = await services.policy.get();
  const factor = services.factors.enrollable(policy).find((f) => f.type === type);
  if (!factor) return chooserScreen(services, tx, account, 'Choose one of the methods listed.');
  tx.enrolment = { type: factor.type, state: await factor.startEnrolment(attemptContext(tx, account, who)) };
  tx.choosing = false;
  await services.transactions.save(tx);
  return CONTINUE;
}

/** POST an enrolment action (Send code, Call). */
export async function submitEnrolmentAction(
  services: FlowServices,
  tx: LoginTransaction,
  who: Requester,
  action: string,
  form: Record<string, string>,
): Promise<Outcome> {
  const account = await enrolmentAllowed(services, tx);
  const factor = tx.enrolment && services.factors.get(tx.enrolment.type);
  if (!account || !factor?.enrolmentAction) return CONTINUE;
  const result = await factor.enrolmentAction(attemptContext(tx, account, who), tx.enrolment!.state, action, form);
  tx.enrolment = { type: factor.type, state: result.state };
  if (!result.error && result.notice) tx.flash = { notice: result.notice };
  await services.transactions.save(tx);
  return result.error ? enrolmentScreen(services, tx, account, who, { message: result.error, status: 400 }) : CONTINUE;
}

/** POST Verify during enrolment: the factor is saved only if the code is right. */
export async function submitEnrolmentCode(services: FlowServices, tx: LoginTransaction, who: Requester, code: unknown): Promise<Outcome> {
  const account = await enrolmentAllowed(services, tx);
  const factor = tx.enrolment && services.factors.get(tx.enrolment.type);
  if (!account || !factor) return CONTINUE;
  const refused = await services.attempts.reserve(account.id, tx.uid);
  if (refused) return refused.reason === 'locked' ? lockedScreen(refused.lockedFor) : challengeOverScreen();

  const ctx = attemptContext(tx, account, who);
  const outcome = await factor.verifyEnrolment(ctx, tx.enrolment!.state, typeof code === 'string' ? code : '');
  if (!outcome.ok) {
    if (outcome.reason === 'locked') return lockedScreen(outcome.lockedFor);
    if (outcome.challengeOver) return challengeOverScreen();
    const message = outcome.reason === 'malformed' ? outcome.hint : INVALID_CODE;
    return enrolmentScreen(services, tx, account, who, { message, status: 400 });
  }

  const factorId = factor.enrolmentFactorId(tx.enrolment!.state);
  await Promise.all([services.factors.save(account, factor.type, factorId, outcome.enrolled!), services.attempts.release(account.id, tx.uid)]);
  // With the first factor come recovery codes, shown once on the next screen (nothing blocks Finish).
  if (!(await services.recovery.has(account.id))) {
    const codes = await services.recovery.generate(account);
    tx.recoveryCodes = services.keyring.seal(JSON.stringify(codes), recoveryDisplayContext(tx));
  }
  const now = Math.floor(services.now() / 1000);
  tx.secondFactor ??= { type: factor.type, amr: factor.amr, factorId, at: now };
  tx.enrolled.push({ factorId, type: factor.type });
  delete tx.enrolment;
  await services.transactions.save(tx);
  services.events.emit({
    type: 'factor.enrolled',
    outcome: 'success',
    accountId: account.id,
    username: account.username,
    clientId: tx.clientId,
    ip: who.ip,
    userAgent: who.userAgent,
    details: { factor: factor.type },
  });
  return CONTINUE;
}

/** POST "Setup": add another method after one was verified in this sign-in. */
export async function setupAnother(services: FlowServices, tx: LoginTransaction): Promise<Outcome> {
  if (!tx.secondFactor) return CONTINUE;
  tx.choosing = true;
  delete tx.enrolment;
  await services.transactions.save(tx);
  return CONTINUE;
}

/** POST "Back" from an enrolment screen to the method chooser. */
export async function cancelEnrolment(services: FlowServices, tx: LoginTransaction): Promise<Outcome> {
  delete tx.enrolment;
  tx.choosing = Boolean(tx.secondFactor);
  await services.transactions.save(tx);
  return CONTINUE;
}
