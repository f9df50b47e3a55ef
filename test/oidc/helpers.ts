// Small helpers shared by the OIDC tests.
import { expect } from 'chai';
import type { Agent, Page } from '../support/agent.js';

export interface Rejection {
  error?: string;
  error_description?: string;
  status?: number;
  message: string;
}

/** Awaits a promise that must reject and returns what the error says (openid-client's errors carry the OAuth error). */
export async function rejection(promise: Promise<unknown>): Promise<Rejection> {
  try {
    await promise;
  } catch (err) {
    // ResponseBodyError carries error/error_description; a 401 with WWW-Authenticate carries them in its challenge.
    const e = err as { error?: string; error_description?: string; status?: number; message: string; cause?: unknown };
    const challenge = Array.isArray(e.cause) ? (e.cause[0] as { parameters?: { error?: string; error_description?: string } })?.parameters : undefined;
    return {
      error: e.error ?? challenge?.error,
      error_description: e.error_description ?? challenge?.error_description,
      status: e.status,
      message: e.message,
    };
  }
  return expect.fail('expected the promise to reject');
}

/** Presses "Sign out" on our logout page and follows redirects (stopping where `stopAt` says). */
export function signOut(agent: Agent, page: Page, stopAt?: (location: string) => boolean) {
  return agent.submit(page, '/session/end/confirm', {}, { button: 'Sign out', ...(stopAt ? { stopAt } : {}) });
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
