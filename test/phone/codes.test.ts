// The rules for one-time codes sent by text message or voice call, each test named after the
// security checklist item it proves (../shared/security-checklist.md, items 6-12). Real server,
// real stores (Redis, and the memory store where it matters), the real Vonage SDK against the
// fake Vonage; the server's clock is a test clock where expiry is concerned.
import { expect } from 'chai';
import { formOf, textOf, type Page } from '../support/agent.js';
import { failureState, startSignIn, testClock, uidOf, type TestClock } from '../support/mfa.js';
import { startTestServer, type StoreKind } from '../support/server.js';
import { createUser } from '../support/oidc.js';
import { generateCode, CODE_DIGITS } from '../../src/codes/codes.js';
import { keys } from '../../src/store/session-store.js';
import {
  buttons,
  challenge,
  claimsAfter,
  E164,
  enterCode,
  lastCode,
  press,
  RecordingAgent,
  redisDump,
  redisTtl,
  requestEnrolmentCode,
  sent,
  sleep,
  startPhoneRig,
  userWithPhone,
  type PhoneRig,
} from './helpers.js';

/** Another six-digit code than `code`. */
const otherThan = (code: string, by = 1) => String((Number(code) + by) % 1_000_000).padStart(6, '0');

/** Pearson's chi-square statistic of digit counts against a uniform distribution. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

/** Counts per digit (0-9) at each of the six positions. */
function digitCounts(codes: string[]): number[][] {
  const counts = Array.from({ length: CODE_DIGITS }, () => new Array<number>(10).fill(0));
  for (const code of codes) for (let i = 0; i < CODE_DIGITS; i++) counts[i]![Number(code[i])]! += 1;
  return counts;
}

// df = 9: P(chi2 > 33.72) = 0.0001, so a fair generator fails one position in 10,000 runs, while
// a skew of a few percent on any digit is caught.
const CHI2_LIMIT = 33.72;

