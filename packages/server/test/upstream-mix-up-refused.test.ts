import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { authorizeUrl, Browser, pkcePair } from './helpers/http-login.js';
import { decodeHtml } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

/**
 * Mix-up defence and token checks of upstream sign-ins (RFC 9207, RFC 9700 §4.4, OIDC Core
 * §3.1.3.7), against a scripted provider: each scenario is a path prefix of one HTTP server whose
 * answers differ from an honest provider's in one way. A refusal is latchkey's own error page,
 * never a code for the app, never a user.
 */
type Scenario = {
  /** The issuer its discovery document names (default: its own URL). */
  discoveryIssuer?: string;
  advertisesIss?: boolean;
  /** The `iss` of its authorization response: its own issuer, another, or none. */
  callbackIss?: 'own' | 'other' | 'none';
  idToken?: { nonce?: string; aud?: string; iss?: string; foreignKey?: boolean };
};
const scenarios: Record<string, Scenario> = {
  honest: { advertisesIss: true, callbackIss: 'own' },
  'other-iss': { advertisesIss: true, callbackIss: 'other' },
  'other-iss-unadvertised': { advertisesIss: false, callbackIss: 'other' },
  'missing-iss': { advertisesIss: true, callbackIss: 'none' },
  'no-iss-unadvertised': { advertisesIss: false, callbackIss: 'none' },
  'other-discovery-issuer': { discoveryIssuer: 'https://honest-provider.example.test', advertisesIss: true, callbackIss: 'own' },
  'wrong-nonce': { advertisesIss: true, callbackIss: 'own', idToken: { nonce: 'not-the-nonce' } },
  'wrong-aud': { advertisesIss: true, callbackIss: 'own', idToken: { aud: 'another-client' } },
  'wrong-id-token-iss': { advertisesIss: true, callbackIss: 'own', idToken: { iss: 'https://honest-provider.example.test' } },
  'foreign-key': { advertisesIss: true, callbackIss: 'own', idToken: { foreignKey: true } },
};
const CLIENT_ID = 'latchkey-at-provider';
const CALLBACK = 'http://127.0.0.1:4300/callback';

let server: TestServer;
let provider: Server;
let base: string;
let clientId: string;
const keys = await generateKeyPair('RS256');
const foreignKeys = await generateKeyPair('RS256');
let publicJwk: JWK;
/** What the provider's authorization endpoint received, by the code it issued. */
const issued = new Map<string, { scenario: string; nonce: string | null; redirectUri: string; challenge: string | null }>();
/** What its token endpoint received, by code: the custom header and the PKCE verifier. */
const tokenRequests = new Map<string, { header: string | undefined; verifier: string | null }>();

const issuerOf = (name: string) => `${base}/${name}`;

async function body(request: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of request) text += chunk;
  return new URLSearchParams(text);
}

