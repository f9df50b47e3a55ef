// Steps 4 and 5: the second-factor challenge for a user who has factors. The preferred factor is
// asked first; "Use another method" lists the others. Every decision is taken from the server-side
// transaction: the account, the factor and the challenge state never come from the request.
import type { FlowServices, InteractionFacts, Outcome, Requester } from '../context.js';
import { CONTINUE, render } from '../context.js';
import type { LoginTransaction } from '../transaction.js';
import type { Account } from '../../db/repos/accounts.js';
import type { StoredFactor } from '../../db/repos/factors.js';
import type { AttemptContext, VerifyOutcome } from '../../factors/factor.js';
import { minutesFrom } from '../../accounts/throttle.js';
import { finishWithSecondFactor } from './finish.js';

export const INVALID_CODE = "That code didn't work. Check it and try again.";

export const attemptContext = (tx: LoginTransaction, account: Account, who: Requester): AttemptContext => ({
  account,
  bindingId: tx.uid,
  clientId: tx.clientId,
  ip: who.ip,
  userAgent: who.userAgent,
  // The account's own language first; then the browser's (who.locale: see localeFor).
  locale: account.locale || who.locale,
});

export function lockedScreen(lockedFor: number): Outcome {
  const minutes = minutesFrom(lockedFor);
  return render(
    'locked',
    { minutes, message: `Too many wrong codes. Your second factor is locked for ${minutes} minute${minutes === 1 ? '' : 's'}. Try again later, or contact your administrator.` },
    429,
  );
}

export const challengeOverScreen = (): Outcome =>
  render('challenge-over', { message: 'Too many wrong codes for this sign-in. Start signing in again.' }, 429);

async function challengeIsOver(services: FlowServices, tx: LoginTransaction, account: Account): Promise<boolean> {
  return (await services.attempts.challengeFailures(account.id, tx.uid)) >= services.config.mfa.challengeMaxFailures;
}

/** Shows the current challenge, starting it (once) if needed; the caller has checked that attempts are left. */
export async function challengeScreen(
  services: FlowServices,
  tx: LoginTransaction,
  account: Account,
  factors: StoredFactor[],
  who: Requester,
  error?: { message: string; status: number },
): Promise<Outcome> {
  if (tx.choosing) return render('methods', { methods: factors.map((f) => describe(services, f)) });

  const current =
    factors.find((f) => f.id === tx.challenge?.factorId) ?? factors.find((f) => f.id === tx.selectedFactorId) ?? factors[0]!;
  const factor = services.factors.challenger(current.type)!;
  const ctx = attemptContext(tx, account, who);
  let flash = tx.flash;
  let changed = Boolean(tx.flash);
  delete tx.flash;
  if (tx.challenge?.factorId !== current.id) {
    // Started once per factor per sign-in: a reload finds it started and sends nothing more.
    const started = await factor.startChallenge(ctx, current);
    tx.challenge = { factorId: current.id, state: started.state };
    flash = { ...(started.notice ? { notice: started.notice } : {}), ...(started.error ? { error: started.error } : {}) };
    changed = true;
  }
  if (changed) await services.transactions.save(tx);
  const view = await factor.challengeView(ctx, current, tx.challenge!.state);
  return render(
    'challenge',
    {
      factor: describe(services, current),
      partial: factor.views.challenge,
      view,
      others: factors.filter((f) => f.id !== current.id).length,
      recoveryFactorId: services.factors.isFallback(current.type) ? null : (factors.find((f) => services.factors.isFallback(f.type))?.id ?? null),
      notice: flash?.notice,
      error: error?.message ?? flash?.error,
    },
    error?.status,
  );
}

/** POST Verify on the challenge screen. */
export async function submitChallengeCode(
  services: FlowServices,
  facts: InteractionFacts,
  tx: LoginTransaction,
  who: Requester,
  code: unknown,
): Promise<Outcome> {
  const target = await currentChallenge(services, tx);
  if (!target) return CONTINUE;
  const { account, stored, factor, factors } = target;
  const ctx = attemptContext(tx, account, who);
  // Locked, or this sign-in's attempts used up: refused before any code is looked at.
  const refused = await services.attempts.reserve(account.id, tx.uid);
  if (refused) return failureScreen(services, tx, account, factors, who, refused);
  const outcome = await factor.verifyChallenge(ctx, stored, tx.challenge!.state, typeof code === 'string' ? code : '');
  emitOutcome(services, tx, account, who, stored.type, outcome);
  if (!outcome.ok) return failureScreen(services, tx, account, factors, who, outcome);

  // The one place a sign-in gains its second factor (besides enrolling one). Finishing ends the
  // transaction, so nothing is saved first; the factor's last use is recorded alongside.
  const passed: LoginTransaction = { ...tx, challenge: undefined, secondFactor: { type: stored.type, amr: factor.challengeAmr(tx.challenge!.state), factorId: stored.id, at: Math.floor(services.now() / 1000) } };
  const [finished] = await Promise.all([finishWithSecondFactor(services, passed, account, who), services.factors.touch(stored)]);
  return finished;
}

