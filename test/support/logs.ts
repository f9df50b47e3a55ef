// Captures a test server's JSON log lines, so tests can assert what was (and was not) logged.
// Every captured line is also appended to test-artifacts/server.log, which the secret-leak test
// greps after the run.
import { appendFileSync, mkdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { ARTIFACTS_DIR } from './env.js';

export class LogCapture {
  readonly lines: string[] = [];
  readonly stream: Writable;

  constructor() {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    this.stream = new Writable({
      write: (chunk, _enc, done) => {
        const text = chunk.toString();
        this.lines.push(...text.split('\n').filter(Boolean));
        appendFileSync(`${ARTIFACTS_DIR}server.log`, text);
        done();
      },
    });
  }

  get text(): string {
    return this.lines.join('\n');
  }

  entries(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