before(async () => {
  publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  provider = createServer(async (request, response) => {
    const url = new URL(request.url!, base);
    const [, name, ...rest] = url.pathname.split('/');
    const scenario = scenarios[name!];
    const path = rest.join('/');
    const json = (value: unknown) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(value));
    };
    if (!scenario) return void response.writeHead(404).end();
    if (path === '.well-known/openid-configuration') {
      return json({
        issuer: scenario.discoveryIssuer ?? issuerOf(name!),
        authorization_endpoint: `${issuerOf(name!)}/auth`,
        token_endpoint: `${issuerOf(name!)}/token`,
        jwks_uri: `${issuerOf(name!)}/jwks`,
        response_types_supported: ['code'],
        id_token_signing_alg_values_supported: ['RS256'],
        authorization_response_iss_parameter_supported: scenario.advertisesIss,
      });
    }
    if (path === 'jwks') return json({ keys: [publicJwk] });
    if (path === 'auth') {
      // Signs in at once, as a provider with a live session would.
      const code = `code-${Math.random().toString(36).slice(2)}`;
      const redirectUri = url.searchParams.get('redirect_uri')!;
      issued.set(code, {
        scenario: name!,
        nonce: url.searchParams.get('nonce'),
        redirectUri,
        challenge: url.searchParams.get('code_challenge'),
      });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state')!);
      if (scenario.callbackIss === 'own') back.searchParams.set('iss', issuerOf(name!));
      if (scenario.callbackIss === 'other') back.searchParams.set('iss', 'https://honest-provider.example.test');
      return void response.writeHead(302, { location: back.href }).end();
    }
    if (path === 'token' && request.method === 'POST') {
      const params = await body(request);
      tokenRequests.set(params.get('code') ?? '', {
        header: request.headers['x-provider-key'] as string | undefined,
        verifier: params.get('code_verifier'),
      });
      const grant = issued.get(params.get('code') ?? '');
      if (!grant || grant.scenario !== name || params.get('redirect_uri') !== grant.redirectUri) {
        response.writeHead(400, { 'content-type': 'application/json' });
        return void response.end(JSON.stringify({ error: 'invalid_grant' }));
      }
      const claims = scenario.idToken ?? {};
      const idToken = await new SignJWT({ nonce: claims.nonce ?? grant.nonce!, email: 'pat@provider.test', email_verified: true })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(claims.iss ?? issuerOf(name!))
        .setSubject('pat')
        .setAudience(claims.aud ?? CLIENT_ID)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(claims.foreignKey ? foreignKeys.privateKey : keys.privateKey);
      return json({ access_token: `at-${params.get('code')}`, token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;

  server = await startTestServer();
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'], { name: 'Mix-up Demo' })).client_id;
  for (const name of Object.keys(scenarios)) {
    const options = {
      client_id: CLIENT_ID,
      client_secret: 'provider-secret',
      discovery_url: `${issuerOf(name)}/.well-known/openid-configuration`,
    };
    const created = await server.management('POST', '/connections', {
      name: `oidc-${name}`,
      strategy: 'oidc',
      options,
      enabled_clients: [clientId],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  // Configured by issuer alone: discovery at its well-known location.
  const byIssuer = await server.management('POST', '/connections', {
    name: 'oidc-by-issuer',
    strategy: 'oidc',
    options: { client_id: CLIENT_ID, client_secret: 'provider-secret', issuer: issuerOf('honest') },
    enabled_clients: [clientId],
  });
  assert.equal(byIssuer.status, 201, JSON.stringify(byIssuer.body));
  // Custom OAuth2 connections have no discovery; an `issuer` option turns the `iss` check on.
  const profileScript = 'function (accessToken, ctx, cb) { cb(null, { user_id: accessToken.slice(0, 40) }); }';
  for (const [name, issuer] of [
    ['oauth2-checked', issuerOf('other-iss-unadvertised')],
    ['oauth2-unchecked', undefined],
  ] as const) {
    const options = {
      client_id: CLIENT_ID,
      client_secret: 'provider-secret',
      authorizationURL: `${issuerOf('other-iss-unadvertised')}/auth`,
      tokenURL: `${issuerOf('other-iss-unadvertised')}/token`,
      scripts: { fetchUserProfile: profileScript },
      customHeaders: { 'X-Provider-Key': 'key-123' },
      pkce_enabled: true,
      ...(issuer ? { issuer } : {}),
    };
    const created = await server.management('POST', '/connections', { name, strategy: 'oauth2', options, enabled_clients: [clientId] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
});

after(async () => {
  provider?.close();
  await server?.close();
});

/**
 * /authorize?connection=NAME, then the provider's redirect to /login/callback: what latchkey
 * answered there (or at /authorize, when it refused before leaving).
 */
async function signIn(connection: string): Promise<{ response: Response; page: string; browser: Browser; callback?: string }> {
  const browser = new Browser(server.issuer);
  const { challenge } = pkcePair();
  const start = await browser.get(
    authorizeUrl(server.issuer, {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: CALLBACK,
      scope: 'openid profile email',
      state: 'app-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      connection,
    }),
  );
  assert.equal(start.status, 302, await start.text());
  // Through latchkey's own redirects; a refusal before leaving for the provider is latchkey's page.
  let response = start;
  while (response.status === 302 && !response.headers.get('location')!.startsWith(base))
    response = await browser.get(response.headers.get('location')!);
  if (response.status !== 302) return { response, page: await response.text(), browser };
  const atProvider = await fetch(response.headers.get('location')!, { redirect: 'manual' });
  assert.equal(atProvider.status, 302);
  const callback = atProvider.headers.get('location')!;
  response = await browser.get(callback);
  return { response, page: await response.text(), browser, callback };
}

async function assertRefused(connection: string, reason: RegExp): Promise<void> {
  const { response, page } = await signIn(connection);
  assert.equal(
    response.status,
    400,
    `${connection}: expected the refusal page, got ${response.status} ${response.headers.get('location') ?? ''}`,
  );
  assert.match(response.headers.get('content-type') ?? '', /text\/html/);
  const text = decodeHtml(page);
  assert.match(text, /Sign-in refused/);
  assert.match(text, /no one was signed in/);
  assert.match(text, reason);
  assert.match(text, /invalid_upstream_response/);
}

async function usersOf(connection: string): Promise<number> {
  const all = await server.management('GET', '/users?per_page=100');
  return all.body.filter(
    (u: { user_id: string }) => u.user_id.startsWith(`oidc|${connection}|`) || u.user_id.startsWith(`oauth2|${connection}|`),
  ).length;
}

describe('upstream OIDC sign-in', () => {
  test('an honest provider signs the user in; its iss is checked and passes', async () => {
    const { response } = await signIn('oidc-honest');
    assert.equal(response.status, 302);
    const back = new URL(response.headers.get('location')!);
    assert.equal(back.origin + back.pathname, CALLBACK);
    assert.ok(back.searchParams.get('code'));
    assert.equal(await usersOf('oidc-honest'), 1);
    const byIssuer = await signIn('oidc-by-issuer');
    assert.equal(byIssuer.response.status, 302, byIssuer.page);
    assert.ok(new URL(byIssuer.response.headers.get('location')!).searchParams.get('code'));
  });

  test("a callback carrying another provider's iss is refused (RFC 9207), advertised or not", async () => {
    await assertRefused('oidc-other-iss', /unexpected "iss"/);
    await assertRefused('oidc-other-iss-unadvertised', /unexpected "iss"/);
    assert.equal(await usersOf('oidc-other-iss'), 0);
    assert.equal(await usersOf('oidc-other-iss-unadvertised'), 0);
  });

  test('a callback without iss from a provider that advertises it is refused; from one that does not, accepted', async () => {
    await assertRefused('oidc-missing-iss', /"iss" \(issuer\) missing/);
    const { response } = await signIn('oidc-no-iss-unadvertised');
    assert.equal(response.status, 302);
    assert.ok(new URL(response.headers.get('location')!).searchParams.get('code'));
  });

  test('a discovery document naming another issuer than the configured one is refused before the browser leaves', async () => {
    await assertRefused('oidc-other-discovery-issuer', /issuer/);
    assert.equal(await usersOf('oidc-other-discovery-issuer'), 0);
  });

  test('an id_token with the wrong nonce, audience, issuer or signature is refused', async () => {
    await assertRefused('oidc-wrong-nonce', /nonce/);
    await assertRefused('oidc-wrong-aud', /aud/);
    await assertRefused('oidc-wrong-id-token-iss', /iss/);
    await assertRefused('oidc-foreign-key', /signature/);
    for (const name of ['wrong-nonce', 'wrong-aud', 'wrong-id-token-iss', 'foreign-key'])
      assert.equal(await usersOf(`oidc-${name}`), 0, name);
  });

  test('a refused callback cannot be retried: the transaction is spent', async () => {
    const { browser, response, callback } = await signIn('oidc-wrong-nonce');
    assert.equal(response.status, 400);
    const again = await browser.get(callback!);
    assert.equal(again.status, 400);
    assert.match(await again.text(), /no longer valid/);
  });
});

describe('upstream custom OAuth2 sign-in', () => {
  test('with an issuer configured, a callback carrying another iss is refused; without one it is not checked', async () => {
    await assertRefused('oauth2-checked', /unexpected "iss"/);
    assert.equal(await usersOf('oauth2-checked'), 0);
    const { response, callback } = await signIn('oauth2-unchecked');
    assert.equal(response.status, 302);
    assert.ok(new URL(response.headers.get('location')!).searchParams.get('code'));
    // customHeaders reach the token endpoint; pkce_enabled sends a challenge, then its verifier.
    const code = new URL(callback!).searchParams.get('code')!;
    const sent = tokenRequests.get(code)!;
    assert.equal(sent.header, 'key-123');
    assert.ok(sent.verifier);
    assert.equal(issued.get(code)!.challenge, createHash('sha256').update(sent.verifier).digest('base64url'));
  });
});

describe('upstream connection options', () => {
  test('provider URLs must be https except on loopback; a discovery_url elsewhere than well-known needs an issuer', async () => {
    const create = (name: string, strategy: string, options: Record<string, unknown>) =>
      server.management('POST', '/connections', { name, strategy, options: { client_id: 'c', ...options } });
    const plain = await create('plain-http', 'oidc', { discovery_url: 'http://idp.example.test/.well-known/openid-configuration' });
    assert.equal(plain.status, 400);
    assert.match(plain.body.message, /options\.discovery_url must be an https URL/);
    const oauth2 = await create('plain-oauth2', 'oauth2', {
      authorizationURL: 'http://idp.example.test/auth',
      tokenURL: 'https://idp.example.test/token',
      scripts: { fetchUserProfile: 'function (t, c, cb) { cb(null, { user_id: "x" }); }' },
    });
    assert.equal(oauth2.status, 400);
    assert.match(oauth2.body.message, /options\.authorizationURL must be an https URL/);
    const odd = await create('odd-discovery', 'oidc', { discovery_url: 'https://idp.example.test/oidc/config.json' });
    assert.equal(odd.status, 400);
    assert.match(odd.body.message, /options\.issuer/);
    const named = await create('odd-discovery-named', 'oidc', {
      discovery_url: 'https://idp.example.test/oidc/config.json',
      issuer: 'https://idp.example.test/oidc',
    });
    assert.equal(named.status, 201, JSON.stringify(named.body));
  });
});
