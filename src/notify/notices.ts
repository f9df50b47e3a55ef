// Security notices: a short mail to the user when something changes on their account or someone
// got their password right but not the second factor. Each says what happened, when, from where,
// and what to do if it was not them. Fed by the one event hook; never carries a code or secret.
import type { AccountService } from '../accounts/service.js';
import type { SecurityEvents, SecurityEvent } from '../events.js';
import type { SessionStore } from '../store/session-store.js';
import type { Logger } from '../log.js';
import type { Mailer } from './mailer.js';

const FACTOR_NAMES: Record<string, string> = { totp: 'an authenticator app', sms: 'text messages', voice: 'voice calls', recovery: 'recovery codes' };

interface Notice {
  subject: string;
  what: (e: SecurityEvent) => string;
  /** At most one notice of this kind per account per hour (failed attempts come in bursts). */
  hourly?: boolean;
}

const NOTICES: Record<string, Notice> = {
  'factor.enrolled': { subject: 'A sign-in method was added to your account', what: (e) => `${cap(FACTOR_NAMES[String(e.details?.factor)] ?? 'A sign-in method')} was added as a second step for signing in to your account.` },
  'factor.removed': { subject: 'A sign-in method was removed from your account', what: (e) => `${cap(FACTOR_NAMES[String(e.details?.factor)] ?? 'A sign-in method')} was removed from your account.` },
  'factor.reset': { subject: 'Your second sign-in step was reset', what: () => 'An administrator removed all second-step sign-in methods from your account. You will be asked to set one up at your next sign-in.' },
  'recovery.used': { subject: 'A recovery code was used', what: (e) => `A recovery code was used to sign in to your account.${e.details?.remaining !== undefined ? ` ${e.details.remaining} unused codes remain.` : ''}` },
  'recovery.regenerated': { subject: 'New recovery codes were created', what: () => 'New recovery codes were created for your account. The old ones no longer work.' },
  'password.changed': { subject: 'Your password was changed', what: () => 'The password of your account was changed.' },
  'mfa.failed': { subject: 'Someone entered your password but not your second step', hourly: true, what: () => 'Someone signed in with your correct password, then entered a wrong code for the second step.' },
};

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

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
    const notice = NOTICES[event.type];
    if (!notice || !event.accountId || event.outcome === 'failure' && event.type !== 'mfa.failed') return;
    if (notice.hourly) {
      const { count } = await this.store.increment(`tf:notice:${event.type}:${event.accountId}`, 3600);
      if (count > 1) return;
    }
    const account = await this.accounts.findById(event.accountId);
    if (!account?.email) {
      this.log.info({ notice: event.type, accountId: event.accountId }, 'security notice not sent: the account has no email address');
      return;
    }
    const from = event.ip ? `from the IP address ${event.ip}${event.userAgent ? ` (${describeAgent(event.userAgent)})` : ''}` : event.reason === 'cli' || event.reason?.startsWith('api:') ? 'by an administrator' : 'from an unknown place';
    const text = [
      `Hello ${account.name ?? account.username},`,
      '',
      notice.what(event),
      '',
      `When: ${new Date(event.at).toUTCString()}`,
      `Where: ${from}`,
      '',
      'If this was you, there is nothing to do.',
      `If it was not you, change your password now at ${this.issuer}/account, check your sign-in methods there, and tell your administrator.`,
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
