// Step 2: the password. Wrong password and unknown user answer alike; failures are throttled per
// account and per IP; a disabled account cannot sign in.
import type { FlowServices, InteractionFacts, Outcome, Requester } from '../context.js';
import { CONTINUE, render } from '../context.js';
import { forgetAccount, type LoginTransaction } from '../transaction.js';
import { tryAgainIn } from '../../accounts/throttle.js';
import { finishWithPassword } from './finish.js';

export const INVALID_CREDENTIALS = 'Invalid username or password';

/** Login-prompt reasons that only mean "the second factor (or a higher acr) is missing". */
const SECOND_FACTOR_ONLY = new Set(['second_factor_required', 'essential_acr', 'essential_acrs']);

/** Binding a first factor needs a recently entered password (NIST 800-63B 4.1.2.1). */
export function passwordIsFresh(services: FlowServices, tx: LoginTransaction): boolean {
  const age = Math.floor(services.now() / 1000) - (tx.passwordAt ?? 0);
  return age <= services.config.mfa.freshPasswordMinutes * 60;
}

export function passwordScreen(notice?: string): Outcome {
  return render('login', { notice });
}

/**
 * An SSO session already proved the password when the only thing the login prompt wants is the
 * second factor. max_age, prompt=login and a different subject all need the password again.
 */
export function sessionProvesPassword(facts: InteractionFacts): Pick<LoginTransaction, 'accountId' | 'passwordAt'> | undefined {
  const session = facts.session;
  if (facts.prompt.name !== 'login' || !session?.accountId || !session.loginTs) return undefined;
  if (!facts.prompt.reasons.every((r) => SECOND_FACTOR_ONLY.has(r))) return undefined;
  return { accountId: session.accountId, passwordAt: session.loginTs };
}

export async function submitPassword(
  services: FlowServices,
  facts: InteractionFacts,
  tx: LoginTransaction,
  who: Requester,
  form: { username?: unknown; password?: unknown },
): Promise<Outcome> {
  const username = typeof form.username === 'string' ? form.username.trim() : '';
  const password = typeof form.password === 'string' ? form.password : '';
  const again = (message: string, status: number) => render('login', { error: message, username }, status);
  if (!username || !password) return again('Enter your username and password.', 400);

  const wait = await services.throttle.retryAfter(username, who.ip);
  if (wait > 0) {
    services.events.emit({ type: 'signin.throttled', outcome: 'failure', username, clientId: tx.clientId, ip: who.ip, userAgent: who.userAgent, reason: 'too_many_failures' });
    return again(`Too many failed sign-in attempts. Please ${tryAgainIn(wait)}.`, 429);
  }

  const check = await services.accounts.checkPassword(username, password);
  if (!check.ok) {
    const lockedNow = check.reason === 'invalid_credentials' && (await services.throttle.recordFailure(username, who.ip));
    // The failure that locks the account is worth its own event (metrics count lockouts by it).
    if (lockedNow) services.events.emit({ type: 'signin.locked', outcome: 'failure', accountId: check.account?.id ?? null, username, clientId: tx.clientId, ip: who.ip, userAgent: who.userAgent, reason: 'too_many_failures' });
    services.events.emit({
      type: 'signin.failed',
      outcome: 'failure',
      accountId: check.account?.id ?? null,
      username,
      clientId: tx.clientId,
      ip: who.ip,
      userAgent: who.userAgent,
      reason: check.reason,
    });
    return check.reason === 'disabled'
      ? again('This account is disabled. Contact your administrator.', 403)
      : again(INVALID_CREDENTIALS, 401);
  }

  if (tx.accountId !== undefined && tx.accountId !== check.account.id) forgetAccount(tx);
  Object.assign(tx, { accountId: check.account.id, passwordAt: Math.floor(services.now() / 1000), passwordTooOld: false } satisfies Partial<LoginTransaction>);
  // Without a second factor the sign-in ends here and the transaction with it: nothing to save.
  await Promise.all([services.throttle.recordSuccess(username), tx.secondFactorRequired ? services.transactions.save(tx) : undefined]);
  services.events.emit({
    type: 'signin.password_verified',
    outcome: 'success',
    accountId: check.account.id,
    username: check.account.username,
    clientId: tx.clientId,
    ip: who.ip,
    userAgent: who.userAgent,
  });
  return tx.secondFactorRequired ? CONTINUE : finishWithPassword(services, tx, who, check.account.username);
}
