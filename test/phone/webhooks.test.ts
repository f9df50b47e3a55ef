// Vonage's webhooks: SMS delivery receipts (signed with the signature secret, `sig`) and voice
// call events (an HS256 JWT whose payload_hash covers the body). Signed ones are taken (204);
// unsigned, wrongly signed, tampered and stale ones are refused (401); with no secret configured
// the routes refuse everything (403). A failed delivery shows on the next page load, with the
// other channel offered.
import { expect } from 'chai';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { textOf } from '../support/agent.js';
import { createUser } from '../support/oidc.js';
import { startSignIn } from '../support/mfa.js';
import { SMS } from '@vonage/sms';
import { smsSignature } from '../../src/http/routes/vonage-webhooks.js';
import { buttons, challenge, claimsAfter, enterCode, lastCode, press, requestEnrolmentCode, startPhoneRig, userWithPhone, type PhoneRig } from './helpers.js';

describe('Vonage webhooks: delivery receipts and call events', function () {
  this.timeout(60_000);
  let rig: PhoneRig;
  let n = 0;
  const name = (base: string) => `hook-${base}-${++n}`;

  before(async () => {
    rig = await startPhoneRig({ store: 'redis' });
  });
  after(async () => rig?.close());

  const receiptUrl = () => `${rig.server.issuer}/webhooks/vonage/sms-status`;
  const eventUrl = () => `${rig.server.issuer}/webhooks/vonage/voice-event`;

  /** A text message really sent by Twofold (its id is one we know). */
  async function sentMessageId(): Promise<string> {
    const user = await createUser(rig.server, name('sms'));
    const start = await startSignIn(rig.client, user);
    await requestEnrolmentCode(start.agent, start.page, 'sms', `+1 202 555 ${String(300 + n).padStart(4, '0')}`);
    return rig.vonage.sms.at(-1)!.messageId!;
  }

  async function placedCallId(): Promise<string> {
    const user = await createUser(rig.server, name('call'));
    const start = await startSignIn(rig.client, user);
    await requestEnrolmentCode(start.agent, start.page, 'voice', `+1 202 555 ${String(400 + n).padStart(4, '0')}`);
    return rig.vonage.calls.at(-1)!.uuid!;
  }

  describe('SMS delivery receipts', () => {
    it('a signed receipt is taken (204), as a form or as JSON', async () => {
      const id = await sentMessageId();
      expect((await rig.vonage.sendReceipt(rig.server.issuer, id, 'delivered')).status).to.equal(204);
      expect((await rig.vonage.sendReceipt(rig.server.issuer, id, 'accepted', { json: true })).status).to.equal(204);
    });

    it('unsigned, signed with another secret, tampered with, or stale: 401', async () => {
      const id = await sentMessageId();
      const answers = {
        unsigned: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { sign: false })).status,
        wrongSecret: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { secret: 'not-the-signature-secret-0123456789' })).status,
        tamperedStatus: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'delivered', { tamper: { status: 'failed' } })).status,
        tamperedId: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { tamper: { messageId: randomUUID() } })).status,
        forgedSig: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { tamper: { sig: 'a'.repeat(64) } })).status,
        stale: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { timestamp: Math.floor(Date.now() / 1000) - 600 })).status,
        future: (await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { timestamp: Math.floor(Date.now() / 1000) + 600 })).status,
      };
      expect(answers).to.deep.equal({ unsigned: 401, wrongSecret: 401, tamperedStatus: 401, tamperedId: 401, forgedSig: 401, stale: 401, future: 401 });
    });

    it('bodies that are not a set of fields are a 400, never a 500', async () => {
      for (const body of ['null', '[]', '42', '"text"', '{"messageId":', '{"messageId":{"$ne":1}}']) {
        const res = await fetch(receiptUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect(res.status, body).to.be.oneOf([400, 401]);
      }
      const big = await fetch(receiptUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `a=${'x'.repeat(20_000)}` });
      expect(big.status).to.equal(413);
      // The same without a Content-Length (chunked): read up to the limit, then refused.
      const chunk = new TextEncoder().encode(`a=${'x'.repeat(4_000)}`);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 8; i++) controller.enqueue(chunk);
          controller.close();
        },
      });
      const chunked = await fetch(receiptUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: stream, duplex: 'half' } as RequestInit);
      expect(chunked.status).to.equal(413);
      expect((await fetch(`${rig.server.issuer}/healthz`)).status, 'the server is fine afterwards').to.equal(200);
    });

    it('signatures match the ones the Vonage SDK computes, for every method Vonage offers', () => {
      const sdk = new SMS({ apiKey: 'k', apiSecret: 's' } as ConstructorParameters<typeof SMS>[0]);
      const params = { messageId: 'abc', status: 'delivered', msisdn: '12025550123', 'message-timestamp': '2024-01-01 10:00:00', text: 'a=b&c', nonce: 'n', timestamp: '1700000000' };
      for (const method of ['md5hash', 'md5hmac', 'sha1hmac', 'sha256hmac', 'sha512hmac']) {
        const sig = smsSignature(params, 'the-secret', method);
        expect(sdk.verifySignature(sig, params, 'the-secret', method.toUpperCase() as never), method).to.equal(true);
        expect(sdk.verifySignature(sig, { ...params, status: 'failed' }, 'the-secret', method.toUpperCase() as never), method).to.equal(false);
      }
    });
  });

  describe('voice call events', () => {
    it('a signed event is taken (204)', async () => {
      const uuid = await placedCallId();
      expect((await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'answered')).status).to.equal(204);
      expect((await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'completed')).status).to.equal(204);
    });

    it('unsigned, signed with another secret, tampered with, or stale: 401', async () => {
      const uuid = await placedCallId();
      const answers = {
        unsigned: (await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'failed', { unsigned: true })).status,
        wrongSecret: (await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'failed', { secret: 'not-the-signature-secret-0123456789' })).status,
        tampered: (await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'failed', { tamper: true })).status,
        stale: (await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'failed', { iat: Math.floor(Date.now() / 1000) - 600 })).status,
        future: (await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'failed', { iat: Math.floor(Date.now() / 1000) + 600 })).status,
      };
      expect(answers).to.deep.equal({ unsigned: 401, wrongSecret: 401, tampered: 401, stale: 401, future: 401 });
    });

    it('a token without alg HS256 or without payload_hash is refused', async () => {
      const body = JSON.stringify({ uuid: randomUUID(), status: 'failed' });
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iat: Math.floor(Date.now() / 1000), payload_hash: createHash('sha256').update(body).digest('hex') })}.`;
      const header = b64({ alg: 'HS256', typ: 'JWT' });
      const payload = b64({ iat: Math.floor(Date.now() / 1000) });
      const noHash = `${header}.${payload}.${createHmac('sha256', rig.vonage.options.signatureSecret).update(`${header}.${payload}`).digest('base64url')}`;
      for (const token of [none, noHash, 'garbage', '']) {
        const res = await fetch(eventUrl(), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
        expect(res.status, token).to.equal(401);
      }
    });
  });

  describe('a failed delivery shows on the next page load and offers the other channel', () => {
    it('SMS receipt "failed" -> the challenge page says so and offers a call; the call signs in', async () => {
      const user = await userWithPhone(rig, name('undelivered'), ['sms']);
      const start = await challenge(rig, user);
      expect(textOf(start.page)).to.not.include('could not be delivered');
      const id = rig.vonage.sms.at(-1)!.messageId!;
      expect((await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed')).status).to.equal(204);

      const reloaded = await start.agent.open(start.page.url);
      expect(textOf(reloaded)).to.include('Your text message could not be delivered. Try a call instead, or use another method.');
      expect(reloaded.$('[role=alert]').text()).to.include('could not be delivered');
      expect(buttons(reloaded)).to.include('Call me instead');
      const called = await press(start.agent, reloaded, 'Call me instead');
      expect(textOf(called)).to.not.include('could not be delivered');
      const claims = await claimsAfter(rig, start, await enterCode(start.agent, called, lastCode(rig.vonage, 'voice')));
      expect(claims.amr).to.deep.equal(['pwd', 'tel', 'mfa']);
    });

    it('call event "busy" -> the challenge page says so and offers a text message', async () => {
      const user = await userWithPhone(rig, name('busy'), ['voice']);
      const start = await challenge(rig, user);
      const uuid = rig.vonage.calls.at(-1)!.uuid!;
      expect((await rig.vonage.sendCallEvent(rig.server.issuer, uuid, 'busy')).status).to.equal(204);
      const reloaded = await start.agent.open(start.page.url);
      expect(textOf(reloaded)).to.include('Your call could not be completed (the line was busy). Try a text message instead, or use another method.');
      expect(buttons(reloaded)).to.include('Text me instead');
    });

    it('a receipt signed with another secret changes nothing on the page', async () => {
      const user = await userWithPhone(rig, name('forged'), ['sms']);
      const start = await challenge(rig, user);
      const id = rig.vonage.sms.at(-1)!.messageId!;
      expect((await rig.vonage.sendReceipt(rig.server.issuer, id, 'failed', { secret: 'forged-secret-forged-secret-0123456' })).status).to.equal(401);
      const reloaded = await start.agent.open(start.page.url);
      expect(textOf(reloaded)).to.not.include('could not be delivered');
    });

    it('a failed receipt during enrolment shows on the enrolment page', async () => {
      const user = await createUser(rig.server, name('enrol-fail'));
      const start = await startSignIn(rig.client, user);
      const page = await requestEnrolmentCode(start.agent, start.page, 'sms', '+1 202 555 0499');
      expect((await rig.vonage.sendReceipt(rig.server.issuer, rig.vonage.sms.at(-1)!.messageId!, 'rejected')).status).to.equal(204);
      const reloaded = await start.agent.open(page.url.replace(/\/enrol\/action$/, ''));
      expect(textOf(reloaded)).to.include('Your text message could not be delivered');
      // Another number that works: the old failure is no longer shown.
      const other = await start.agent.submit(reloaded, '/enrol/action', { phone: '+1 202 555 0498' });
      expect(textOf(other)).to.include('We sent a code to +1 ••• ••• 0498.');
      expect(textOf(other)).to.not.include('could not be delivered');
    });
  });

  describe('with no signature secret configured', () => {
    it('both routes refuse everything (403), signed or not', async () => {
      const plain = await startPhoneRig({ webhooks: false });
      try {
        const receipt = await plain.vonage.sendReceipt(plain.server.issuer, randomUUID(), 'failed');
        const event = await plain.vonage.sendCallEvent(plain.server.issuer, randomUUID(), 'failed');
        expect([receipt.status, event.status]).to.deep.equal([403, 403]);
        // And the messages Twofold sends then ask for no receipts.
        const user = await createUser(plain.server, 'no-hooks');
        const start = await startSignIn(plain.client, user);
        await requestEnrolmentCode(start.agent, start.page, 'sms');
        expect(plain.vonage.sms.at(-1)!.body.callback).to.equal(undefined);
      } finally {
        await plain.close();
      }
    });
  });
});
