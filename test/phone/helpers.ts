// Helpers for the SMS and voice tests: a Twofold wired to the fake Vonage, enrolling phone
// factors the way a person does (through the real screens), and reading what the real stores hold.
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.js';
import { Agent, textOf, type Page } from '../support/agent.js';
import { createUser, exchange, isCallback, registerClient, type TestClient } from '../support/oidc.js';
import { startSignIn, type SignInStart } from '../support/mfa.js';
import { startFakeVonage, type FakeVonage } from '../fakes/vonage-server.js';
import type { Channel } from '../../src/phone/phone.js';

export const NUMBER = '+1 202 555 0123';
export const E164 = '+12025550123';

/** Limits high enough that only the abuse tests ever meet them. */
export const ROOMY_LIMITS = {
  perNumberHour: 1000,
  perNumberDay: 1000,
  perAccountHour: 1000,
  perAccountDay: 1000,
  perIpHour: 1000,
  perIpDay: 1000,
  perCountryHour: 1000,
  perCountryDay: 1000,
  prefixAlertSends: 0,
};

export interface PhoneRig {
  server: TestServer;
  vonage: FakeVonage;
  client: TestClient;
  close(): Promise<void>;
}

/** A fake Vonage and a Twofold that sends through it (the real SDK over HTTP). */
export async function startPhoneRig(options: TestServerOptions & { webhooks?: boolean; defaultLimits?: boolean } = {}): Promise<PhoneRig> {
  const vonage = await startFakeVonage();
  const fake = vonage.config(options.webhooks ?? true) as { vonage: Record<string, unknown> };
  const extra = options.config ?? {};
  let server: TestServer;
  try {
    server = await startTestServer({
      ...options,
      config: {
        ...extra,
        vonage: { ...fake.vonage, ...((extra.vonage as object) ?? {}) },
        sendLimits: { ...(options.defaultLimits ? {} : ROOMY_LIMITS), ...((extra.sendLimits as object) ?? {}) },
      },
    });
  } catch (err) {
    await vonage.stop();
    throw err;
  }
  const client = await registerClient(server, { requireMfa: true });
  return {
    server,
    vonage,
    client,
    async close() {
      await server.close();
      await vonage.stop();
    },
  };
}

/** The code the fake Vonage last delivered by this channel. */
export const lastCode = (vonage: FakeVonage, channel: Channel): string => (channel === 'sms' ? vonage.lastSmsCode() : vonage.lastCallCode());

/** Requests the fake Vonage has received so far (texts and calls). */
export const sent = (vonage: FakeVonage): number => vonage.sms.length + vonage.calls.length;

const CHANNEL_BUTTON: Record<Channel, string> = { sms: 'Text message (SMS)', voice: 'Voice call' };

/** From the method chooser: picks SMS or voice and types the number; returns the page after Send code / Call. */
export async function requestEnrolmentCode(agent: Agent, chooser: Page, channel: Channel, number = NUMBER): Promise<Page> {
  const enrol = await agent.submit(chooser, '/enrol', { method: channel }, { button: CHANNEL_BUTTON[channel] });
  expect(enrol.$('label[for=phone]').text()).to.equal('Phone number');
  return agent.submit(enrol, '/enrol/action', { phone: number });
}

/** Enrols a phone factor from the chooser, reading the code off the fake; returns the Setup/Finish page. */
export async function enrolPhone(agent: Agent, chooser: Page, vonage: FakeVonage, channel: Channel, number = NUMBER): Promise<Page> {
  const before = sent(vonage);
  const page = await requestEnrolmentCode(agent, chooser, channel, number);
  expect(sent(vonage), textOf(page)).to.equal(before + 1);
  const done = await agent.submit(page, '/enrol/verify', { code: lastCode(vonage, channel) });
  expect(done.$('button').text(), textOf(done)).to.include('Finish');
  return done;
}

/**
 * A user who enrolled phone factors through the real screens: `channels` in order (the first is
 * preferred), each to `number`. The enrolment sign-in is finished; the returned user signs in anew.
 */
export async function userWithPhone(rig: PhoneRig, username: string, channels: Channel[] = ['sms', 'voice'], number = NUMBER, extra: Record<string, unknown> = {}) {
  const user = await createUser(rig.server, username, undefined, extra);
  const start = await startSignIn(rig.client, user);
  let page: Page = start.page;
  for (const [i, channel] of channels.entries()) {
    if (i > 0) page = await start.agent.submit(page, '/setup');
    page = await enrolPhone(start.agent, page, rig.vonage, channel, number);
  }
  const done = await start.agent.submit(page, '/finish', {}, { stopAt: isCallback });
  expect(done.redirectedTo, textOf(done)).to.match(/^https:\/\/rp\.example\.com\/callback/);
  await exchange(rig.client, start.auth, done.redirectedTo!);
  return user;
}

/** Signs in with the password up to the phone challenge (which sends the first code). */
export async function challenge(rig: PhoneRig, user: { username: string; password: string }, params: Record<string, string> = {}): Promise<SignInStart> {
  const start = await startSignIn(rig.client, user, params);
  expect(start.page.$('label[for=code]').text(), textOf(start.page)).to.match(/^Code/);
  return start;
}

/** Presses a button on the challenge page (Resend code, Call again, Call me instead...). */
export const press = (agent: Agent, page: Page, button: string) => agent.submit(page, '/challenge/action', {}, { button });

/** Enters a code on the challenge page; stops at the client's callback. */
export const enterCode = (agent: Agent, page: Page, code: string) => agent.submit(page, '/challenge/verify', { code }, { stopAt: isCallback });

/** Finishes a sign-in whose last page redirected to the client: the ID token's claims. */
export async function claimsAfter(rig: PhoneRig, start: SignInStart, page: Page & { redirectedTo?: string }) {
  expect(page.redirectedTo, `${page.status} ${textOf(page)}`).to.match(/^https:\/\/rp\.example\.com\/callback/);
  const tokens = await exchange(rig.client, start.auth, page.redirectedTo!);
  return tokens.claims()!;
}

/** The labels of every button on a page. */
export const buttons = (page: Page): string[] => page.$('button').map((_, el) => page.$(el).text().trim()).get();

/** Every key under this server's Redis prefix, with its value (strings, hashes...) as text. */
export async function redisDump(server: TestServer): Promise<Map<string, string>> {
  const prefix = server.config.redisKeyPrefix;
  expect(prefix, 'a Redis test server has its own key prefix').to.not.equal('');
  const { Redis } = await import('ioredis');
  const redis = new Redis(server.config.redisUrl!);
  try {
    const dump = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const type = await redis.type(key);
        const value =
          type === 'string' ? await redis.get(key)
          : type === 'hash' ? JSON.stringify(await redis.hgetall(key))
          : type === 'set' ? JSON.stringify(await redis.smembers(key))
          : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1))
          : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'))
          : `(${type})`;
        dump.set(key, value ?? '');
      }
    } while (cursor !== '0');
    return dump;
  } finally {
    redis.disconnect();
  }
}

/** Redis TTL (seconds) of a key under this server's prefix. */
export async function redisTtl(server: TestServer, key: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(server.config.redisUrl!);
  try {
    return await redis.ttl(`${server.config.redisKeyPrefix}${key}`);
  } finally {
    redis.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An Agent that keeps a copy of every response body it received (to prove what never showed). */
export class RecordingAgent extends Agent {
  readonly bodies: string[] = [];

  override async request(url: string, init: Parameters<Agent['request']>[1] = {}): Promise<Response> {
    const res = await super.request(url, init);
    this.bodies.push(await res.clone().text());
    return res;
  }
}
