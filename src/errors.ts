// Typed errors that carry their HTTP meaning, so routes and the CLI can answer a person clearly
// without leaking internals. Anything else that reaches the error handler is a 500 (or a 503 when
// a backing service is down).

export class TwofoldError extends Error {
  /** HTTP status this error maps to. */
  readonly status: number = 500;
  /** Safe to show to the person who caused it. */
  readonly expose: boolean = false;
}

/** The user or operator gave input we cannot accept; the message says what to change. */
export class BadInput extends TwofoldError {
  override readonly status = 400;
  override readonly expose = true;
}

/** Not signed in, or with credentials that are no good. */
export class Unauthorized extends TwofoldError {
  override readonly status = 401;
  override readonly expose = true;
}

/** Signed in, but not allowed to do this. */
export class Forbidden extends TwofoldError {
  override readonly status = 403;
  override readonly expose = true;
}

export class PayloadTooLarge extends TwofoldError {
  override readonly status = 413;
  override readonly expose = true;
}

export class UnsupportedMediaType extends TwofoldError {
  override readonly status = 415;
  override readonly expose = true;
}

export class NotFound extends TwofoldError {
  override readonly status = 404;
  override readonly expose = true;
}

/** The path exists, but not for this HTTP method; `allow` lists the methods it takes. */
export class MethodNotAllowed extends TwofoldError {
  override readonly status = 405;
  override readonly expose = true;
  constructor(readonly allow: string[]) {
    super(`This address does not accept ${allow.length ? `that kind of request; it takes ${allow.join(', ')}` : 'that kind of request'}.`);
  }
}

export class Conflict extends TwofoldError {
  override readonly status = 409;
  override readonly expose = true;
}

/** Too many attempts; `retryAfterSeconds` tells when to come back. */
export class TooManyAttempts extends TwofoldError {
  override readonly status = 429;
  override readonly expose = true;
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/** A backing service (Redis, the database, Vonage) is unreachable; the request can be retried. */
export class ServiceUnavailable extends TwofoldError {
  override readonly status = 503;
  override readonly expose = true;
  constructor(readonly service: string, options?: { cause?: unknown }) {
    super('The service is temporarily unavailable. Please try again in a moment.', options);
  }
}

/** Configuration that cannot work; printed at start with the fix. */
export class ConfigError extends TwofoldError {}
