// Whole sign-ins by text message and by voice call, as a relying party sees them through
// openid-client 6: enrolment at the first sign-in, the challenge at the next (a code sent once,
// reloads sending nothing, Resend code / Call again with a visible cooldown, the number masked),
// the ID token's acr/amr, and the number sealed at rest. On sqlite+memory and postgres+redis.
import { expect } from 'chai';
import { sql } from 'kysely';
import { Agent, textOf } from '../support/agent.js';
import type { StoreKind } from '../support/server.js';
import type { DbKind } from '../support/databases.js';
import { startSignIn } from '../support/mfa.js';
import { authorizationUrl, createUser, exchange, isCallback, openAuthorization } from '../support/oidc.js';
import { buttons, challenge, userWithPhone, claimsAfter, enterCode, enrolPhone, lastCode, press, sent, sleep, startPhoneRig, type PhoneRig } from './helpers.js';

const backends: Array<{ db: DbKind; store: StoreKind }> = [
  { db: 'sqlite', store: 'memory' },
  { db: 'postgres', store: 'redis' },
];

for (const { db, store } of backends) {
  describe(`phone sign-ins through openid-client on ${db}+${store}`, function () {
    this.timeout(60_000);
    let rig: PhoneRig;

    before(async () => {
      // A 2-second cooldown, so a test can wait it out in real time on both stores.
      rig = await startPhoneRig({ db, store, config: { sendLimits: { cooldownSeconds: 2, maxCooldownSeconds: 2 } } });
    });
    after(async () => rig?.close());

    it('SMS: enrol at the first sign-in, then a challenge that sends once, resends after the cooldown, and ends with amr [pwd, sms, mfa]', async () => {
      const user = await createUser(rig.server, 'sms-user');
      const first = await startSignIn(rig.client, user);
      const finish = await enrolPhone(first.agent, first.page, rig.vonage, 'sms');
      const done = await first.agent.submit(finish, '/finish', {}, { stopAt: isCallback });
      const enrolled = (await exchange(rig.client, first.auth, done.redirectedTo!)).claims()!;
      expect(enrolled.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      expect(enrolled.acr).to.equal('mfa');

      const before = sent(rig.vonage);
      const start = await challenge(rig, user);
      expect(sent(rig.vonage), 'one text when the challenge starts').to.equal(before + 1);
      expect(rig.vonage.sms.at(-1)!.body.to).to.equal('12025550123');
      const page = start.page;
      expect(textOf(page)).to.include('We sent a text message with a 6-digit code to +1 ••• ••• 0123.');
      expect(page.html, 'the number is shown masked only').to.not.match(/202\D{0,3}555/);
      expect(page.$('label[for=code]').text()).to.match(/^Code/);
      expect(buttons(page)).to.include.members(['Verify', 'Resend code']);
      expect(textOf(page)).to.match(/You can ask for a new code in [12] seconds?\./);

      // Reloads, one after another and all at once, send nothing more.
      for (let i = 0; i < 3; i++) expect((await start.agent.open(page.url)).status).to.equal(200);
      await Promise.all(Array.from({ length: 5 }, () => start.agent.open(page.url)));
      expect(sent(rig.vonage), 'reloading sends nothing').to.equal(before + 1);

      // Resend code within the cooldown sends nothing and says how long to wait; after it, a new code.
      const early = await press(start.agent, page, 'Resend code');
      expect(early.$('.error').text()).to.match(/^Wait [12] seconds? before asking for another code\.$/);
      expect(sent(rig.vonage)).to.equal(before + 1);
      const first1 = lastCode(rig.vonage, 'sms');
      await sleep(2100);
      const resent = await press(start.agent, early, 'Resend code');
      expect(sent(rig.vonage)).to.equal(before + 2);
      expect(textOf(resent)).to.include('We sent a new code to +1 ••• ••• 0123.');
      expect(lastCode(rig.vonage, 'sms')).to.not.equal(first1);

      const claims = await claimsAfter(rig, start, await enterCode(start.agent, resent, lastCode(rig.vonage, 'sms')));
      expect(claims.amr).to.deep.equal(['pwd', 'sms', 'mfa']);
      expect(claims.acr).to.equal('mfa');
      expect(claims.auth_time).to.be.a('number');
    });

    it('SMS: Sign in pressed several times at once (a double click), then the challenge open in several tabs, sends one text and says it was sent', async () => {
      await sleep(2100);
      const agent = new Agent();
      const auth = await authorizationUrl(rig.client);
      const login = await openAuthorization(agent, auth);
      const before = sent(rig.vonage);
      // The password form is answered with the challenge page itself, so each press starts it.
      const answers = await Promise.all(Array.from({ length: 5 }, () => agent.submit(login, '/login', { username: 'sms-user', password: 'correct horse battery staple' })));
      const pageUrl = answers[0]!.url.replace(/\/login$/, '');
      const tabs = await Promise.all(Array.from({ length: 5 }, () => agent.open(pageUrl)));
      expect(sent(rig.vonage), 'one text for five presses and five tabs').to.equal(before + 1);
      for (const page of [...answers, ...tabs]) {
        expect(page.status).to.equal(200);
        expect(textOf(page)).to.include('We sent a text message with a 6-digit code to +1 ••• ••• 0123.');
        expect(page.$('.error').text()).to.equal('');
      }
      const again = await agent.open(pageUrl);
      expect(textOf(again)).to.include('We sent a text message with a 6-digit code to +1 ••• ••• 0123.');
      const start = { auth, agent, page: again };
      expect((await claimsAfter(rig, start, await enterCode(agent, again, lastCode(rig.vonage, 'sms')))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('voice: enrol with Call, then a challenge that calls once, "Call again" after the cooldown, and amr [pwd, tel, mfa]', async () => {
      const user = await createUser(rig.server, 'voice-user');
      const first = await startSignIn(rig.client, user);
      const enrol = await first.agent.submit(first.page, '/enrol', { method: 'voice' }, { button: 'Voice call' });
      expect(buttons(enrol)).to.include('Call');
      expect(textOf(enrol)).to.not.include('Text and data rates may apply.');
      const finish = await enrolPhone(first.agent, first.page, rig.vonage, 'voice', '+44 20 7946 0123');
      const done = await first.agent.submit(finish, '/finish', {}, { stopAt: isCallback });
      expect((await exchange(rig.client, first.auth, done.redirectedTo!)).claims()!.amr).to.deep.equal(['pwd', 'tel', 'mfa']);

      const before = sent(rig.vonage);
      const start = await challenge(rig, user);
      expect(rig.vonage.calls.at(-1)!.body.to).to.deep.equal([{ type: 'phone', number: '442079460123' }]);
      expect(textOf(start.page)).to.include('We are calling +44 ••• ••• 0123 to read you a 6-digit code.');
      expect(buttons(start.page)).to.include('Call again');
      expect(buttons(start.page), 'a landline is never offered a text').to.not.include('Text me instead');
      expect(textOf(start.page)).to.match(/You can ask for a new call in [12] seconds?\./);
      await start.agent.open(start.page.url);
      expect(sent(rig.vonage)).to.equal(before + 1);

      await sleep(2100);
      const again = await press(start.agent, start.page, 'Call again');
      expect(sent(rig.vonage)).to.equal(before + 2);
      expect(textOf(again)).to.include('We are calling +44 ••• ••• 0123 now.');
      const claims = await claimsAfter(rig, start, await enterCode(start.agent, again, lastCode(rig.vonage, 'voice')));
      expect(claims.amr).to.deep.equal(['pwd', 'tel', 'mfa']);
      expect(claims.acr).to.equal('mfa');
    });

    it('going to another method and back picks the text message up again: nothing is resent, its code still signs in', async () => {
      const user = await userWithPhone(rig, 'both-user', ['sms', 'voice'], '+1 202 555 0177');
      const before = sent(rig.vonage);
      const start = await challenge(rig, user);
      const smsCode = lastCode(rig.vonage, 'sms');
      const methods = await start.agent.submit(start.page, '/methods', {}, { button: 'Use another method' });
      const voice = await start.agent.submit(methods, '/methods/choose', {}, { button: 'Voice call' });
      expect(textOf(voice)).to.include('We are calling +1 ••• ••• 0177');
      expect(sent(rig.vonage)).to.equal(before + 2);
      const methods2 = await start.agent.submit(voice, '/methods', {}, { button: 'Use another method' });
      const back = await start.agent.submit(methods2, '/methods/choose', {}, { button: 'Text message (SMS)' });
      expect(sent(rig.vonage), 'nothing resent').to.equal(before + 2);
      expect(textOf(back)).to.include('We sent a text message with a 6-digit code to +1 ••• ••• 0177.');
      expect(back.$('.error').text()).to.equal('');
      expect((await claimsAfter(rig, start, await enterCode(start.agent, back, smsCode))).amr).to.deep.equal(['pwd', 'sms', 'mfa']);
    });

    it('phone numbers are sealed at rest: the factors table holds no digit of them, and nothing in the database holds them whole', async () => {
      const kysely = rig.server.services.db.kysely;
      const factors = await kysely.selectFrom('factors').selectAll().where('type', 'in', ['sms', 'voice']).execute();
      expect(factors).to.have.length(4);
      for (const row of factors) {
        // Every text a number could hide in; not the random id or the millisecond timestamps, whose
        // digits hold "0123" now and then by chance.
        const { id: _id, created_at: _created, last_used_at: _used, ...rest } = row;
        const text = JSON.stringify(rest);
        for (const digits of ['2025550123', '2079460123', '2025550177', '0123', '0177']) expect(text, `factor row ${row.type}`).to.not.include(digits);
      }
      const numbers = factors.map((row) => rig.server.services.factors.openSecret({ id: row.id, secretSealed: row.secret_sealed } as never));
      expect(numbers.sort()).to.deep.equal(['+12025550123', '+12025550177', '+12025550177', '+442079460123']);

      const tables = db === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(kysely)).rows.map((r) => r.name)
        : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(kysely)).rows.map((r) => r.name);
      expect(tables).to.include('factors');
      for (const table of tables) {
        const rows = (await sql`select * from ${sql.table(table)}`.execute(kysely)).rows;
        const text = JSON.stringify(rows);
        expect(text, table).to.not.include('2025550123');
        expect(text, table).to.not.include('2079460123');
        expect(text, table).to.not.include('2025550177');
      }
    });
  });
}
