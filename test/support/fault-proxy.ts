// A TCP proxy in front of a real service (PostgreSQL) that can fail at an exact moment: cut and
// restore like TcpProxy, and also "trap" the first client message matching a pattern, to lose
// the connection right there, either before the server sees that message (it never ran) or just
// after (it ran, but its answer never came back). That is how a test cuts the database in the
// middle of one particular write.
import net from 'node:net';

export interface Trap {
  /** Matched against each chunk the client sends (as latin1 text), e.g. /insert into "factors"/i. */
  pattern: RegExp;
  /** true: the server receives the message and its answer is lost; false: the message is lost. */
  deliver: boolean;
  /** How long after the trap fires the whole proxy goes down (the database is "gone"). */
  cutAfterMs?: number;
}

export class FaultProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private trap?: Trap & { fired: () => void };
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<this> {
    this.server = net.createServer((client) => this.connect(client));
    await new Promise<void>((resolve) => this.server!.listen(port || this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    let answersLost = false;
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.on('data', (chunk: Buffer) => {
      const trap = this.trap;
      if (trap && trap.pattern.test(chunk.toString('latin1'))) {
        this.trap = undefined;
        answersLost = true;
        if (trap.deliver) upstream.write(chunk);
        setTimeout(() => void this.cut(), trap.cutAfterMs ?? 300);
        trap.fired();
        return;
      }
      if (!answersLost) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!answersLost) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Arms a trap; resolves when it fires. The proxy then cuts itself `cutAfterMs` later. */
  arm(trap: Trap): Promise<void> {
    return new Promise((resolve) => {
      this.trap = { ...trap, fired: resolve };
    });
  }

  get down(): boolean {
    return !this.server;
  }

  /** Refuses new connections and drops the open ones: the service is "down". */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Back on the same port. */
  async restore(): Promise<void> {
    if (!this.server) await this.start(this.port);
  }

  async close(): Promise<void> {
    this.trap = undefined;
    await this.cut();
  }
}
