// How the CLI prints: plain text for people, --json for scripts; errors as one line on stderr.
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(records: ReadonlyArray<object>, columns: string[]): void {
  const rows = records as ReadonlyArray<Record<string, unknown>>;
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => cell(row[c])))}\n`);
}

export function printRecord(record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  for (const [key, value] of Object.entries(record)) {
    const shown = Array.isArray(value) ? value.join(' ') : value === null || value === undefined ? '-' : String(value);
    process.stdout.write(`${key.padEnd(width)}  ${shown}\n`);
  }
}

export const say = (message: string): void => {
  process.stdout.write(`${message}\n`);
};
