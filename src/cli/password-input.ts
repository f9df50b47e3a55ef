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

/**
 * Asks for the password twice on the terminal. The readline interface (which puts the terminal in
 * raw mode, so nothing typed is echoed) is created before the first prompt is shown and kept until
 * both answers are in: a password typed or pasted ahead of a prompt is never echoed either.
 */
async function promptTwice(): Promise<[string, string]> {
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (question: string): Promise<string> => {
    process.stderr.write(question);
    const { value } = await lines.next();
    process.stderr.write('\n');
    return typeof value === 'string' ? value : '';
  };
  try {
    return [await ask('Password: '), await ask('Repeat password: ')];
  } finally {
    rl.close();
  }
}

export async function readPassword(options: { password?: string; passwordStdin?: boolean }, required: boolean): Promise<string | undefined> {
  if (options.password !== undefined) return options.password;
  if (options.passwordStdin) return readStdin();
  if (process.stdin.isTTY) {
    const [first, second] = await promptTwice();
    if (first !== second) throw new BadInput('the passwords do not match');
    return first;
  }
  if (required) throw new BadInput('give a password with --password, --password-stdin, or run in a terminal to be asked');
  return undefined;
}
