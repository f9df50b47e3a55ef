import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { createUser, passwordSignIn, registerClient } from '../support/oidc.js';

describe('smoke: password sign-in through openid-client', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('signs in with a password and gets acr=pwd, amr=[pwd]', async () => {
    const client = await registerClient(server);
    const user = await createUser(server, 'alice');
    const { tokens } = await passwordSignIn(server, client, user);
    const claims = tokens.claims()!;
    expect(claims.acr).to.equal('pwd');
    expect(claims.amr).to.deep.equal(['pwd']);
    expect(claims.auth_time).to.be.a('number');
  });
});