/** POST an action on the challenge screen (Resend code, Call again). */
export async function submitChallengeAction(services: FlowServices, tx: LoginTransaction, who: Requester, action: string): Promise<Outcome> {
  const target = await currentChallenge(services, tx);
  if (!target?.factor.challengeAction) return CONTINUE;
  // Nothing is sent for a locked second factor or a challenge out of attempts: the page says which.
  const [lockedFor, over] = await Promise.all([services.attempts.lockedFor(target.account.id), challengeIsOver(services, tx, target.account)]);
  if (lockedFor > 0 || over) return CONTINUE;
  const result = await target.factor.challengeAction(attemptContext(tx, target.account, who), target.stored, tx.challenge!.state, action);
  tx.challenge = { factorId: target.stored.id, state: result.state };
  tx.flash = { ...(result.notice ? { notice: result.notice } : {}), ...(result.error ? { error: result.error } : {}) };
  await services.transactions.save(tx);
  return CONTINUE;
}

/** POST "Use another method": list the account's other factors. */
export async function showMethods(services: FlowServices, tx: LoginTransaction): Promise<Outcome> {
  if (!tx.accountId || tx.secondFactor) return CONTINUE;
  tx.choosing = true;
  await services.transactions.save(tx);
  return CONTINUE;
}

/** POST a choice from the method list. Only the account's own usable factors can be chosen. */
export async function chooseFactor(services: FlowServices, tx: LoginTransaction, factorId: unknown): Promise<Outcome> {
  if (!tx.accountId || tx.secondFactor) return CONTINUE;
  const factors = await services.factors.usable(tx.accountId, tx);
  const chosen = factors.find((f) => f.id === factorId);
  if (!chosen) return render('methods', { methods: factors.map((f) => describe(services, f)), error: 'Choose one of the methods listed.' }, 400);
  tx.choosing = false;
  tx.selectedFactorId = chosen.id;
  if (tx.challenge?.factorId !== chosen.id) delete tx.challenge;
  await services.transactions.save(tx);
  return CONTINUE;
}

async function currentChallenge(services: FlowServices, tx: LoginTransaction) {
  if (!tx.accountId || tx.secondFactor || !tx.challenge) return undefined;
  const [account, factors] = await Promise.all([services.accounts.findById(tx.accountId), services.factors.usable(tx.accountId, tx)]);
  if (!account || account.disabled) return undefined;
  const stored = factors.find((f) => f.id === tx.challenge!.factorId);
  const factor = stored && services.factors.challenger(stored.type);
  return stored && factor ? { account, stored, factor, factors } : undefined;
}

async function failureScreen(
  services: FlowServices,
  tx: LoginTransaction,
  account: Account,
  factors: StoredFactor[],
  who: Requester,
  outcome: Exclude<VerifyOutcome, { ok: true }>,
): Promise<Outcome> {
  if (outcome.reason === 'locked') return lockedScreen(outcome.lockedFor);
  if (outcome.challengeOver) return challengeOverScreen();
  const message = outcome.reason === 'malformed' ? outcome.hint : INVALID_CODE;
  return challengeScreen(services, tx, account, factors, who, { message, status: 400 });
}

function emitOutcome(services: FlowServices, tx: LoginTransaction, account: Account, who: Requester, type: string, outcome: VerifyOutcome): void {
  services.events.emit({
    type: outcome.ok ? 'mfa.verified' : outcome.reason === 'locked' && outcome.lockedFor > 0 ? 'mfa.locked' : 'mfa.failed',
    outcome: outcome.ok ? 'success' : 'failure',
    accountId: account.id,
    username: account.username,
    clientId: tx.clientId,
    ip: who.ip,
    userAgent: who.userAgent,
    reason: outcome.ok ? null : outcome.reason,
    details: { factor: type },
  });
}

export function describe(services: FlowServices, stored: StoredFactor) {
  const factor = services.factors.challenger(stored.type);
  return { id: stored.id, type: stored.type, name: stored.name, label: factor?.label ?? stored.type, preferred: stored.preferred };
}
