import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { federatedLogoutUrl, type UpstreamContext, upstreamIdTokenContext } from '../src/connections/upstream.js';
import { Encrypter, MasterKey } from '../src/crypto/encryption.js';
import type { Connection } from '../src/domain/types.js';
import type { Storage } from '../src/storage/types.js';

/**
 * Where federated logout goes, from each provider's discovery document: its end_session_endpoint
 * when it names a usable one; otherwise nowhere, so logout from latchkey goes on regardless.
 */
let provider: Server;
let base: string;
const endSessionByPath: Record<string, unknown> = {
  good: undefined, // filled in with this server's own URL
  malformed: 'not a url',
  script: 'javascript:alert(1)',
  number: 42,
  missing: undefined,
};

before(async () => {
  provider = createServer((request, response) => {
    const name = request.url!.split('/')[1]!;
    const discovery: Record<string, unknown> = {
      issuer: `${base}/${name}`,
      authorization_endpoint: `${base}/${name}/auth`,
      token_endpoint: `${base}/${name}/token`,
      jwks_uri: `${base}/${name}/jwks`,
    };
    const endSession = name === 'good' ? `${base}/good/session/end?keep=1` : endSessionByPath[name];
    if (endSession !== undefined) discovery.end_session_endpoint = endSession;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(discovery));
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
});
after(() => provider.close());

const secrets = new Encrypter(MasterKey.generate(), 'upstream secrets');
const logged: string[] = [];
const ctx: UpstreamContext = {
  issuer: 'https://latchkey.example.test/',
  storage: undefined as unknown as Storage,
  secrets,
  now: Date.now,
  log: (message) => logged.push(message),
};
const connection = (name: string, strategy: 'oidc' | 'oauth2' = 'oidc'): Connection =>
  ({
    id: `con_${name}`,
    name,
    strategy,
    options: { discovery_url: `${base}/${name}/.well-known/openid-configuration`, client_id: 'upstream-client' },
  }) as unknown as Connection;

test('a usable end_session_endpoint gets the client_id, the sealed id_token as hint, the return URL and state', async () => {
  const session = {
    userId: 'oidc|good|u1',
    upstreamIdToken: secrets.encrypt('header.payload.signature', upstreamIdTokenContext('oidc|good|u1')),
  };
  const url = new URL(
    (await federatedLogoutUrl(ctx, connection('good'), session, { postLogoutRedirectUri: 'https://app.example.test/bye', state: 's1' }))!,
  );
  assert.equal(`${url.origin}${url.pathname}`, `${base}/good/session/end`);
  assert.equal(url.searchParams.get('keep'), '1', "the endpoint's own query is kept");
  assert.equal(url.searchParams.get('client_id'), 'upstream-client');
  assert.equal(url.searchParams.get('id_token_hint'), 'header.payload.signature');
  assert.equal(url.searchParams.get('post_logout_redirect_uri'), 'https://app.example.test/bye');
  assert.equal(url.searchParams.get('state'), 's1');
});

test('a hint sealed for another user is not sent; no return URL means no state either', async () => {
  const session = {
    userId: 'oidc|good|u2',
    upstreamIdToken: secrets.encrypt('someone.else.token', upstreamIdTokenContext('oidc|good|u1')),
  };
  const url = new URL((await federatedLogoutUrl(ctx, connection('good'), session, { state: 'ignored' }))!);
  assert.equal(url.searchParams.has('id_token_hint'), false);
  assert.equal(url.searchParams.has('post_logout_redirect_uri'), false);
  assert.equal(url.searchParams.has('state'), false);
});

test('no usable endpoint, no discovery, or an OAuth2 connection: no federated step, and no exception', async () => {
  const session = { userId: 'oidc|x|u' };
  for (const name of ['malformed', 'script', 'number', 'missing']) {
    assert.equal(await federatedLogoutUrl(ctx, connection(name), session, {}), undefined, name);
  }
  assert.equal(await federatedLogoutUrl(ctx, connection('good', 'oauth2'), session, {}), undefined);
  const unreachable = {
    ...connection('gone'),
    options: { discovery_url: 'http://127.0.0.1:9/.well-known/openid-configuration', client_id: 'c' },
  } as unknown as Connection;
  assert.equal(await federatedLogoutUrl(ctx, unreachable, session, {}), undefined);
  assert.ok(logged.includes('federated logout skipped'));
});
