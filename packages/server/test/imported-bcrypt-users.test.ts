import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hash } from '@node-rs/bcrypt';
import { authorizeUrl, Browser, callbackParams, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

let server: TestServer;
let clientId: string;

before(async () => {
  server = await startTestServer();
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
});
after(() => server.close());

const signIn = (email: string, password: string) =>
  signInWithPassword(
    new Browser(server.issuer),
    authorizeUrl(server.issuer, {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
    email,
    password,
  );

test('a user imported with a bcrypt hash signs in, and the hash is replaced by argon2id', async () => {
  const bcryptHash = await hash('Imported-pass-1', { cost: 4 });
  const created = await server.management('POST', '/users', {
    connection: 'Username-Password-Authentication',
    email: 'legacy@example.com',
    password_hash: bcryptHash,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stored = async () => (await server.ctx.storage.users.get(created.body.user_id))!.passwordHash!;
  assert.equal(await stored(), bcryptHash);

  assert.equal((await signIn('legacy@example.com', 'wrong-password')).status, 400);
  assert.equal(await stored(), bcryptHash, 'a failed login changes nothing');

  assert.ok(callbackParams(await signIn('legacy@example.com', 'Imported-pass-1')).get('code'));
  assert.match(await stored(), /^\$argon2id\$/);
  assert.ok(callbackParams(await signIn('legacy@example.com', 'Imported-pass-1')).get('code'), 'the new hash verifies');
});

test('only bcrypt hashes are importable, and never together with a password', async () => {
  for (const body of [
    { password_hash: '$1$md5$notsupported' },
    { password_hash: 'plaintext' },
    { password_hash: await hash('x', { cost: 4 }), password: 'Also-a-password-1' },
  ]) {
    const response = await server.management('POST', '/users', {
      connection: 'Username-Password-Authentication',
      email: 'bad@example.com',
      ...body,
    });
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(response.body.statusCode, 400);
  }
});
