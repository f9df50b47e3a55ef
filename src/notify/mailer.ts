// Mail to users (security notices) through SMTP with nodemailer, or to the log when SMTP_URL is
// unset (development, or an installation without mail).
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

export function createMailer(config: Config['mail'], log: Logger): Mailer {
  if (!config.smtpUrl) {
    return {
      async send(mail) {
        log.info({ mail: { to: mail.to, subject: mail.subject }, body: mail.text }, 'security notice (SMTP_URL is not set, so it is logged instead of mailed)');
      },
      close() {},
    };
  }
  const transport: Transporter = nodemailer.createTransport(config.smtpUrl);
  return {
    async send(mail) {
      await transport.sendMail({ from: config.from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}
