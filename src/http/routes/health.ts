// /healthz: the process is up. /readyz: Redis and the database each answer within 1.5 s, so a
// load balancer (whose probe typically waits 2 s) sends traffic only to instances that can serve
// it, and learns that an instance cannot before its own probe times out.
import Router from '@koa/router';

export interface Probe {
  name: string;
  ping(): Promise<void>;
}

/** The same budget a request gets for one Redis command. */
export const PROBE_TIMEOUT_MS = 1500;

const within = <T>(ms: number, work: Promise<T>) =>
  Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

export function healthRoutes(probes: Probe[]): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await within(PROBE_TIMEOUT_MS, probe.ping());
          return [probe.name, 'ok'] as const;
        } catch {
          return [probe.name, 'unavailable'] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) };
  });
  return router;
}
