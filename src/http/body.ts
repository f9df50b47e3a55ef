// Form and JSON bodies for our own routes, with small limits; oidc-provider parses its own.
import { bodyParser } from '@koa/bodyparser';
import { BadInput } from '../errors.js';

export const parseBody = bodyParser({
  enableTypes: ['form', 'json'],
  formLimit: '16kb',
  jsonLimit: '64kb',
  encoding: 'utf-8',
  // Limits and malformed JSON come with a 4xx status; anything else the parser throws (a
  // corrupt gzip stream, say) is still the sender's fault, never a 500.
  onError(err) {
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) throw err;
    throw new BadInput('The request body could not be read. Check what you sent and try again.');
  },
});

