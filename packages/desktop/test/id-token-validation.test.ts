import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discover } from '../src/discovery.js';
import { type IdTokenExpectations, idTokenVerifier } from '../src/id-token.js';
import { IdTokenInvalid } from '../src/index.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';

const issuer = await fakeIssuer();
const verify = idTokenVerifier(await discover(FAKE_ISSUER, issuer.fetch), issuer.fetch);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const expect = (extra: Partial<IdTokenExpectations> = {}): IdTokenExpectations => ({
  issuer: FAKE_ISSUER,
  clientId: FAKE_CLIENT,
  leewaySeconds: 60,
  now: Date.now(),
  nonce: 'n-1',
  ...extra,
});

const refused = (reason: RegExp) => (error: unknown) =>
  error instanceof IdTokenInvalid && error.code === 'id_token_invalid' && reason.test(error.message);

test('a well-formed id_token is accepted and its claims returned', async () => {
  const claims = await verify(await issuer.idToken({ nonce: 'n-1', name: 'Ada' }), expect());
  assert.equal(claims.sub, 'auth0|user1');
  assert.equal(claims.name, 'Ada');
});

test('signature: a token signed by another key, or with HS256 (a public client has no secret), is refused', async () => {
  const { generateKeyPair } = await import('jose');
  const other = await generateKeyPair('RS256');
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-1' }, {}, other.privateKey), expect()), refused(/signature/));
  await assert.rejects(
    verify(await issuer.idToken({ nonce: 'n-1' }, { alg: 'HS256' }, new TextEncoder().encode('x'.repeat(32))), expect()),
    refused(/alg/),
  );
});

test('iss and aud must be this issuer and this client', async () => {
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-1', iss: 'https://evil.test/' }), expect()), refused(/iss/));
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-1', aud: 'another-client' }), expect()), refused(/aud/));
});

test('azp: with several audiences the token must name this client as authorised party', async () => {
  const aud = [FAKE_CLIENT, 'https://api.test/'];
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-1', aud }), expect()), refused(/azp/));
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-1', aud, azp: 'another-client' }), expect()), refused(/azp/));
  assert.equal((await verify(await issuer.idToken({ nonce: 'n-1', aud, azp: FAKE_CLIENT }), expect())).azp, FAKE_CLIENT);
});

test('exp and iat are checked with the leeway, against the injected clock', async () => {
  const token = await issuer.idToken({ nonce: 'n-1', iat: nowSeconds() - 3600, exp: nowSeconds() - 30 });
  assert.ok(await verify(token, expect()), 'expired 30 s ago is within a 60 s leeway');
  await assert.rejects(verify(token, expect({ leewaySeconds: 10 })), refused(/exp/));
  const future = await issuer.idToken({ nonce: 'n-1', iat: nowSeconds() + 600, exp: nowSeconds() + 4000 });
  await assert.rejects(verify(future, expect()), refused(/iat|future/));
});

test('nonce: a token for another login (replay) is refused', async () => {
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-2' }), expect()), refused(/nonce/));
  await assert.rejects(verify(await issuer.idToken({}), expect()), refused(/nonce/));
});

test('max_age: auth_time must be present and recent enough', async () => {
  await assert.rejects(verify(await issuer.idToken({ nonce: 'n-1' }), expect({ maxAge: 300 })), refused(/auth_time missing/));
  await assert.rejects(
    verify(await issuer.idToken({ nonce: 'n-1', auth_time: nowSeconds() - 3600 }), expect({ maxAge: 300 })),
    refused(/max_age/),
  );
  assert.ok(await verify(await issuer.idToken({ nonce: 'n-1', auth_time: nowSeconds() - 100 }), expect({ maxAge: 300 })));
});

test('on refresh the user must stay the same', async () => {
  await assert.rejects(
    verify(await issuer.idToken({ sub: 'auth0|someone-else' }), expect({ nonce: undefined, sub: 'auth0|user1' })),
    refused(/another user/),
  );
});
