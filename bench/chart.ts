// A small SVG bar chart of a benchmark run: sign-ins per second and per CPU-second for each
// scenario and store configuration, with the two headline ratios.
import { writeFileSync } from 'node:fs';

interface ScenarioResult {
  perSecond: number;
  perCpuSecond: number;
}

export function writeChart(
  file: string,
  results: Record<string, { scenarios: Record<string, ScenarioResult> }>,
  ratios: { throughputRatio: number; hashLimitRatio: number; hashCpuMs: number },
): void {
  const bars: Array<{ label: string; value: number; kind: 'per second' | 'per CPU-second' }> = [];
  for (const [setup, r] of Object.entries(results)) {
    for (const scenario of ['password', 'mfa']) {
      const s = r.scenarios[scenario];
      if (!s) continue;
      bars.push({ label: `${setup} ${scenario}`, value: s.perSecond, kind: 'per second' });
      bars.push({ label: `${setup} ${scenario}`, value: s.perCpuSecond, kind: 'per CPU-second' });
    }
  }
  const hashLimit = 1000 / ratios.hashCpuMs;
  const max = Math.max(hashLimit, ...bars.map((b) => b.value)) * 1.1;
  const rowHeight = 22;
  const left = 230;
  const width = 760;
  const plot = width - left - 80;
  const top = 60;
  const height = top + bars.length * rowHeight + 60;
  const x = (v: number) => left + (v / max) * plot;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = bars
    .map((b, i) => {
      const y = top + i * rowHeight;
      const colour = b.kind === 'per second' ? '#2355d8' : '#0f6d3f';
      return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)} · ${b.kind}</text><rect x="${left}" y="${y + 3}" width="${(x(b.value) - left).toFixed(1)}" height="15" fill="${colour}"/><text x="${(x(b.value) + 4).toFixed(1)}" y="${y + 15}">${b.value.toFixed(1)}</text>`;
    })
    .join('\n');
  const limitX = x(hashLimit).toFixed(1);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="24" font-size="15" font-weight="600">Twofold sign-ins (complete browser flows, production argon2id)</text>
<text x="16" y="44">mfa/password throughput ratio ${ratios.throughputRatio.toFixed(2)} · sign-ins per CPU-second vs hash limit ${ratios.hashLimitRatio.toFixed(2)} (PostgreSQL + Redis)</text>
${rows}
<line x1="${limitX}" y1="${top}" x2="${limitX}" y2="${height - 40}" stroke="#b3261e" stroke-dasharray="4 3"/>
<text x="${limitX}" y="${height - 24}" text-anchor="middle" fill="#b3261e">hash limit ${hashLimit.toFixed(1)}/CPU-s (one argon2id hash = ${ratios.hashCpuMs.toFixed(1)} ms CPU)</text>
</svg>
`;
  writeFileSync(file, svg);
}
