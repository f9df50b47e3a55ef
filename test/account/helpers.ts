// Helpers for the account page tests: a Twofold on a test clock with the fake Vonage behind it, a
// user who set up an authenticator app through the real sign-in screens (keeping the recovery
// codes shown there), and the account page reached and stepped up the way a person does it.
import { expect } from 'chai';
import { Agent, textOf, type Page } from '../support/agent.js';
import { createUser } from '../support/oidc.js';
import { enrolTotpOnPage, finishAndExchange, nextCode, startSignIn, testClock, type TestClock } from '../support/mfa.js';
import type { TestServerOptions } from '../support/server.js';
import { startPhoneRig, type PhoneRig } from '../phone/helpers.js';

export interface AccountRig extends PhoneRig {
  clock: TestClock;
}

/** A Twofold on a frozen test clock, sending texts through the fake Vonage, with a client that requires MFA. */
export async function startAccountRig(options: TestServerOptions = {}): Promise<AccountRig> {
  const clock = testClock();
  const rig = await startPhoneRig({ store: 'redis', now: () => clock.now(), ...options });
  return { ...rig, clock };
}

export interface AccountUser {
  username: string;
  password: string;
  accountId: string;
  /** The authenticator app's key, as typed into the app. */
  secret: string;
  /** The recovery codes shown on the Setup / Finish screen. */
  recoveryCodes: string[];
  /** The browser that enrolled (it holds the SSO session). */
  agent: Agent;
}

/** The recovery codes listed on a page (Setup / Finish, or the account page after regenerating). */
export const codesOn = (page: Page): string[] => page.$('.codes code').map((_, el) => page.$(el).text().trim()).get();

/** A user who set up an authenticator app at a sign-in to the MFA client. */
export async function userWithApp(rig: AccountRig, username: string, extra: Record<string, unknown> = {}): Promise<AccountUser> {
  const user = await createUser(rig.server, username, undefined, extra);
  const start = await startSignIn(rig.client, user);
  const { secret, page } = await enrolTotpOnPage(start.agent, start.page, rig.clock);
  const recoveryCodes = codesOn(page);
  expect(recoveryCodes, textOf(page)).to.have.length(10);
  await finishAndExchange(rig.client, start, page);
  rig.clock.advance(30); // the step used at enrolment is spent
  return { ...user, accountId: user.account.id, secret, recoveryCodes, agent: start.agent };
}

export const accountUrl = (rig: AccountRig, path = '') => `${rig.server.issuer}/account${path}`;

/** Opens /account, entering the password if the browser has no SSO session; returns the account page. */
export async function openAccount(rig: AccountRig, user: AccountUser, agent = user.agent): Promise<Page> {
  let page = await agent.open(accountUrl(rig));
  if (page.$('form[action$="/login"]').length) page = await agent.submit(page, '/login', { username: user.username, password: user.password });
  expect(page.url, textOf(page)).to.equal(accountUrl(rig));
  return page;
}

/** "Confirm it's you": step-up through the sign-in (password if asked, then the app's next code). */
export async function stepUp(rig: AccountRig, user: AccountUser, agent = user.agent): Promise<Page> {
  let page = await agent.open(accountUrl(rig, '/step-up'));
  return completeStepUp(rig, user, page, agent);
}

/** Finishes a sign-in that a step-up started, from whatever screen it shows. */
export async function completeStepUp(rig: AccountRig, user: AccountUser, page: Page, agent = user.agent): Promise<Page> {
  if (page.$('form[action$="/login"]').length) page = await agent.submit(page, '/login', { username: user.username, password: user.password });
  if (page.$('form[action$="/challenge/verify"]').length) page = await agent.submit(page, '/challenge/verify', { code: await nextCode(user.secret, rig.clock) });
  expect(page.url, textOf(page)).to.equal(accountUrl(rig));
  expect(isFresh(page), textOf(page)).to.equal(true);
  return page;
}

/** The page offers changes only within the step-up window. */
export const isFresh = (page: Page): boolean => page.$('form[action="/account/password"]').length === 1;

/** The user's factors as the database holds them (type, name, preferred), oldest first. */
export async function factorsOf(rig: AccountRig, accountId: string) {
  const all = await rig.server.services.factors.list(accountId);
  return all.map((f) => ({ id: f.id, type: f.type, name: f.name, preferred: f.preferred })).sort((a, b) => a.type.localeCompare(b.type));
}

/** The id of the user's factor of this type. */
export async function factorId(rig: AccountRig, accountId: string, type: string): Promise<string> {
  const found = (await rig.server.services.factors.list(accountId)).find((f) => f.type === type);
  if (!found) throw new Error(`no ${type} factor`);
  return found.id;
}
