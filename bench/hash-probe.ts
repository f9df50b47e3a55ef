// A process of its own that hashes passwords with the production argon2id parameters while the
// benchmark runs, timing each hash's CPU (its process does nothing else), so the "hash limit"
// is measured on the same loaded machine as the sign-ins. Prints one JSON array of CPU seconds
// when it receives SIGTERM.
import { parseConfig } from '../src/config/load.js';
import { PasswordHasher } from '../src/accounts/passwords.js';

const hasher = new PasswordHasher(parseConfig({}).argon2);
const samples: number[] = [];
let running = true;
process.once('SIGTERM', () => {
  running = false;
});
await hasher.hash('warm up');
process.stdout.write('ready\n');
while (running) {
  const cpu0 = process.cpuUsage();
  await hasher.hash(`password ${samples.length}`);
  const used = process.cpuUsage(cpu0);
  samples.push((used.user + used.system) / 1e6);
  await new Promise((r) => setTimeout(r, 150));
}
process.stdout.write(`${JSON.stringify(samples)}\n`);
