// Reads a password for the CLI: from --password, from stdin (--password-stdin), or from a
// prompt that does not echo.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { BadInput } from '../errors.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function prompt(question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

export async function readPassword(options: { password?: string; passwordStdin?: boolean }, required: boolean): Promise<string | undefined> {
  if (options.password !== undefined) return options.password;
  if (options.passwordStdin) return readStdin();
  if (process.stdin.isTTY) {
    const first = await prompt('Password: ');
    const second = await prompt('Repeat password: ');
    if (first !== second) throw new BadInput('the passwords do not match');
    return first;
  }
  if (required) throw new BadInput('give a password with --password, --password-stdin, or run in a terminal to be asked');
  return undefined;
}
