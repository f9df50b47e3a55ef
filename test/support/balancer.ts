// A small HTTP load balancer for multi-instance tests: every request (not every connection) goes
// to the next backend in turn, with no stickiness, the way a round-robin balancer in front of
// several Twofold instances behaves. It records which backend served each request, and a test
// can take a backend out of rotation (as a health check would after the instance stopped).
import http from 'node:http';
import net from 'node:net';

export interface Backend {
  name: string;
  port: number;
}

export class Balancer {
  private server?: http.Server;
  private next = 0;
  private readonly out = new Set<string>();
  /** The backend name that served each request, in order. */
  readonly served: string[] = [];
  port = 0;

  constructor(private readonly backends: Backend[]) {}

  get url(): string {
    return `http://localhost:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Stops sending requests to this backend. */
  remove(name: string): void {
    this.out.add(name);
  }

  restore(name: string): void {
    this.out.delete(name);
  }

  private pick(): Backend {
    const live = this.backends.filter((b) => !this.out.has(b.name));
    if (live.length === 0) throw new Error('no backend in rotation');
    const backend = live[this.next % live.length]!;
    this.next++;
    return backend;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const backend = this.pick();
    this.served.push(backend.name);
    const upstream = http.request(
      { host: '127.0.0.1', port: backend.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-served-by': backend.name }, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-served-by': backend.name });
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    });
    req.pipe(upstream);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
