// Runs the built `twofold` CLI the way an operator does, for the tests in test/cli: a child
// process configured only through the environment (DATABASE_URL, TWOFOLD_SECRET,
// TWOFOLD_DATA_DIR, REDIS_URL), with helpers that check exit codes and the one-line failures.
// Needs a build (npm test builds first; alone: npm run build).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createTestDatabase, type DbKind, type TestDatabase } from '../support/databases.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const SECRET = 'cli-test-secret-0123456789-abcdefghijklmnop';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment an operator would set, and nothing from this process (no stray REDIS_URL). */
export function cliEnv(db: TestDatabase, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: db.dataDir, DATABASE_URL: db.url, TWOFOLD_SECRET: SECRET, TWOFOLD_DATA_DIR: db.dataDir, ...extra };
}

export function runCli(env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    // The working directory is the data directory, so no config/*.json of a developer applies.
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: env.TWOFOLD_DATA_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Runs the CLI in a pseudo-terminal (util-linux `script`), answering each prompt as it appears,
 * as a person at a terminal would. Returns everything the terminal showed.
 */
export function runInTerminal(env: NodeJS.ProcessEnv, args: string[], answers: string[]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { env, cwd: env.TWOFOLD_DATA_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let answered = 0;
    const onData = (d: Buffer) => {
      screen += d;
      const prompts = screen.match(/password: /gi)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

export function succeeded(run: Run): Run {
  expect(run.code, `exit code; stderr: ${run.stderr}`).to.equal(0);
  expect(run.stderr, 'nothing on stderr').to.equal('');
  return run;
}

/** A failure: non-zero exit, nothing on stdout, one line on stderr matching `reason`. */
export function failed(run: Run, reason: RegExp): void {
  expect(run.code, `exit code; stdout: ${run.stdout}`).to.be.a('number').and.not.equal(0);
  expect(run.stdout).to.equal('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, `stderr: ${run.stderr}`).to.have.length(1);
  expect(lines[0]).to.match(reason);
}

export const json = <T = any>(run: Run): T => JSON.parse(succeeded(run).stdout) as T;

/**
 * Runs commands that must each fail, three at a time (every one is a Node start), and checks
 * each the way failed() does. Only for commands that change nothing, so their order is free.
 */
export async function allFail(run: (...args: string[]) => Promise<Run>, cases: Array<[string[], RegExp]>): Promise<void> {
  const results: Run[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) results[i] = await run(...cases[i]![0]);
  };
  await Promise.all([worker(), worker(), worker()]);
  results.forEach((result, i) => failed(result, cases[i]![1]));
}

export interface CliDatabase {
  db: TestDatabase;
  /** Runs `twofold <args>` against this database. */
  twofold(...args: string[]): Promise<Run>;
}

/**
 * A fresh database for the commands of one test file (created before its tests, dropped after),
 * and mocha settings for a file that starts Node once per command.
 */
export function cliDatabase(suite: Mocha.Suite, kind: DbKind = 'sqlite'): CliDatabase {
  // Each command starts Node and opens the database: a second or more on a busy machine.
  suite.timeout(60_000);
  suite.slow(5_000);
  const cli = {} as CliDatabase;
  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
    cli.db = await createTestDatabase(kind);
    cli.twofold = (...args) => runCli(cliEnv(cli.db), args);
  });
  after(() => cli.db?.drop());
  return cli;
}

/** One audit event as `twofold audit --json` prints it. */
export interface AuditEvent {
  type: string;
  outcome: string;
  username: string | null;
  client_id: string | null;
  reason: string | null;
}