describe('one-time codes for SMS and voice', function () {
  this.timeout(90_000);

  describe('[item 6] 10,000 codes are six CSPRNG digits, uniform', () => {
    it('every code is exactly six ASCII digits, leading zeros kept, and each position passes a chi-square test', () => {
      const codes = Array.from({ length: 10_000 }, () => generateCode());
      for (const code of codes) expect(code).to.match(/^[0-9]{6}$/);
      expect(codes.filter((c) => c.startsWith('0')).length, 'about a tenth start with 0').to.be.within(800, 1200);
      const counts = digitCounts(codes);
      counts.forEach((position, i) => expect(chiSquare(position), `position ${i + 1}: ${position.join(' ')}`).to.be.below(CHI2_LIMIT));
      expect(new Set(codes).size, 'few repeats among 10,000 of a million').to.be.above(9_900);
    });

    it('the same test rejects a generator with a small bias (the test has teeth)', () => {
      // A fair-looking source (MINSTD) with one code in 25 forced to start with 7: a 4% skew.
      let seed = 12345;
      const next = () => (seed = (seed * 48271) % 2147483647);
      const skewed = Array.from({ length: 10_000 }, () => {
        const code = String(next() % 1_000_000).padStart(6, '0');
        return next() % 25 === 0 ? `7${code.slice(1)}` : code;
      });
      const worst = Math.max(...digitCounts(skewed).map(chiSquare));
      expect(worst).to.be.above(CHI2_LIMIT);
    });
  });

  describe('on Redis with a test clock', () => {
    let rig: PhoneRig;
    let clock: TestClock;
    let n = 0;
    const name = (base: string) => `${base}-${++n}`;

    before(async () => {
      clock = testClock();
      rig = await startPhoneRig({ store: 'redis', now: () => clock.now(), config: { sendLimits: { cooldownSeconds: 1, maxCooldownSeconds: 1 } } });
    });
    after(async () => rig?.close());

    /** The Redis key of the live code in a sign-in. */
    async function codeKey(accountId: string, page: Page): Promise<string> {
      const dump = await redisDump(rig.server);
      const prefix = `${rig.server.config.redisKeyPrefix}tf:{a:${accountId}}:code:${uidOf(page)}:`;
      const found = [...dump.keys()].filter((k) => k.startsWith(prefix));
      expect(found, 'one live code in this sign-in').to.have.length(1);
      return found[0]!.slice(rig.server.config.redisKeyPrefix.length);
    }

    it('[item 7] a code is accepted at 299 s and refused at 301 s (TTL 300 s); its Redis key expires within 600 s', async () => {
      const user = await userWithPhone(rig, name('expiry'), ['sms']);
      const early = await challenge(rig, user);
      const ttl = await redisTtl(rig.server, await codeKey(user.account.id, early.page));
      expect(ttl).to.be.within(1, 300);
      clock.advance(299);
      expect((await claimsAfter(rig, early, await enterCode(early.agent, early.page, lastCode(rig.vonage, 'sms')))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);

      const late = await challenge(rig, user);
      clock.advance(301);
      const refused = await enterCode(late.agent, late.page, lastCode(rig.vonage, 'sms'));
      expect(refused.status).to.equal(400);
      expect(textOf(refused)).to.include("That code didn't work.");
      expect(refused.redirectedTo).to.equal(undefined);
    });

    it('[item 7] the code lifetime can be set up to 600 s and never beyond', async () => {
      const server = await startPhoneRig({ store: 'redis', config: { codes: { ttlSeconds: 600 } } });
      try {
        const user = await userWithPhone(server, 'ten-minutes', ['sms']);
        const start = await challenge(server, user);
        const dump = await redisDump(server.server);
        const key = [...dump.keys()].find((k) => k.includes(`tf:{a:${user.account.id}}:code:${uidOf(start.page)}:`))!;
        expect(await redisTtl(server.server, key.slice(server.server.config.redisKeyPrefix.length))).to.be.within(590, 600);
        expect(server.vonage.sms.at(-1)!.body.text).to.include('It expires in 10 minutes.');
      } finally {
        await server.close();
      }
      let error: unknown;
      try {
        const over = await startTestServer({ config: { codes: { ttlSeconds: 601 } } });
        await over.close();
      } catch (err) {
        error = err;
      }
      expect(String(error)).to.match(/ttlSeconds|600/);
    });

    it('[item 8] a code verifies once: the codes service says no the second time, and a replayed Verify issues nothing', async () => {
      const { codes } = rig.server.services;
      const binding = { accountId: 'acct-item8', bindingId: 'interaction-item8', factorId: 'factor-item8', destination: E164 };
      let code = '';
      await codes.issue(binding, async (c) => {
        code = c;
        return { ok: true };
      });
      expect(await codes.verify(binding, code)).to.deep.equal({ ok: true });
      expect(await codes.verify(binding, code)).to.include({ ok: false, reason: 'invalid' });

      const user = await userWithPhone(rig, name('once'), ['sms']);
      const start = await challenge(rig, user);
      const smsCode = lastCode(rig.vonage, 'sms');
      const form = formOf(start.page, '/challenge/verify');
      const target = new URL(form.action, start.page.url).href;
      await claimsAfter(rig, start, await enterCode(start.agent, start.page, smsCode));
      const replay = await start.agent.post(target, { ...form.values, code: smsCode });
      const { url } = await start.agent.follow(replay, (l) => l.startsWith('https://rp.example.com/'));
      expect(url, 'the replay never reaches the client').to.not.match(/^https:\/\/rp\.example\.com\//);
    });

    it('[item 10] Resend code voids the previous code; the new one works', async () => {
      const user = await userWithPhone(rig, name('resend'), ['sms']);
      const start = await challenge(rig, user);
      const first = lastCode(rig.vonage, 'sms');
      await sleep(1100); // the 1 s cooldown of this server
      const resent = await press(start.agent, start.page, 'Resend code');
      const second = lastCode(rig.vonage, 'sms');
      expect(second).to.not.equal(first);
      const old = await enterCode(start.agent, resent, first);
      expect(old.status).to.equal(400);
      expect((await claimsAfter(rig, start, await enterCode(start.agent, old, second))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('[item 10] sending the enrolment code again voids the previous one', async () => {
      const user = await createUser(rig.server, name('enrol-again'));
      const start = await startSignIn(rig.client, user);
      const sentPage = await requestEnrolmentCode(start.agent, start.page, 'sms');
      const first = lastCode(rig.vonage, 'sms');
      await sleep(1100);
      const again = await start.agent.submit(sentPage, '/enrol/action', { phone: '' });
      expect(textOf(again)).to.include('We sent a code to +1 ••• ••• 0123');
      const second = lastCode(rig.vonage, 'sms');
      const old = await start.agent.submit(again, '/enrol/verify', { code: first });
      expect(old.status).to.equal(400);
      const done = await start.agent.submit(old, '/enrol/verify', { code: second });
      expect(buttons(done)).to.include('Finish');
    });

    it('[item 3] a code is bound to its sign-in: a live code from another sign-in of the same user fails', async () => {
      const user = await userWithPhone(rig, name('two-tabs'), ['sms']);
      const x = await challenge(rig, user);
      const xCode = lastCode(rig.vonage, 'sms');
      const y = await challenge(rig, user);
      const yCode = lastCode(rig.vonage, 'sms');
      const crossed = await enterCode(y.agent, y.page, xCode);
      expect(crossed.status).to.equal(400);
      expect((await claimsAfter(rig, y, await enterCode(y.agent, crossed, yCode))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      expect((await claimsAfter(rig, x, await enterCode(x.agent, x.page, xCode))).amr, 'X\'s own code still works in X').to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('[item 2] a code is bound to its account: another user\'s live code fails', async () => {
      const alice = await userWithPhone(rig, name('alice'), ['sms'], '+1 202 555 0141');
      const mallory = await userWithPhone(rig, name('mallory'), ['sms'], '+1 202 555 0142');
      const a = await challenge(rig, alice);
      const m = await challenge(rig, mallory);
      const malloryCode = lastCode(rig.vonage, 'sms');
      const crossed = await enterCode(a.agent, a.page, malloryCode);
      expect(crossed.status).to.equal(400);
      expect(crossed.redirectedTo).to.equal(undefined);
      expect((await claimsAfter(rig, m, await enterCode(m.agent, m.page, malloryCode))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('a code is bound to its factor: the SMS factor\'s code fails once the user moves to the voice factor', async () => {
      const user = await userWithPhone(rig, name('factor'), ['sms', 'voice']);
      const start = await challenge(rig, user);
      const smsCode = lastCode(rig.vonage, 'sms');
      const methods = await start.agent.submit(start.page, '/methods', {}, { button: 'Use another method' });
      const voice = await start.agent.submit(methods, '/methods/choose', {}, { button: 'Voice call' });
      expect(textOf(voice)).to.include('We are calling');
      const crossed = await enterCode(start.agent, voice, smsCode);
      expect(crossed.status).to.equal(400);
      expect((await claimsAfter(rig, start, await enterCode(start.agent, crossed, lastCode(rig.vonage, 'voice')))).amr).to.deep.equal(['pwd', 'tel', 'mfa']);
    });

    it('[item 11] the code is never in a response body, a log line or a Redis value; Redis holds only its HMAC', async () => {
      const user = await userWithPhone(rig, name('secret'), ['sms', 'voice']);
      const agent = new RecordingAgent();
      const start = await startSignIn(rig.client, user, {}, agent);
      const smsCode = lastCode(rig.vonage, 'sms');
      await sleep(1100);
      const called = await press(agent, start.page, 'Call me instead');
      const callCode = lastCode(rig.vonage, 'voice');
      const wrong = await enterCode(agent, called, smsCode);

      // While the code is live: Redis holds a digest, not the code or the number.
      const dump = await redisDump(rig.server);
      const key = `${rig.server.config.redisKeyPrefix}${await codeKey(user.account.id, wrong)}`;
      const stored = JSON.parse(dump.get(key)!) as Record<string, string>;
      expect(Object.keys(stored).sort()).to.deep.equal(['d', 'n', 'x']);
      expect(stored.d).to.match(/^[A-Za-z0-9_\-+/=]{40,}$/);
      for (const [k, value] of dump) {
        for (const code of [smsCode, callCode]) {
          expect(value, k).to.not.include(code);
          expect(k).to.not.include(code);
        }
        expect(value, k).to.not.include(E164.slice(2));
        expect(k).to.not.include(E164.slice(2));
      }

      const done = await enterCode(agent, wrong, callCode);
      await claimsAfter(rig, start, done);
      expect(agent.bodies.length).to.be.above(4);
      for (const body of agent.bodies) {
        expect(body).to.not.include(smsCode);
        expect(body).to.not.include(callCode);
      }
      for (const code of rig.vonage.codes()) expect(rig.server.logs.text).to.not.include(code);
      expect(rig.server.logs.text).to.not.include(E164.slice(2));
    });
  });

  describe('[item 12] wrong, expired, used, replaced and other users\' codes get the same answer', () => {
    let rig: PhoneRig;
    let clock: TestClock;

    before(async () => {
      clock = testClock();
      // The memory store runs on the test clock, so the cooldown hint on the page is the same in every case.
      rig = await startPhoneRig({ store: 'memory', now: () => clock.now(), config: { sendLimits: { cooldownSeconds: 30, maxCooldownSeconds: 30 } } });
    });
    after(async () => rig?.close());

    /** Status and page of a refused code, with the sign-in's own ids taken out. */
    function answer(page: Page & { redirectedTo?: string }) {
      const uid = uidOf(page);
      const csrf = page.$('input[name=_csrf]').first().attr('value')!;
      return { status: page.status, text: textOf(page), html: page.html.split(uid).join('UID').split(csrf).join('CSRF'), redirected: page.redirectedTo ?? null } as const;
    }

    it('the same status and the same page for every kind of bad code', async () => {
      const alice = await userWithPhone(rig, 'same-alice', ['sms'], '+1 202 555 0151');
      const bob = await userWithPhone(rig, 'same-bob', ['sms'], '+1 202 555 0152');
      const answers: Record<string, ReturnType<typeof answer>> = {};

      // wrong: one off the live code
      let s = await challenge(rig, alice);
      clock.advance(31);
      answers.wrong = answer(await enterCode(s.agent, s.page, otherThan(lastCode(rig.vonage, 'sms'))));

      // expired: the live code, after its five minutes
      s = await challenge(rig, alice);
      clock.advance(301);
      answers.expired = answer(await enterCode(s.agent, s.page, lastCode(rig.vonage, 'sms')));

      // used: a code that signed in a moment ago, in a new sign-in
      s = await challenge(rig, alice);
      const used = lastCode(rig.vonage, 'sms');
      await claimsAfter(rig, s, await enterCode(s.agent, s.page, used));
      s = await challenge(rig, alice);
      clock.advance(31);
      answers.used = answer(await enterCode(s.agent, s.page, used));

      // replaced: the code before a resend
      s = await challenge(rig, alice);
      const replaced = lastCode(rig.vonage, 'sms');
      clock.advance(31);
      const resent = await press(s.agent, s.page, 'Resend code');
      expect(lastCode(rig.vonage, 'sms')).to.not.equal(replaced);
      clock.advance(31);
      answers.replaced = answer(await enterCode(s.agent, resent, replaced));

      // other user: Bob's live code in Alice's sign-in
      const b = await challenge(rig, bob);
      const bobs = lastCode(rig.vonage, 'sms');
      s = await challenge(rig, alice);
      clock.advance(31);
      answers.otherUser = answer(await enterCode(s.agent, s.page, bobs));
      expect((await claimsAfter(rig, b, await enterCode(b.agent, b.page, bobs))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);

      expect(answers.wrong.status).to.equal(400);
      expect(answers.wrong.text).to.include("That code didn't work. Check it and try again.");
      for (const [kind, a] of Object.entries(answers)) {
        expect(a.status, kind).to.equal(answers.wrong.status);
        expect(a.redirected, kind).to.equal(null);
        expect(a.html, `${kind} page differs from the wrong-code page`).to.equal(answers.wrong.html);
      }
    });
  });

  for (const store of ['redis', 'memory'] as StoreKind[]) {
    describe(`races on ${store}`, () => {
      let rig: PhoneRig;
      let n = 0;
      const name = (base: string) => `race-${base}-${++n}-${store}`;

      before(async () => {
        // A 1 s resend cooldown, so a test can press Resend code again without waiting long.
        rig = await startPhoneRig({ store, config: { sendLimits: { cooldownSeconds: 1, maxCooldownSeconds: 1 } } });
      });
      after(async () => rig?.close());

      /** Posts `code` `times` times at once to the challenge's Verify. */
      async function burst(start: { agent: RecordingAgent | import('../support/agent.js').Agent; page: Page }, codes: string[]) {
        const form = formOf(start.page, '/challenge/verify');
        const target = new URL(form.action, start.page.url).href;
        const responses = await Promise.all(codes.map((code) => start.agent.post(target, { ...form.values, code })));
        return Promise.all(responses.map(async (r) => ({ status: r.status, location: r.headers.get('location') ?? '', body: await r.text() })));
      }

      it('[item 9] 20 parallel submissions of the right code: exactly one succeeds', async () => {
        const user = await userWithPhone(rig, name('valid'), ['sms']);
        const start = await challenge(rig, user);
        const code = lastCode(rig.vonage, 'sms');
        const results = await burst(start, new Array(20).fill(code));
        const through = results.filter((r) => r.status === 303 && r.location.includes('/auth/'));
        expect(through, results.map((r) => r.status).join(' ')).to.have.length(1);
        const others = results.filter((r) => r !== through[0]);
        // Refused codes (400, 429), or, once the sign-in has moved on, a stale form (403) or a redirect back to the page.
        expect(others.every((r) => [400, 403, 429].includes(r.status) || (r.status === 303 && !r.location.includes('/auth/'))), others.map((r) => `${r.status} ${r.location}`).join(', ')).to.equal(true);
        for (const r of results) expect(r.body).to.not.include(code);
      });

      it('[item 3] five parallel sign-ins of one user entering the first sign-in\'s code: all refused, the first still signs in', async () => {
        const user = await userWithPhone(rig, name('tabs'), ['sms']);
        const first = await challenge(rig, user);
        const code = lastCode(rig.vonage, 'sms');
        const others = await Promise.all(Array.from({ length: 5 }, () => challenge(rig, user)));
        const results = await Promise.all(others.map((s) => enterCode(s.agent, s.page, code)));
        expect(results.every((r) => !r.redirectedTo && r.status === 400)).to.equal(true);
        expect((await claimsAfter(rig, first, await enterCode(first.agent, first.page, code))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      });

      it('50 parallel wrong codes: exactly 5 counted per sign-in, a second burst locks the account, and a locked account is sent nothing', async () => {
        const user = await userWithPhone(rig, name('wrong'), ['sms']);
        const first = await challenge(rig, user);
        const right = lastCode(rig.vonage, 'sms');
        const wrong = Array.from({ length: 50 }, (_, i) => otherThan(right, i + 1));
        const results = await burst(first, wrong);
        expect(results.every((r) => r.status === 400 || r.status === 429), results.map((r) => r.status).join(' ')).to.equal(true);
        expect(await failureState(rig.server, user.account.id, uidOf(first.page))).to.deep.equal({ accountFailures: 5, challengeFailures: 5, lockouts: 0, lockedFor: 0 });
        expect(results.filter((r) => r.status === 429).length).to.be.at.least(46);
        // The right code is of no use any more in this sign-in: its five attempts are spent.
        const late = await enterCode(first.agent, first.page, right);
        expect(late.redirectedTo).to.equal(undefined);
        expect(late.status).to.equal(429);

        const second = await challenge(rig, user);
        const right2 = lastCode(rig.vonage, 'sms');
        await burst(second, Array.from({ length: 50 }, (_, i) => otherThan(right2, i + 1)));
        const state = await failureState(rig.server, user.account.id, uidOf(second.page));
        expect(state).to.deep.include({ lockouts: 1, challengeFailures: 5 });
        expect(state.lockedFor).to.be.within(14 * 60, 15 * 60);
        const refused = await enterCode(second.agent, second.page, right2);
        expect(refused.redirectedTo).to.equal(undefined);
        expect(refused.status).to.equal(429);

        const before = sent(rig.vonage);
        const third = await startSignIn(rig.client, user);
        expect(third.page.status).to.equal(429);
        expect(textOf(third.page)).to.include('Too many wrong codes');
        expect(sent(rig.vonage), 'nothing is sent to a locked account').to.equal(before);

        // Nor from the sign-ins still open: Resend code, its 1 s cooldown over, sends nothing and shows the lock.
        await new Promise((r) => setTimeout(r, 1100));
        for (const open of [first, second]) {
          const resent = await press(open.agent, open.page, 'Resend code');
          expect(resent.status, textOf(resent)).to.equal(429);
          expect(textOf(resent)).to.include('Too many wrong codes');
        }
        expect(sent(rig.vonage), 'Resend code sends nothing to a locked account').to.equal(before);
      });
    });
  }
});
