// Recognises "Redis is not reachable right now" among the errors ioredis raises, so a request can
// answer 503 (try again) instead of 500.
export function isRedisOutage(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  if (!e) return false;
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
  if (e.code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CLUSTERDOWN'].includes(e.code)) return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|Reached the max retries|CLUSTERDOWN|LOADING|None of startup nodes is available|Failed to refresh slots cache/i.test(
    e.message ?? '',
  );
}
