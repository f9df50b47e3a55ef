// Maps driver errors to what they mean for us, the same for both dialects.
import { Conflict, ServiceUnavailable } from '../errors.js';

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '08006', '08001', '08003', 'SQLITE_BUSY']);

/**
 * True for errors that mean "the database is not reachable right now", not "the query is wrong".
 * A connection lost inside a transaction surfaces as pg's "not queryable": the driver's ROLLBACK
 * on the dead connection fails, and that error replaces the one that cut the transaction short.
 */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && CONNECTION_CODES.has(e.code)) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Query read timeout|is not queryable|the database system is (starting up|shutting down)/i.test(e?.message ?? '');
}

/** Runs a query and turns driver failures into errors a person can act on. */
export async function guard<T>(run: () => Promise<T>, conflictMessage?: string): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (conflictMessage && isUniqueViolation(err)) throw new Conflict(conflictMessage);
    if (isUnavailable(err)) throw new ServiceUnavailable('database', { cause: err });
    throw err;
  }
}
