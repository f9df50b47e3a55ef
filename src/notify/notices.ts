// Security notices: a short mail to the user when something changes on their account or someone
// got their password right but not the second factor. Each says what happened, when, from where,
// and what to do if it was not them, including signing out other sessions (NIST 800-63B r4 4.6).
// Fed by the one event hook; built only from the event's type and non-secret details, so it
// never carries a code or secret.
import type { AccountService } from '../accounts/service.js';
import type { SecurityEvents, SecurityEvent } from '../events.js';
import type { SessionStore } from '../store/session-store.js';
import type { Logger } from '../log.js';
import type { Mailer } from './mailer.js';

const FACTOR_NAMES: Record<string, string> = { totp: 'an authenticator app', sms: 'a phone for text messages', voice: 'a phone for voice calls', recovery: 'a set of recovery codes' };

interface Notice {
  subject: string;
  what: (e: SecurityEvent) => string;
  /** At most one notice of this kind per account per hour (failed attempts come in bursts). */
  hourly?: boolean;
  /** Sent for an event with outcome "failure" (the others are sent only for what succeeded). */
  onFailure?: boolean;
}

const factorName = (e: SecurityEvent) => cap(FACTOR_NAMES[String(e.details?.factor)] ?? 'A sign-in method');

const NOTICES: Record<string, Notice> = {
  'factor.enrolled': { subject: 'A sign-in method was added to your account', what: (e) => `${factorName(e)} was added as a second step for signing in to your account.` },
  'factor.removed': {
    subject: 'A sign-in method was removed from your account',
    what: (e) => `${factorName(e)} was removed from your account.${e.details?.recovery_codes_removed ? ' Your recovery codes were removed with it.' : ''}`,
  },
  'factor.reset': {
    subject: 'Your second sign-in step was reset',
    what: () => 'An administrator removed all second-step sign-in methods and recovery codes from your account. You will be asked to set one up at your next sign-in.',
  },
  'recovery.used': {
    subject: 'A recovery code was used',
    what: (e) => {
      const left = typeof e.details?.remaining === 'number' ? e.details.remaining : undefined;
      if (left === undefined) return 'A recovery code was used to sign in to your account.';
      const low = e.details?.low === true ? ' Make new ones on your account page soon.' : '';
      return `A recovery code was used to sign in to your account. ${left} unused code${left === 1 ? '' : 's'} remain${left === 1 ? 's' : ''}.${low}`;
    },
  },
  'recovery.regenerated': { subject: 'New recovery codes were created', what: () => 'New recovery codes were created for your account. The old ones no longer work.' },
  'password.changed': { subject: 'Your password was changed', what: () => 'The password of your account was changed. Your second sign-in step stays as it was.' },
  'mfa.failed': {
    subject: 'Someone entered your password but not your second step',
    hourly: true,
    onFailure: true,
    what: () => 'Someone signed in with your correct password, then entered a wrong code for the second step, so they were not let in.',
  },
  'mfa.locked': {
    subject: 'Your second sign-in step is locked after too many wrong codes',
    onFailure: true,
    what: () => 'Someone signed in with your correct password, then entered too many wrong codes for the second step. It is locked for a while; nobody was let in.',
  },
};

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** An administrator acted (admin API or CLI): the IP is the administrator's, not the user's. */
const byAdministrator = (e: SecurityEvent) => e.reason === 'cli' || Boolean(e.reason?.startsWith('api:'));

/** The notice for an event, or none. */
export function noticeFor(event: SecurityEvent): Notice | undefined {
  const notice = NOTICES[event.type];
  if (!notice || !event.accountId) return undefined;
  if (event.outcome === 'failure' && !notice.onFailure) return undefined;
  return notice;
}

export class Notices {
  constructor(
    private readonly accounts: AccountService,
    private readonly mailer: Mailer,
    private readonly store: SessionStore,
    private readonly issuer: string,
    private readonly log: Logger,
  ) {}

  subscribe(events: SecurityEvents): void {
    events.subscribe((event) => this.handle(event));
  }

  private async handle(event: SecurityEvent & { at: number }): Promise<void> {
    const notice = noticeFor(event);
    if (!notice) return;
    if (notice.hourly) {
      const { count } = await this.store.increment(`tf:notice:${event.type}:${event.accountId}`, 3600);
      if (count > 1) return;
    }
    const account = await this.accounts.findById(event.accountId!);
    if (!account?.email) {
      this.log.info({ notice: event.type, accountId: event.accountId }, 'security notice not sent: the account has no email address');
      return;
    }
    const from = byAdministrator(event)
      ? 'by an administrator'
      : event.ip
        ? `from the IP address ${event.ip}${event.userAgent ? ` (${describeAgent(event.userAgent)})` : ''}`
        : 'from an unknown place';
    const text = [
      `Hello ${account.name ?? account.username},`,
      '',
      notice.what(event),
      '',
      `When: ${new Date(event.at).toUTCString()}`,
      `Where: ${from}`,
      '',
      'If this was you, there is nothing to do.',
      'If it was not you:',
      `  1. Change your password now at ${this.issuer}/account`,
      '  2. On the same page, check your sign-in methods and press "Sign out other sessions"',
      '  3. Tell your administrator',
      '',
      '— Twofold, the sign-in service of your organisation',
    ].join('\n');
    await this.mailer.send({ to: account.email, subject: notice.subject, text });
  }
}

/** "Chrome on Windows": enough for a person to recognise their device. */
export function describeAgent(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'a browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : 'an unknown system';
  return `${browser} on ${os}`;
}
