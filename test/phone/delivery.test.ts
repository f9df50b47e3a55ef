// Delivery through the real @vonage/server-sdk against a fake Vonage at its HTTP boundary: the
// exact requests (SMS API body and Basic auth; Voice API JWT and NCCO), and what the user sees
// when Vonage fails (HTTP 500, timeout, status 9 partner quota, status 7 barred, a 200 without
// JSON): a plain message, no attempt counted, no cooldown used, the other channel and "Use
// another method" offered.
import { expect } from 'chai';
import { textOf, type Page } from '../support/agent.js';
import { failureState, startSignIn, uidOf } from '../support/mfa.js';
import { createUser } from '../support/oidc.js';
import type { FailureMode } from '../fakes/vonage-server.js';
import { buttons, challenge, claimsAfter, enterCode, lastCode, press, requestEnrolmentCode, startPhoneRig, userWithPhone, type PhoneRig } from './helpers.js';

const SAY_DIGITS = /<say-as interpret-as="digits">(\d{6})<\/say-as>/g;

describe('phone delivery: the requests the Vonage SDK makes, and failures on demand', function () {
  this.timeout(60_000);
  let rig: PhoneRig;
  let users = 0;
  const numbers: string[] = [];
  const codes: string[] = [];
  // A fresh user and number per test, so that per-number limits and cooldowns never interfere.
  const fresh = () => {
    users += 1;
    numbers.push(`+1202555${String(100 + users).padStart(4, '0')}`);
    return { username: `del${users}`, number: `+1 202 555 ${String(100 + users).padStart(4, '0')}` };
  };

  before(async () => {
    rig = await startPhoneRig({ store: 'redis' });
  });
  after(async () => rig?.close());
  beforeEach(() => rig.vonage.reset());
  afterEach(() => codes.push(...rig.vonage.codes()));

  describe('the exact requests', () => {
    it('sends a text message through the SMS API: to, from, text with the code, Basic auth, delivery receipt URL', async () => {
      const { username, number } = fresh();
      const user = await createUser(rig.server, username);
      const start = await startSignIn(rig.client, user);
      const page = await requestEnrolmentCode(start.agent, start.page, 'sms', number);
      expect(textOf(page)).to.include('+1 ••• ••• 0' + number.slice(-3));

      expect(rig.vonage.sms).to.have.length(1);
      expect(rig.vonage.calls).to.have.length(0);
      const [request] = rig.vonage.sms;
      expect(request!.auth).to.deep.equal({ user: 'test-key', password: 'test-secret-123' });
      const code = lastCode(rig.vonage, 'sms');
      expect(code).to.match(/^\d{6}$/);
      expect(request!.body).to.deep.equal({
        to: `1202555${number.slice(-4)}`,
        from: 'Twofold',
        text: `Your Twofold sign-in code is ${code}. It expires in 5 minutes. Never share it.`,
        type: 'text',
        callback: `${rig.server.issuer}/webhooks/vonage/sms-status`,
      });
    });

    it('places a voice call through the Voice API: a JWT signed with the configured key for the application, an NCCO reading the code digit by digit, twice', async () => {
      const { username, number } = fresh();
      const user = await createUser(rig.server, username);
      const start = await startSignIn(rig.client, user);
      const page = await requestEnrolmentCode(start.agent, start.page, 'voice', number);
      expect(textOf(page)).to.include('We are calling');

      expect(rig.vonage.calls).to.have.length(1);
      expect(rig.vonage.sms).to.have.length(0);
      const [call] = rig.vonage.calls;
      expect(call!.jwt, 'a bearer JWT').to.not.equal(null);
      expect(call!.jwt!.valid, 'RS256 signature by the configured private key').to.equal(true);
      expect(call!.jwt!.header.alg).to.equal('RS256');
      expect(call!.jwt!.payload.application_id).to.equal(rig.vonage.options.applicationId);
      const now = Math.floor(Date.now() / 1000);
      expect(call!.jwt!.payload.iat).to.be.within(now - 60, now + 5);
      expect(call!.jwt!.payload.exp).to.be.greaterThan(now);

      expect(call!.body.to).to.deep.equal([{ type: 'phone', number: `1202555${number.slice(-4)}` }]);
      expect(call!.body.from).to.deep.equal({ type: 'phone', number: '15550100' });
      expect(call!.body.event_url).to.deep.equal([`${rig.server.issuer}/webhooks/vonage/voice-event`]);
      expect(call!.body.ncco).to.have.length(1);
      const talk = call!.body.ncco[0]!;
      expect(talk.action).to.equal('talk');
      expect(talk.language).to.equal('en-US');
      const ssml = String(talk.text);
      expect(ssml).to.match(/^<speak>.*<\/speak>$/);
      const spoken = [...ssml.matchAll(SAY_DIGITS)].map((m) => m[1]);
      expect(spoken, 'the code read out twice').to.have.length(2);
      expect(spoken[0]).to.equal(spoken[1]);
      expect(spoken[0]).to.equal(lastCode(rig.vonage, 'voice'));
    });

    it('speaks and writes in the user\'s language where Vonage can (a German user gets de-DE)', async () => {
      const { username, number } = fresh();
      const user = await createUser(rig.server, username, undefined, { locale: 'de' });
      const start = await startSignIn(rig.client, user);
      await requestEnrolmentCode(start.agent, start.page, 'voice', number);
      const talk = rig.vonage.calls.at(-1)!.body.ncco[0]!;
      expect(talk.language).to.equal('de-DE');
      expect(String(talk.text)).to.match(/^<speak>Ihr Anmeldecode lautet <say-as interpret-as="digits">\d{6}<\/say-as>/);

      const start2 = await startSignIn(rig.client, (await createUser(rig.server, `${username}-fr`, undefined, { locale: 'fr-CA' })));
      await requestEnrolmentCode(start2.agent, start2.page, 'sms', `+1 202 555 ${String(700 + users).padStart(4, '0')}`);
      expect(rig.vonage.sms.at(-1)!.body.text).to.match(/^Votre code de connexion Twofold est \d{6}\./);
      expect(rig.vonage.sms.at(-1)!.body.type).to.equal('text');

      const start3 = await startSignIn(rig.client, (await createUser(rig.server, `${username}-es`, undefined, { locale: 'es' })));
      await requestEnrolmentCode(start3.agent, start3.page, 'sms', `+1 202 555 ${String(800 + users).padStart(4, '0')}`);
      expect(rig.vonage.sms.at(-1)!.body.text).to.match(/^Tu código de acceso de Twofold es \d{6}\./);
      expect(rig.vonage.sms.at(-1)!.body.type, 'text beyond ASCII goes as unicode').to.equal('unicode');
    });

    it('follows the browser\'s language when the account has none, and falls back to English', async () => {
      const { username, number } = fresh();
      const user = await createUser(rig.server, username);
      const { Agent } = await import('../support/agent.js');
      const start = await startSignIn(rig.client, user, {}, new Agent({ 'accept-language': 'es-ES,es;q=0.9' }));
      await requestEnrolmentCode(start.agent, start.page, 'voice', number);
      expect(rig.vonage.calls.at(-1)!.body.ncco[0]!.language).to.equal('es-ES');

      const start2 = await startSignIn(rig.client, user, {}, new Agent({ 'accept-language': 'ja-JP' }));
      await requestEnrolmentCode(start2.agent, start2.page, 'voice', number);
      expect(rig.vonage.calls.at(-1)!.body.ncco[0]!.language).to.equal('en-US');
    });
  });

  describe('failures on demand, at sign-in', () => {
    const smsFailures: Array<[string, FailureMode]> = [
      ['HTTP 500', { kind: 'http', status: 500 }],
      ['a timeout beyond vonage.timeoutMs', { kind: 'timeout' }],
      ['status 9 (partner quota exceeded)', { kind: 'status', status: '9', errorText: 'Partner quota exceeded' }],
      ['status 7 (number barred)', { kind: 'status', status: '7', errorText: 'Number barred.' }],
      ['a 200 without a JSON content type', { kind: 'nonjson' }],
    ];

    /** The challenge page after a failed first send: plain words, nothing counted, every way out offered. */
    async function expectFailedSend(rig: PhoneRig, page: Page, accountId: string, channel: 'text message' | 'call') {
      expect(page.status, textOf(page)).to.equal(200);
      const text = textOf(page);
      expect(text).to.match(new RegExp(`We could not (send the ${channel} just now|reach that number by ${channel})`));
      expect(text).to.not.match(/status|error|exception|vonage|HTTP|undefined|\[object/i);
      expect(page.$('[role=alert], .error').length, 'the message is marked as an alert').to.be.greaterThan(0);
      const state = await failureState(rig.server, accountId, uidOf(page));
      expect(state, 'a failed send is not a failed attempt').to.deep.equal({ accountFailures: 0, lockouts: 0, lockedFor: 0, challengeFailures: 0 });
      const labels = buttons(page);
      expect(labels).to.include('Use another method');
      expect(labels).to.include(channel === 'text message' ? 'Call me instead' : 'Text me instead');
      expect(labels).to.include(channel === 'text message' ? 'Resend code' : 'Call again');
      expect(text, 'no cooldown shown after a failed send').to.include('You can ask again now');
    }

    for (const [name, mode] of smsFailures) {
      it(`SMS: ${name} -> a plain message; a retry right away sends (no cooldown used) and its code signs in`, async () => {
        const { username, number } = fresh();
        const user = await userWithPhone(rig, username, ['sms', 'voice'], number);
        const account = (await rig.server.services.accounts.repo.findByUsername(username))!;
        rig.vonage.reset();
        rig.vonage.smsMode = mode;

        const started = Date.now();
        const start = await challenge(rig, user);
        expect(Date.now() - started, 'the timeout is the configured one').to.be.below(5000);
        expect(rig.vonage.sms).to.have.length(1);
        await expectFailedSend(rig, start.page, account.id, 'text message');
        const failedCode = lastCode(rig.vonage, 'sms');

        // The failed code was never stored: it does not sign in, and counts as one wrong code.
        const wrong = await enterCode(start.agent, start.page, failedCode);
        expect(wrong.status).to.equal(400);
        expect((await failureState(rig.server, account.id, uidOf(start.page))).challengeFailures).to.equal(1);

        rig.vonage.smsMode = { kind: 'ok' };
        const retried = await press(start.agent, wrong, 'Resend code');
        expect(rig.vonage.sms, 'the retry went out at once').to.have.length(2);
        expect(textOf(retried)).to.include('We sent a new code to +1 ••• ••• 0');
        expect(textOf(retried)).to.match(/You can ask for a new code in \d+ (seconds|minutes)\./);
        const claims = await claimsAfter(rig, start, await enterCode(start.agent, retried, lastCode(rig.vonage, 'sms')));
        expect(claims.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      });
    }

    it('SMS fails, the user switches to a call to the same number: the call\'s code signs in with amr tel', async () => {
      const { username, number } = fresh();
      const user = await userWithPhone(rig, username, ['sms'], number);
      const account = (await rig.server.services.accounts.repo.findByUsername(username))!;
      rig.vonage.reset();
      rig.vonage.smsMode = { kind: 'status', status: '7', errorText: 'Number barred.' };
      const start = await challenge(rig, user);
      await expectFailedSend(rig, start.page, account.id, 'text message').catch((err: Error) => {
        // With a single factor there is no other method to list; everything else must hold.
        if (!/Use another method/.test(err.message)) throw err;
      });
      const called = await press(start.agent, start.page, 'Call me instead');
      expect(rig.vonage.calls).to.have.length(1);
      expect(rig.vonage.calls[0]!.body.to).to.deep.equal([{ type: 'phone', number: `1202555${number.slice(-4)}` }]);
      expect(textOf(called)).to.include('We are calling +1 ••• ••• 0');
      expect(buttons(called)).to.include('Call again').and.include('Text me instead');
      const claims = await claimsAfter(rig, start, await enterCode(start.agent, called, lastCode(rig.vonage, 'voice')));
      expect(claims.amr).to.deep.equal(['pwd', 'tel', 'mfa']);
    });

    const callFailures: Array<[string, FailureMode]> = [
      ['HTTP 500', { kind: 'http', status: 500 }],
      ['a timeout', { kind: 'timeout' }],
      ['a 200 without JSON', { kind: 'nonjson' }],
    ];
    for (const [name, mode] of callFailures) {
      it(`voice: ${name} -> a plain message, "Text me instead" works, "Call again" right away calls`, async () => {
        const { username, number } = fresh();
        const user = await userWithPhone(rig, username, ['voice', 'sms'], number);
        const account = (await rig.server.services.accounts.repo.findByUsername(username))!;
        rig.vonage.reset();
        rig.vonage.callMode = mode;
        const start = await challenge(rig, user);
        expect(rig.vonage.calls).to.have.length(1);
        await expectFailedSend(rig, start.page, account.id, 'call');

        rig.vonage.callMode = { kind: 'ok' };
        const again = await press(start.agent, start.page, 'Call again');
        expect(rig.vonage.calls).to.have.length(2);
        expect(textOf(again)).to.include('We are calling');
        const texted = await press(start.agent, again, 'Text me instead');
        expect(rig.vonage.sms).to.have.length(1);
        // The text voided the call's code; the text's code signs in and amr names the channel that delivered it.
        const stale = await enterCode(start.agent, texted, lastCode(rig.vonage, 'voice'));
        expect(stale.status).to.equal(400);
        const claims = await claimsAfter(rig, start, await enterCode(start.agent, stale, lastCode(rig.vonage, 'sms')));
        expect(claims.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      });
    }

    it('a failed switch keeps the code already delivered by the first channel usable (and amr names that channel)', async () => {
      const { username, number } = fresh();
      const user = await userWithPhone(rig, username, ['sms', 'voice'], number);
      rig.vonage.reset();
      const start = await challenge(rig, user);
      const smsCode = lastCode(rig.vonage, 'sms');
      rig.vonage.callMode = { kind: 'http', status: 503 };
      const failed = await press(start.agent, start.page, 'Call me instead');
      expect(rig.vonage.calls).to.have.length(1);
      expect(textOf(failed)).to.include('We could not send the call just now');
      const claims = await claimsAfter(rig, start, await enterCode(start.agent, failed, smsCode));
      expect(claims.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('the other channel is not offered when the instance policy does not allow it', async () => {
      const { username, number } = fresh();
      const user = await userWithPhone(rig, username, ['voice'], number);
      const policy = rig.server.services.policy;
      await policy.set({ allowedFactors: ['totp', 'voice'] });
      try {
        rig.vonage.reset();
        rig.vonage.callMode = { kind: 'http', status: 500 };
        const start = await challenge(rig, user);
        expect(buttons(start.page)).to.include('Call again').and.not.include('Text me instead');
        const forced = await start.agent.submit(start.page, '/challenge/action', { action: 'switch' });
        expect(rig.vonage.sms, 'a forged switch sends no text').to.have.length(0);
        expect(textOf(forced)).to.include('That action is not available here.');
      } finally {
        await policy.set({ allowedFactors: ['totp', 'sms', 'voice'] });
      }
    });

    it('"Use another method" after a failed send reaches the other factor', async () => {
      const { username, number } = fresh();
      const user = await userWithPhone(rig, username, ['sms', 'voice'], number);
      rig.vonage.reset();
      rig.vonage.smsMode = { kind: 'timeout' };
      const start = await challenge(rig, user);
      const methods = await start.agent.submit(start.page, '/methods', {}, { button: 'Use another method' });
      const voice = await start.agent.submit(methods, '/methods/choose', {}, { button: 'Voice call' });
      expect(rig.vonage.calls).to.have.length(1);
      const claims = await claimsAfter(rig, start, await enterCode(start.agent, voice, lastCode(rig.vonage, 'voice')));
      expect(claims.amr).to.deep.equal(['pwd', 'tel', 'mfa']);
    });
  });

  describe('failures on demand, at enrolment', () => {
    for (const [name, mode] of [
      ['HTTP 500', { kind: 'http', status: 500 }],
      ['status 9', { kind: 'status', status: '9', errorText: 'Partner quota exceeded' }],
      ['a 200 without JSON', { kind: 'nonjson' }],
    ] as Array<[string, FailureMode]>) {
      it(`${name} -> a plain message (no 500), no code page, and Send code again right away sends`, async () => {
        const { username, number } = fresh();
        const user = await createUser(rig.server, username);
        const start = await startSignIn(rig.client, user);
        rig.vonage.smsMode = mode;
        const failed = await requestEnrolmentCode(start.agent, start.page, 'sms', number);
        expect(failed.status).to.be.within(400, 499);
        expect(textOf(failed)).to.include('We could not send the text message just now');
        expect(failed.$('label[for=code]').length, 'no Code field before a code went out').to.equal(0);
        expect(failed.$('input[name=phone]').length).to.equal(1);

        rig.vonage.smsMode = { kind: 'ok' };
        const again = await start.agent.submit(failed, '/enrol/action', { phone: number });
        expect(again.status).to.equal(200);
        expect(rig.vonage.sms).to.have.length(2);
        const done = await start.agent.submit(again, '/enrol/verify', { code: lastCode(rig.vonage, 'sms') });
        expect(buttons(done)).to.include('Finish');
      });
    }
  });

  describe('afterwards', () => {
    it('never wrote a full number or any code sent in these tests into the log', async () => {
      const lines = rig.server.logs.text;
      expect(codes.length).to.be.greaterThan(20);
      expect(lines).to.include('code delivery failed', 'the failures above were logged');
      for (const number of numbers) {
        expect(lines).to.not.include(number.slice(1));
        expect(lines).to.not.include(number.slice(2));
      }
      for (const code of codes) expect(lines).to.not.include(code);
    });
  });
});
