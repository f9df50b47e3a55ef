// Operations the CLI asks of a running server on the same installation. With the in-memory
// session store, lockouts live in the server's memory, out of the CLI's reach; `twofold user
// unlock` then asks the server here. Requests are signed with a key derived from TWOFOLD_SECRET
// (which the CLI shares) and valid for a minute.
import Router from '@koa/router';
import type { Services } from '../../services.js';
import { AdminService } from '../../admin/service.js';
import { parseBody } from '../body.js';

export const INTERNAL_UNLOCK = '/internal/unlock';
const MAX_AGE_MS = 60_000;

export const unlockMessage = (username: string, at: number) => `unlock\n${at}\n${username}`;

export function internalRoutes(services: Services): Router {
  const router = new Router();
  router.post(INTERNAL_UNLOCK, parseBody, async (ctx) => {
    const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};
    const username = typeof body.username === 'string' ? body.username : '';
    const at = typeof body.at === 'number' ? body.at : Number.NaN;
    const signature = ctx.get('x-twofold-signature');
    const fresh = Math.abs(Date.now() - at) <= MAX_AGE_MS;
    if (!username || !fresh || !signature || !services.keyring.verifyInternal(unlockMessage(username, at), signature)) {
      ctx.status = 401;
      ctx.body = { error: 'not signed by this installation' };
      return;
    }
    await new AdminService(services).unlock({ via: 'cli' }, username);
    ctx.status = 204;
  });
  return router;
}
