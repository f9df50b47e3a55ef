// SMS pumping and toll fraud: the limits on sending codes, each test named after the security
// checklist item it proves (items 22-26, 28). "Vonage receives nothing more" is read off the fake
// Vonage's request log; limits are small (config.sendLimits) and the memory store runs on a test
// clock, so windows and cooldowns are exact.
import { expect } from 'chai';
import { Agent, formOf, textOf, type Page } from '../support/agent.js';
import { startSignIn, testClock, uidOf, type TestClock } from '../support/mfa.js';
import { authorizationUrl, createUser, openAuthorization } from '../support/oidc.js';
import type { SecurityEvent } from '../../src/events.js';
import type { Channel } from '../../src/phone/phone.js';
import {
  buttons,
  challenge,
  claimsAfter,
  enterCode,
  lastCode,
  press,
  requestEnrolmentCode,
  sent,
  startPhoneRig,
  userWithPhone,
  type PhoneRig,
} from './helpers.js';

const CHANNEL_BUTTON: Record<Channel, string> = { sms: 'Text message (SMS)', voice: 'Voice call' };

describe('abuse controls on sending codes', function () {
  this.timeout(90_000);
  let n = 0;
  const name = (base: string) => `${base}-${++n}`;

  /** A rig on the memory store and a test clock, recording every security event. */
  async function rigWith(sendLimits: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const clock = testClock();
    const rig = await startPhoneRig({ store: 'memory', now: () => clock.now(), config: { trustProxy: 1, sendLimits, ...extra } });
    const events: SecurityEvent[] = [];
    rig.server.services.events.subscribe((e) => void events.push(e));
    return { rig, clock, events };
  }

  /** A new user signed in with the password, on the enrolment screen of `channel` (nothing sent yet). */
  async function enrolmentScreen(rig: PhoneRig, channel: Channel = 'sms', agent = new Agent()) {
    const user = await createUser(rig.server, name('user'));
    const start = await startSignIn(rig.client, user, {}, agent);
    const page = await agent.submit(start.page, '/enrol', { method: channel }, { button: CHANNEL_BUTTON[channel] });
    expect(page.$('label[for=phone]').text()).to.equal('Phone number');
    return { user, start, page, agent };
  }

  /** Presses Send code / Call with `number` on an enrolment screen. */
  const send = (agent: Agent, page: Page, number: string) => agent.submit(page, '/enrol/action', { phone: number });

  const errorOf = (page: Page) => page.$('.error').text().replace(/\s+/g, ' ').trim();

  describe('[item 22] limits per number, account, IP and country calling code; Vonage is not called past them', () => {
    it('per number per hour (text messages and calls together), then per day', async () => {
      const { rig, clock, events } = await rigWith({ perNumberHour: 3, perNumberDay: 5 });
      try {
        const number = '+1 202 555 0123';
        for (const channel of ['sms', 'voice', 'sms'] as Channel[]) {
          const { page, agent } = await enrolmentScreen(rig, channel);
          const done = await send(agent, page, number);
          expect(done.status, errorOf(done)).to.equal(200);
        }
        expect(sent(rig.vonage)).to.equal(3);
        for (const channel of ['voice', 'sms'] as Channel[]) {
          const { page, agent } = await enrolmentScreen(rig, channel);
          const refused = await send(agent, page, number);
          expect(refused.status).to.equal(400);
          expect(errorOf(refused)).to.equal('Too many codes sent to this number. Try again in 60 minutes or use another method.');
          expect(refused.$('label[for=code]').length).to.equal(0);
        }
        expect(sent(rig.vonage), 'Vonage received nothing more').to.equal(3);
        expect(events.filter((e) => e.type === 'code.refused').map((e) => e.reason)).to.deep.equal(['limit_number', 'limit_number']);

        // Another number is not affected.
        const other = await enrolmentScreen(rig);
        expect((await send(other.agent, other.page, '+1 202 555 0124')).status).to.equal(200);
        expect(sent(rig.vonage)).to.equal(4);

        // An hour later the hourly limit is fresh; the daily one (5) stops the third send.
        clock.advance(3601);
        for (let i = 0; i < 2; i++) {
          const s = await enrolmentScreen(rig);
          expect((await send(s.agent, s.page, number)).status).to.equal(200);
        }
        const s = await enrolmentScreen(rig);
        const refused = await send(s.agent, s.page, number);
        expect(errorOf(refused)).to.equal('Too many codes sent to this number. Try again in 23 hours or use another method.');
        expect(sent(rig.vonage)).to.equal(6);
      } finally {
        await rig.close();
      }
    });

    it('the defaults let +1 202 555 0123 receive codes, at least 5 an hour for one user and number, and stop at 6', async () => {
      const clock = testClock();
      const rig = await startPhoneRig({ store: 'memory', now: () => clock.now(), defaultLimits: true });
      try {
        const user = await userWithPhone(rig, name('defaults'), ['sms']);
        for (let i = 0; i < 5; i++) {
          const start = await challenge(rig, user);
          expect(start.page.$('.error').text(), `sign-in ${i + 1}`).to.equal('');
          clock.advance(60);
        }
        expect(rig.vonage.sms, 'the enrolment and five sign-ins').to.have.length(6);
        const refused = await challenge(rig, user);
        expect(errorOf(refused.page)).to.match(/^Too many codes sent to this number\. Try again in \d+ minutes or use another method\.$/);
        expect(rig.vonage.sms).to.have.length(6);
      } finally {
        await rig.close();
      }
    });

    it('per account per hour: one user trying number after number', async () => {
      const { rig, events } = await rigWith({ perAccountHour: 3 });
      try {
        const { page, agent } = await enrolmentScreen(rig);
        let current: Page = page;
        for (const last of ['0131', '0132', '0133']) {
          current = await send(agent, current, `+1 202 555 ${last}`);
          expect(current.status, errorOf(current)).to.equal(200);
        }
        const refused = await send(agent, current, '+1 202 555 0134');
        expect(refused.status).to.equal(400);
        expect(errorOf(refused)).to.equal('Too many codes requested for your account. Try again in 60 minutes or use another method.');
        expect(sent(rig.vonage)).to.equal(3);
        expect(events.filter((e) => e.type === 'code.refused').map((e) => e.reason)).to.deep.equal(['limit_account']);
      } finally {
        await rig.close();
      }
    });

    it('per IP per hour, as the trusted proxy reports it; another address is not affected', async () => {
      const { rig } = await rigWith({ perIpHour: 2 });
      try {
        const from = (ip: string) => new Agent({ 'x-forwarded-for': ip });
        for (const last of ['0141', '0142']) {
          const s = await enrolmentScreen(rig, 'sms', from('203.0.113.7'));
          expect((await send(s.agent, s.page, `+1 202 555 ${last}`)).status).to.equal(200);
        }
        const s = await enrolmentScreen(rig, 'voice', from('203.0.113.7'));
        const refused = await send(s.agent, s.page, '+1 202 555 0143');
        expect(errorOf(refused)).to.equal('Too many codes requested from your network. Try again in 60 minutes or use another method.');
        expect(sent(rig.vonage)).to.equal(2);
        const elsewhere = await enrolmentScreen(rig, 'sms', from('198.51.100.9'));
        expect((await send(elsewhere.agent, elsewhere.page, '+1 202 555 0144')).status).to.equal(200);
        expect(sent(rig.vonage)).to.equal(3);
      } finally {
        await rig.close();
      }
    });

    it('per country calling code per hour: +1 stops, +33 still goes', async () => {
      const { rig, events } = await rigWith({ perCountryHour: 2 });
      try {
        for (const last of ['0151', '0152']) {
          const s = await enrolmentScreen(rig);
          expect((await send(s.agent, s.page, `+1 202 555 ${last}`)).status).to.equal(200);
        }
        const s = await enrolmentScreen(rig);
        const refused = await send(s.agent, s.page, '+1 876 555 0123');
        expect(errorOf(refused)).to.equal('Too many codes sent to this country right now. Try again in 60 minutes or use another method.');
        expect(sent(rig.vonage)).to.equal(2);
        expect(events.find((e) => e.type === 'code.refused')).to.deep.include({ reason: 'limit_country' });
        const france = await enrolmentScreen(rig);
        expect((await send(france.agent, france.page, '+33 6 12 34 56 78')).status).to.equal(200);
        expect(sent(rig.vonage)).to.equal(3);
      } finally {
        await rig.close();
      }
    });

    it('per country calling code per day', async () => {
      const { rig, clock } = await rigWith({ perCountryDay: 2 });
      try {
        for (const last of ['0161', '0162']) {
          const s = await enrolmentScreen(rig);
          expect((await send(s.agent, s.page, `+1 202 555 ${last}`)).status).to.equal(200);
          clock.advance(3601);
        }
        const s = await enrolmentScreen(rig);
        const refused = await send(s.agent, s.page, '+1 202 555 0163');
        expect(errorOf(refused)).to.match(/^Too many codes sent to this country right now\. Try again in 22 hours or use another method\.$/);
        expect(sent(rig.vonage)).to.equal(2);
      } finally {
        await rig.close();
      }
    });

    it('parallel sends from many sign-ins cannot pass a limit together', async () => {
      const { rig } = await rigWith({ perNumberHour: 3 });
      try {
        const screens = await Promise.all(Array.from({ length: 10 }, () => enrolmentScreen(rig)));
        rig.vonage.smsMode = { kind: 'delay', ms: 200 };
        const results = await Promise.all(screens.map((s) => send(s.agent, s.page, '+1 202 555 0171')));
        expect(sent(rig.vonage), 'only the limit reaches Vonage').to.equal(3);
        expect(results.filter((r) => r.status === 200)).to.have.length(3);
        expect(results.filter((r) => r.status === 400)).to.have.length(7);
      } finally {
        await rig.close();
      }
    });

    it('failed sends count toward no limit', async () => {
      const { rig } = await rigWith({ perNumberHour: 2, perAccountHour: 2 });
      try {
        const { page, agent } = await enrolmentScreen(rig);
        rig.vonage.smsMode = { kind: 'http', status: 500 };
        let current: Page = page;
        for (let i = 0; i < 4; i++) current = await send(agent, current, '+1 202 555 0181');
        expect(rig.vonage.sms).to.have.length(4);
        rig.vonage.smsMode = { kind: 'ok' };
        current = await send(agent, current, '+1 202 555 0181');
        expect(current.status, errorOf(current)).to.equal(200);
        expect(rig.vonage.sms).to.have.length(5);
      } finally {
        await rig.close();
      }
    });
  });

  describe('[item 25] the resend cooldown: per sign-in and destination, growing, not used by failed sends', () => {
    it('Resend code waits 30 s, then 60 s, then 120 s; the wait is shown on the page and nothing is sent before it ends', async () => {
      const { rig, clock } = await rigWith({});
      try {
        const user = await userWithPhone(rig, name('cool'), ['sms']);
        clock.advance(3601); // the enrolment's send is out of the hour
        const start = await challenge(rig, user);
        expect(rig.vonage.sms).to.have.length(2);
        expect(textOf(start.page)).to.include('You can ask for a new code in 30 seconds.');
        const early = await press(start.agent, start.page, 'Resend code');
        expect(errorOf(early)).to.equal('Wait 30 seconds before asking for another code.');
        expect(rig.vonage.sms).to.have.length(2);

        clock.advance(30);
        let page = await press(start.agent, early, 'Resend code');
        expect(rig.vonage.sms).to.have.length(3);
        expect(textOf(page)).to.include('You can ask for a new code in 60 seconds.');
        clock.advance(45);
        page = await press(start.agent, page, 'Resend code');
        expect(errorOf(page)).to.equal('Wait 15 seconds before asking for another code.');
        expect(rig.vonage.sms).to.have.length(3);
        clock.advance(15);
        page = await press(start.agent, page, 'Resend code');
        expect(rig.vonage.sms).to.have.length(4);
        expect(textOf(page)).to.include('You can ask for a new code in 2 minutes.');
        expect((await claimsAfter(rig, start, await enterCode(start.agent, page, lastCode(rig.vonage, 'sms')))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      } finally {
        await rig.close();
      }
    });

    it('a failed send leaves the cooldown open: pressing again at once sends', async () => {
      const { rig } = await rigWith({});
      try {
        const user = await userWithPhone(rig, name('fail-open'), ['sms']);
        rig.vonage.smsMode = { kind: 'status', status: '9' };
        const start = await challenge(rig, user);
        let page = await press(start.agent, start.page, 'Resend code');
        expect(rig.vonage.sms).to.have.length(3);
        expect(errorOf(page)).to.match(/^We could not send the text message just now/);
        rig.vonage.smsMode = { kind: 'ok' };
        page = await press(start.agent, page, 'Resend code');
        expect(rig.vonage.sms).to.have.length(4);
        expect(errorOf(page)).to.equal('');
        expect(textOf(page)).to.include('We sent a new code to +1 ••• ••• 0123.');
      } finally {
        await rig.close();
      }
    });

    it('the cooldown is per channel: SMS then voice to the same number in one sign-in is not blocked', async () => {
      const { rig } = await rigWith({});
      try {
        const user = await userWithPhone(rig, name('both'), ['sms', 'voice']);
        expect(rig.vonage.sms).to.have.length(1);
        expect(rig.vonage.calls).to.have.length(1);
        const start = await challenge(rig, user);
        const called = await press(start.agent, start.page, 'Call me instead');
        expect(rig.vonage.calls).to.have.length(2);
        const again = await press(start.agent, called, 'Call again');
        expect(errorOf(again)).to.match(/^Wait \d+ (seconds|minutes) before asking for another code\.$/);
        expect(rig.vonage.calls).to.have.length(2);
      } finally {
        await rig.close();
      }
    });
  });

  describe('[item 23] country allow-list', () => {
    it('with phone.allowedCountries=US, numbers of other countries (even Jamaica under +1) are refused and nothing is sent', async () => {
      const { rig } = await rigWith({}, { phone: { allowedCountries: ['US'] } });
      try {
        for (const number of ['+33 6 12 34 56 78', '+1 876 555 0123', '+49 1512 3456789']) {
          for (const channel of ['sms', 'voice'] as Channel[]) {
            const s = await enrolmentScreen(rig, channel);
            const refused = await send(s.agent, s.page, number);
            expect(refused.status).to.equal(400);
            expect(errorOf(refused)).to.equal('We cannot send codes to phone numbers in that country. Use an authenticator app instead.');
          }
        }
        expect(sent(rig.vonage)).to.equal(0);
        const us = await enrolmentScreen(rig);
        expect((await send(us.agent, us.page, '+1 202 555 0123')).status).to.equal(200);
        expect(sent(rig.vonage)).to.equal(1);
      } finally {
        await rig.close();
      }
    });
  });

  describe('[item 24] premium-rate, toll-free, shared-cost and VoIP numbers are refused', () => {
    const refusedNumbers: Array<[string, string, string]> = [
      ['+1 900 555 0123', 'premium-rate', 'That is a premium-rate number.'],
      ['+1 800 555 0123', 'toll-free', 'That is a toll-free number.'],
      ['+44 5600 123456', 'VoIP', 'That is an internet (VoIP) number.'],
      ['+33 8 10 12 34 56', 'shared-cost', 'That is a shared-cost number.'],
      ['+44 70 1234 5678', 'personal forwarding', 'That is a personal forwarding number.'],
    ];
    let rig: PhoneRig;
    before(async () => {
      rig = (await rigWith({})).rig;
    });
    after(async () => rig?.close());

    for (const [number, kind, sentence] of refusedNumbers) {
      it(`${kind} (${number}) for text messages and calls`, async () => {
        const before = sent(rig.vonage);
        for (const channel of ['sms', 'voice'] as Channel[]) {
          const s = await enrolmentScreen(rig, channel);
          const refused = await send(s.agent, s.page, number);
          expect(refused.status).to.equal(400);
          expect(errorOf(refused)).to.match(new RegExp(`^${sentence.replace(/[().]/g, '\\$&')} Use your own mobile number, or an authenticator app\\.$`));
        }
        expect(sent(rig.vonage)).to.equal(before);
      });
    }

    it('a landline takes a call but not a text message', async () => {
      const before = sent(rig.vonage);
      const sms = await enrolmentScreen(rig, 'sms');
      const refused = await send(sms.agent, sms.page, '+33 1 23 45 67 89');
      expect(errorOf(refused)).to.equal('That is a landline. Use a mobile number, or choose a voice call.');
      const voice = await enrolmentScreen(rig, 'voice');
      expect((await send(voice.agent, voice.page, '+33 1 23 45 67 89')).status).to.equal(200);
      expect(sent(rig.vonage)).to.equal(before + 1);
    });

    it('the accepted number types are configurable (VoIP allowed when an operator says so)', async () => {
      const { rig: open } = await rigWith({}, { phone: { smsTypes: ['MOBILE', 'FIXED_LINE_OR_MOBILE', 'VOIP'] } });
      try {
        const s = await enrolmentScreen(open);
        expect((await send(s.agent, s.page, '+44 5600 123456')).status).to.equal(200);
        expect(open.vonage.sms).to.have.length(1);
      } finally {
        await open.close();
      }
    });
  });

  describe('[item 25] nothing is sent for a sign-in that has not passed the password (or may not add a factor)', () => {
    let rig: PhoneRig;
    let clock: TestClock;
    before(async () => {
      ({ rig, clock } = await rigWith({}));
    });
    after(async () => rig?.close());

    /** POSTs straight to an interaction route, as a script would. */
    async function post(agent: Agent, uid: string, route: string, form: Record<string, string>) {
      const res = await agent.request(`${rig.server.issuer}/interaction/${uid}${route}`, { method: 'POST', form });
      const { res: last } = await agent.follow(res);
      return { status: last.status, text: (await last.text()).replace(/\s+/g, ' ') };
    }

    it('before the password: enrol, Send code, Resend code and switch do nothing', async () => {
      const agent = new Agent();
      const login = await openAuthorization(agent, await authorizationUrl(rig.client));
      const uid = uidOf(login);
      const csrf = formOf(login, '/login').values._csrf!;
      await post(agent, uid, '/enrol', { _csrf: csrf, method: 'sms' });
      await post(agent, uid, '/enrol/action', { _csrf: csrf, action: 'send', phone: '+1 202 555 0123' });
      await post(agent, uid, '/challenge/action', { _csrf: csrf, action: 'resend' });
      const last = await post(agent, uid, '/challenge/action', { _csrf: csrf, action: 'switch' });
      expect(last.text).to.include('Password');
      expect(sent(rig.vonage)).to.equal(0);
    });

    it('a user with a phone factor, past the password only, cannot send codes to another number', async () => {
      const user = await userWithPhone(rig, name('attacker-knows-password'), ['sms'], '+1 202 555 0191');
      const before = sent(rig.vonage);
      const start = await challenge(rig, user);
      expect(sent(rig.vonage)).to.equal(before + 1);
      const uid = uidOf(start.page);
      const csrf = formOf(start.page, '/challenge/verify').values._csrf!;
      await post(start.agent, uid, '/enrol', { _csrf: csrf, method: 'voice' });
      await post(start.agent, uid, '/enrol/action', { _csrf: csrf, action: 'send', phone: '+1 202 555 0199' });
      await post(start.agent, uid, '/setup', { _csrf: csrf });
      await post(start.agent, uid, '/enrol/action', { _csrf: csrf, action: 'send', phone: '+1 202 555 0199' });
      expect(sent(rig.vonage)).to.equal(before + 1);
      expect(rig.vonage.sms.map((s) => s.body.to)).to.not.include('12025550199');
    });

    it('a first factor needs a fresh password: five minutes after it, Send code sends nothing', async () => {
      const s = await enrolmentScreen(rig);
      const before = sent(rig.vonage);
      clock.advance(6 * 60);
      const page = await send(s.agent, s.page, '+1 202 555 0192');
      expect(sent(rig.vonage)).to.equal(before);
      expect(page.$('input[name=password]').length, textOf(page)).to.equal(1);
    });
  });

  describe('[item 26] many sends to one number range with no verifications raise an alert', () => {
    it('the fifth unverified send to +1 202 555 xxxx logs an alert (once) and emits an event; ranges people verify stay quiet', async () => {
      const { rig, events } = await rigWith({ prefixAlertSends: 5, prefixAlertMinVerifiedRatio: 0.2 });
      try {
        // A range in real use: four verified enrolments, then one more send.
        for (const last of ['0201', '0202', '0203', '0204']) await userWithPhone(rig, name('real'), ['sms'], `+1 303 555 ${last}`);
        const quiet = await enrolmentScreen(rig);
        await send(quiet.agent, quiet.page, '+1 303 555 0205');
        expect(rig.server.logs.text).to.not.include('sms_pumping_suspected');

        // A pumping run: number after number in one range, nobody verifies.
        const { page, agent } = await enrolmentScreen(rig);
        let current: Page = page;
        for (const last of ['0301', '0302', '0303', '0304']) current = await send(agent, current, `+1 202 555 ${last}`);
        expect(rig.server.logs.text).to.not.include('sms_pumping_suspected');
        current = await send(agent, current, '+1 202 555 0305');
        current = await send(agent, current, '+1 202 555 0306');
        const alerts = rig.server.logs.entries().filter((l) => l.alert === 'sms_pumping_suspected');
        expect(alerts, 'logged once').to.have.length(1);
        expect(alerts[0]).to.deep.include({ range: '+1202555xxxx', sent: 5, verified: 0 });
        expect(rig.server.logs.text).to.not.include('12025550305');
        const event = events.filter((e) => e.type === 'abuse.range_alert');
        expect(event).to.have.length(1);
        expect(event[0]).to.deep.include({ reason: 'sms_pumping_suspected' });
        expect(event[0]!.details).to.deep.include({ range: '+1202555xxxx', sent: 5, verified: 0 });
      } finally {
        await rig.close();
      }
    });
  });

  describe('[item 28] a new phone is bound only after a code sent to it verifies', () => {
    let rig: PhoneRig;
    before(async () => {
      ({ rig } = await rigWith({}));
    });
    after(async () => rig?.close());

    async function storedNumber(accountId: string): Promise<string[]> {
      const factors = await rig.server.services.factors.list(accountId);
      return factors.filter((f) => f.type === 'sms' || f.type === 'voice').map((f) => rig.server.services.factors.openSecret(f));
    }

    it('number A, then number B: A\'s code fails, B\'s binds B', async () => {
      const { user, page, agent } = await enrolmentScreen(rig);
      const a = await send(agent, page, '+1 202 555 0211');
      const codeA = lastCode(rig.vonage, 'sms');
      const b = await send(agent, a, '+1 202 555 0212');
      expect(textOf(b)).to.include('+1 ••• ••• 0212');
      const codeB = lastCode(rig.vonage, 'sms');
      expect(rig.vonage.sms.map((s) => s.body.to)).to.deep.equal(['12025550211', '12025550212']);
      const refused = await agent.submit(b, '/enrol/verify', { code: codeA });
      expect(refused.status).to.equal(400);
      expect(await storedNumber(user.account.id)).to.deep.equal([]);
      const done = await agent.submit(refused, '/enrol/verify', { code: codeB });
      expect(buttons(done)).to.include('Finish');
      expect(await storedNumber(user.account.id)).to.deep.equal(['+12025550212']);
    });

    it('nothing is bound before a code verifies, and a failed send to B keeps A\'s code and number', async () => {
      const { user, page, agent } = await enrolmentScreen(rig);
      const a = await send(agent, page, '+1 202 555 0221');
      const codeA = lastCode(rig.vonage, 'sms');
      expect(await storedNumber(user.account.id)).to.deep.equal([]);
      rig.vonage.smsMode = { kind: 'status', status: '7' };
      const failed = await send(agent, a, '+1 202 555 0222');
      rig.vonage.smsMode = { kind: 'ok' };
      expect(errorOf(failed)).to.match(/^We could not reach that number by text message/);
      const done = await agent.submit(failed, '/enrol/verify', { code: codeA });
      expect(buttons(done)).to.include('Finish');
      expect(await storedNumber(user.account.id)).to.deep.equal(['+12025550221']);
    });

    it('two numbers sent at once (A answered late): whichever number is bound, it is the one whose code verified', async () => {
      const { user, page, agent } = await enrolmentScreen(rig);
      const before = rig.vonage.sms.length;
      rig.vonage.smsMode = { kind: 'delay', ms: 400 };
      const toA = send(agent, page, '+1 202 555 0231');
      await rig.vonage.received(sent(rig.vonage) + 1);
      rig.vonage.smsMode = { kind: 'ok' };
      const toB = send(agent, page, '+1 202 555 0232');
      const [pageA, pageB] = await Promise.all([toA, toB]);
      const codes = Object.fromEntries(rig.vonage.sms.slice(before).map((s) => [`+${s.body.to}`, /\d{6}/.exec(s.body.text!)![0]]));
      expect(Object.keys(codes).sort()).to.deep.equal(['+12025550231', '+12025550232']);

      // Try B's code, then A's: each may only ever bind the number it was sent to.
      let bound: string | undefined;
      for (const [number, code] of Object.entries(codes).reverse()) {
        const result = await agent.submit(pageB, '/enrol/verify', { code });
        if (buttons(result).includes('Finish')) {
          bound = number;
          break;
        }
      }
      void pageA;
      expect(bound, 'one of the two codes binds').to.be.a('string');
      expect(await storedNumber(user.account.id)).to.deep.equal([bound]);
    });
  });
});
