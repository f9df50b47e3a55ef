// Prometheus metrics (prom-client). Security events arrive through the one event hook; request
// latency through the request middleware. Labels stay low-cardinality: no user names, no ids.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SecurityEvents } from './events.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Histogram({
    name: 'twofold_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status class',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly signIns = new Counter({ name: 'twofold_signins_total', help: 'Completed or failed sign-ins by outcome and client', labelNames: ['outcome', 'client', 'acr'], registers: [this.registry] });
  private readonly challenges = new Counter({ name: 'twofold_second_factor_attempts_total', help: 'Second-factor verifications by factor and outcome', labelNames: ['factor', 'outcome'], registers: [this.registry] });
  private readonly lockouts = new Counter({ name: 'twofold_lockouts_total', help: 'Accounts locked: the password after too many failures, or the second factor after too many wrong codes', labelNames: ['kind'], registers: [this.registry] });
  private readonly codes = new Counter({ name: 'twofold_codes_sent_total', help: 'One-time codes sent, by channel, country calling code and outcome', labelNames: ['channel', 'country', 'outcome'], registers: [this.registry] });
  private readonly storeErrors = new Counter({ name: 'twofold_store_errors_total', help: 'Requests that failed because Redis or the database was unavailable', labelNames: ['store'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'twofold_' });
  }

  observeRequest(r: { method: string; route: string; status: number; seconds: number }): void {
    this.requests.observe({ method: r.method, route: r.route, status: `${Math.floor(r.status / 100)}xx` }, r.seconds);
  }

  storeError(store: string): void {
    this.storeErrors.inc({ store });
  }

  subscribe(events: SecurityEvents): void {
    events.subscribe((event) => {
      const factor = String(event.details?.factor ?? 'unknown');
      switch (event.type) {
        case 'signin.succeeded':
          this.signIns.inc({ outcome: 'success', client: event.clientId ?? 'none', acr: String(event.details?.acr ?? '') });
          break;
        case 'signin.failed':
        case 'signin.throttled':
          this.signIns.inc({ outcome: event.reason ?? 'failure', client: event.clientId ?? 'none', acr: '' });
          break;
        // The failure that locks it, once; the attempts refused afterwards are signins_total{outcome="too_many_failures"}.
        case 'signin.locked':
          this.lockouts.inc({ kind: 'password' });
          break;
        case 'mfa.verified':
        case 'mfa.failed':
          this.challenges.inc({ factor, outcome: event.type === 'mfa.verified' ? 'success' : (event.reason ?? 'failure') });
          break;
        case 'mfa.locked':
          this.challenges.inc({ factor, outcome: 'locked' });
          this.lockouts.inc({ kind: 'second_factor' });
          break;
        case 'code.sent':
        case 'code.send_failed':
        case 'code.refused':
          this.codes.inc({ channel: String(event.details?.channel ?? 'unknown'), country: String(event.details?.country ?? 'unknown'), outcome: event.type.slice(5) });
          break;
        default:
      }
    });
  }
}
