// Writes audit rows in small batches: one multi-row INSERT per batch instead of one round trip
// per event, on the sign-in hot path. A batch goes out when it is full or after a short delay;
// each event's promise settles when its row is written, so SecurityEvents.settle() (shutdown,
// tests) still waits for the rows.
import type { AuditEventRow } from '../db/schema.js';

type Row = Omit<AuditEventRow, 'id'>;

export class BatchWriter {
  private pending: Array<{ row: Row; done: () => void; failed: (err: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (rows: Row[]) => Promise<void>,
    private readonly maxRows = 100,
    private readonly maxDelayMs = 50,
  ) {}

  add(row: Row): Promise<void> {
    return new Promise((done, failed) => {
      this.pending.push({ row, done, failed });
      if (this.pending.length >= this.maxRows) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.maxDelayMs);
    });
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.write(batch.map((b) => b.row));
      for (const b of batch) b.done();
    } catch (err) {
      for (const b of batch) b.failed(err);
    }
  }
}
