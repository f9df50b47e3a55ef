// The provider's logs: one JSON object per line (pino), every line written while serving a request
// carries that request's id, the id is the X-Request-Id header of the answer (and the reference
// on an error page), an incoming X-Request-Id is kept only when it is a plain token, and the
// request line names the path without its query string (which can carry codes and state).
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { Agent } from '../support/agent.js';
import { authorizationUrl, createUser, openAuthorization, registerClient, submitPassword } from '../support/oidc.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('observability: JSON logs with a request id', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  const linesFor = (id: string) => server.logs.entries().filter((e) => e.requestId === id);

  it('writes one JSON object per line, with level, ISO time and the service name', async () => {
    await fetch(`${server.issuer}/`);
    expect(server.logs.lines.length).to.be.above(0);
    for (const line of server.logs.lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry.level, line).to.be.a('number');
      expect(entry.time, line).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(entry.service, line).to.equal('twofold');
      expect(entry.msg, line).to.be.a('string');
    }
  });

  it('keeps a well-formed incoming X-Request-Id, echoes it, and logs the request under it', async () => {
    const id = `trace-${Date.now()}`;
    const res = await fetch(`${server.issuer}/`, { headers: { 'x-request-id': id } });
    expect(res.headers.get('x-request-id')).to.equal(id);
    const [line] = linesFor(id);
    expect(line).to.deep.include({ msg: 'request', method: 'GET', path: '/', status: 200 });
    expect(line!.ms).to.be.a('number');
  });

  it('replaces a malformed or oversized X-Request-Id with a fresh one', async () => {
    for (const bad of ['has spaces in it', '<script>x</script>', 'x'.repeat(65), 'short']) {
      const res = await fetch(`${server.issuer}/`, { headers: { 'x-request-id': bad } });
      const id = res.headers.get('x-request-id')!;
      expect(id, bad).to.match(UUID);
      expect(linesFor(id), bad).to.have.length(1);
      expect(server.logs.text).to.not.include(bad);
    }
  });

  it('gives each request of a sign-in its own id, in the header and on every line it logged; the path never has the query', async () => {
    const client = await registerClient(server);
    const user = await createUser(server, 'yara');
    const seen: string[] = [];
    const agent = new Agent();
    const request = agent.request.bind(agent);
    agent.request = async (url, init) => {
      const res = await request(url, init);
      seen.push(res.headers.get('x-request-id') ?? '');
      return res;
    };
    const auth = await authorizationUrl(client);
    const done = await submitPassword(agent, await openAuthorization(agent, auth), user.username, user.password);
    expect(done.redirectedTo).to.be.a('string');
    expect(seen.length).to.be.at.least(4);
    expect(new Set(seen).size, 'one id per request').to.equal(seen.length);
    for (const id of seen) {
      expect(id).to.match(UUID);
      const lines = linesFor(id);
      expect(lines.filter((l) => l.msg === 'request'), id).to.have.length(1);
    }
    const authLine = server.logs.entries().find((e) => e.msg === 'request' && e.path === '/auth');
    expect(authLine, 'the authorization request was logged').to.not.equal(undefined);
    expect(server.logs.text).to.not.include('code_challenge=').and.not.include(new URL(auth.url).searchParams.get('state')!);
  });

  it('shows the request id on an error page as the reference, and logs the refusal under the same id', async () => {
    const res = await fetch(`${server.issuer}/no-such-page`, { headers: { accept: 'text/html' } });
    expect(res.status).to.equal(404);
    const id = res.headers.get('x-request-id')!;
    expect(await res.text()).to.include(`Reference: <code>${id}</code>`);
    expect(linesFor(id).map((l) => l.msg)).to.deep.equal(['request refused', 'request']);
  });
});
