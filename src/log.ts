// Structured JSON logs (pino). Fields that could hold a secret are redacted wherever they appear,
// as a second line of defence: the code never logs codes, passwords, secrets or tokens.
import { pino, type Logger } from 'pino';

export type { Logger };

const SECRET_FIELDS = ['password', 'secret', 'token', 'access_token', 'refresh_token', 'id_token', 'client_secret', 'authorization', 'cookie', 'phone', 'otp'];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'twofold' },
      redact: {
        paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`), 'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? process.stdout,
  );
}
