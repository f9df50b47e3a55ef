// Structured JSON logs (pino). Fields that could hold a secret are redacted wherever they appear,
// as a second line of defence: the code never logs codes, passwords, secrets or tokens.
import { pino, type Logger } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'password',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code_verifier',
  'authorization',
  'cookie',
  'phone',
  'e164',
  'msisdn',
  'otp',
  'seed',
  'recoveryCodes',
  'apiSecret',
  'api_secret',
  'privateKey',
  'private_key',
  'signatureSecret',
];
/**
 * A one-time code, where a request's fields would carry it. Not every `code` (an error's `code`,
 * such as ECONNREFUSED, is what an operator needs to see).
 */
const CODE_PATHS = ['code', 'body.code', 'form.code', 'query.code', 'params.code'];

/** Each logger's sibling for the one-line-per-request log (see requestLineLogger). */
const requestLines = new WeakMap<Logger, Logger>();

/**
 * The logger for request lines, which carry only method, path (never the query), status, time,
 * IP and request id: nothing to redact, so it skips redaction, the costly part of a log line.
 */
export const requestLineLogger = (log: Logger): Logger => requestLines.get(log) ?? log;

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const base = { level, base: { service: 'twofold' }, timestamp: pino.stdTimeFunctions.isoTime };
  const log = pino(
    {
      level,
      base: { service: 'twofold' },
      redact: {
        paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`), ...CODE_PATHS, 'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? process.stdout,
  );
  requestLines.set(log, pino(base, destination ?? process.stdout));
  return log;
}

/**
 * The server's log on standard output, buffered: one write per few kilobytes rather than one per
 * line (a write is a system call, and every request logs a line). Flushed every second and at exit.
 */
export function createServerLogger(level: string): { log: Logger; flush(): void } {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const flush = () => {
    try {
      destination.flushSync();
    } catch {
      // Nothing buffered, or the stream is already closed.
    }
  };
  setInterval(() => destination.flush(), 1000).unref();
  process.once('exit', flush);
  return { log: createLogger(level, destination as unknown as NodeJS.WritableStream), flush };
}
