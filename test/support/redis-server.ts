// A redis-server of the test's own on a free port, so fault tests can stop and start it (the
// shared one on 6379 must stay up for everyone else). Also starts a small Redis Cluster, and a
// master with a replica watched by Sentinel.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { freePort } from './server.js';

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export class RedisProcess {
  private child?: ChildProcess;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'twofold-redis-'));
  constructor(
    readonly port: number,
    private readonly extra: string[] = [],
    /** Sentinel directives: the process runs as a Sentinel (redis-server <file> --sentinel). */
    private readonly sentinel?: string[],
  ) {}

  static async start(extra: string[] = [], sentinel?: string[]): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort(), extra, sentinel);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.sentinel) {
      // Sentinel rewrites its configuration file as it learns, so each one gets its own.
      const file = path.join(this.dir, 'sentinel.conf');
      writeFileSync(file, [`port ${this.port}`, 'bind 127.0.0.1', `dir ${this.dir}`, ...this.sentinel.map((d) => `sentinel ${d}`), ''].join('\n'));
      this.child = spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' });
      await waitFor(() => answersPing(this.port), 10_000, `redis-sentinel on ${this.port}`);
      return;
    }
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extra], { stdio: 'ignore' });
    await waitFor(() => answersPing(this.port), 10_000, `redis-server on ${this.port}`);
  }

  /** Stops it hard (like a crash or a network cut); data in it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return; // already gone
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Three masters on free ports, slots assigned with redis-cli --cluster create. */
export async function startRedisCluster(): Promise<{ nodes: RedisProcess[]; url: string; close(): Promise<void> }> {
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await RedisProcess.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
  // Every node, not only the first: a client that asks a node still converging is told the cluster is down.
  for (const node of nodes) {
    await waitFor(async () => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(node.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout), 15_000, 'the cluster to be ok');
  }
  return {
    nodes,
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

const cli = (port: number, ...args: string[]): string => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;

/**
 * A master and one replica, watched by one Sentinel (quorum 1) that declares the master down after
 * a second without answers and promotes the replica. Ready once the replica is in sync and the
 * Sentinel knows it.
 */
export async function startRedisSentinel(masterName = 'twofold'): Promise<{ master: RedisProcess; replica: RedisProcess; sentinel: RedisProcess; url: string; masterPort(): number; close(): Promise<void> }> {
  const master = await RedisProcess.start();
  const replica = await RedisProcess.start(['--replicaof', '127.0.0.1', String(master.port)]);
  const sentinel = await RedisProcess.start([], [`monitor ${masterName} 127.0.0.1 ${master.port} 1`, `down-after-milliseconds ${masterName} 1000`, `failover-timeout ${masterName} 5000`]);
  await waitFor(async () => /master_link_status:up/.test(cli(replica.port, 'info', 'replication')), 15_000, 'the replica to sync');
  await waitFor(async () => cli(sentinel.port, 'sentinel', 'replicas', masterName).includes(String(replica.port)), 15_000, 'Sentinel to find the replica');
  return {
    master,
    replica,
    sentinel,
    url: `redis-sentinel://127.0.0.1:${sentinel.port}/${masterName}`,
    masterPort: () => Number(cli(sentinel.port, 'sentinel', 'get-master-addr-by-name', masterName).split('\n')[1]),
    close: async () => {
      await Promise.all([sentinel, replica, master].map((p) => p.close()));
    },
  };
}
