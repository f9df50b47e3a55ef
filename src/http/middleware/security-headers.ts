// Security headers on every response: a strict Content-Security-Policy (no inline script; pages
// cannot be framed), no MIME sniffing, no referrer. form-action is deliberately absent: after a
// sign-in form the browser follows redirects to the relying party's registered redirect URI,
// which a form-action list would block. helmet (through koa-helmet) writes the headers.
import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

export function securityHeaders(options: { https: boolean }): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        ...(options.https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: options.https ? { maxAge: 31536000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
  }) as unknown as Middleware;
}
