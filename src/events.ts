// One hook for every security event. The audit trail, metrics and user notices subscribe here;
// the code that does the work only says what happened. Events never carry a secret or a code.
import { EventEmitter } from 'node:events';

export interface SecurityEvent {
  type: string;
  outcome: 'success' | 'failure' | 'info';
  accountId?: string | null;
  username?: string | null;
  clientId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** A short machine-readable reason, e.g. "invalid_password", "locked". */
  reason?: string | null;
  /** Extra non-secret details (factor type, masked number, country calling code...). */
  details?: Record<string, unknown>;
}

export type EventListener = (event: SecurityEvent & { at: number }) => void | Promise<void>;

export class SecurityEvents {
  private readonly emitter = new EventEmitter();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly onListenerError: (err: unknown, event: SecurityEvent) => void = () => {}) {}

  subscribe(listener: EventListener): void {
    this.emitter.on('event', (event: SecurityEvent & { at: number }) => {
      try {
        const result = listener(event);
        if (result instanceof Promise) {
          const tracked = result.catch((err) => this.onListenerError(err, event)).finally(() => this.pending.delete(tracked));
          this.pending.add(tracked);
        }
      } catch (err) {
        this.onListenerError(err, event);
      }
    });
  }

  emit(event: SecurityEvent): void {
    this.emitter.emit('event', { ...event, at: Date.now() });
  }

  /** Waits for listeners still writing (audit rows, mails); used at shutdown and by tests. */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
