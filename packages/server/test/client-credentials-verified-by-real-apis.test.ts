import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { expressjwt, type GetVerificationKey } from 'express-jwt';
import { auth } from 'express-oauth2-jwt-bearer';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import jwksRsa from 'jwks-rsa';
import { allowInsecureRequests, clientCredentialsGrant, discovery } from 'openid-client';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

/**
 * An M2M token obtained with openid-client, presented to two Express APIs guarded the way Auth0's
 * quickstarts guard them: express-oauth2-jwt-bearer (discovery from the issuer) and express-jwt +
 * jwks-rsa (JWKS URI, issuer and audience given). Both must accept a good token and refuse one
 * that was altered, has expired, or was issued for another API.
 */
const audience = 'https://api.example.test/';
const otherAudience = 'https://other-api.example.test/';

let server: TestServer;
/** Same database, master key (so same signing key) and issuer, but a clock two days behind. */
let laggingServer: TestServer;
let client: { id: string; secret: string };
const apis: Array<{ name: string; url: string; server: Server }> = [];

function listen(app: express.Express): Promise<{ url: string; server: Server }> {
  return new Promise((resolve, reject) => {
    const httpServer = app.listen(0, '127.0.0.1', (err?: Error) => {
      if (err) return reject(err);
      const { port } = httpServer.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/things`, server: httpServer });
    });
  });
}

/** A protected route that echoes the verified claims; a refusal reports its status and reason. */
async function startApi(name: string, guard: RequestHandler, claimsOf: (req: express.Request) => unknown) {
  const app = express();
  app.get('/things', guard, (req, res) => {
    res.json({ claims: claimsOf(req) });
  });
  const onError: ErrorRequestHandler = (err: { status?: number; message?: string }, _req, res, _next) => {
    res.status(err.status ?? 500).json({ message: err.message });
  };
  app.use(onError);
  apis.push({ name, ...(await listen(app)) });
}

async function callApis(token: string): Promise<Array<{ name: string; status: number; body: any }>> {
  return Promise.all(
    apis.map(async ({ name, url }) => {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      return { name, status: response.status, body: await response.json() };
    }),
  );
}

async function m2mToken(issuer: string, options: { audience: string; scope?: string }) {
  const config = await discovery(new URL(issuer), client.id, client.secret, undefined, {
    execute: [allowInsecureRequests],
  });
  const tokens = await clientCredentialsGrant(config, {
    audience: options.audience,
    ...(options.scope !== undefined ? { scope: options.scope } : {}),
  });
  return tokens;
}

before(async () => {
  server = await startTestServer();
  const issuer = server.issuer;

  for (const identifier of [audience, otherAudience]) {
    const api = await server.management('POST', '/resource-servers', {
      name: identifier,
      identifier,
      signing_alg: 'RS256',
      scopes: [{ value: 'read:things' }, { value: 'write:things' }],
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
  }
  const created = await server.management('POST', '/clients', { name: 'things worker', app_type: 'non_interactive' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  client = { id: created.body.client_id, secret: created.body.client_secret };
  for (const aud of [audience, otherAudience]) {
    const grant = await server.management('POST', '/client-grants', {
      client_id: client.id,
      audience: aud,
      scope: ['read:things', 'write:things'],
    });
    assert.equal(grant.status, 201, JSON.stringify(grant.body));
  }

  laggingServer = await startTestServer({
    shareWith: server,
    now: () => Date.now() - 2 * 86400 * 1000,
    config: { issuer },
  });

  // express-oauth2-jwt-bearer fetches discovery over plain http too (refused only when
  // NODE_ENV=production), then takes jwks_uri, issuer and the alg allow-list from it.
  await startApi('express-oauth2-jwt-bearer', auth({ issuerBaseURL: issuer, audience }), (req) => req.auth?.payload);
  await startApi(
    'express-jwt + jwks-rsa',
    expressjwt({
      secret: jwksRsa.expressJwtSecret({ jwksUri: `${issuer}.well-known/jwks.json`, cache: true }) as GetVerificationKey,
      audience,
      issuer,
      algorithms: ['RS256'],
    }),
    (req) => (req as express.Request & { auth?: unknown }).auth,
  );
});

after(async () => {
  for (const api of apis) await new Promise((resolve) => api.server.close(resolve));
  await laggingServer?.close();
  await server?.close();
});

test(`openid-client gets an Auth0-shaped M2M token that both APIs accept (${backend})`, async () => {
  const tokens = await m2mToken(server.issuer, { audience, scope: 'read:things' });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.scope, 'read:things');
  assert.equal(tokens.expires_in, 86400);

  const header = decodeProtectedHeader(tokens.access_token);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.typ, 'JWT');
  const jwks = (await (await fetch(`${server.issuer}.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
  assert.deepEqual(
    jwks.keys.map((k) => k.kid),
    [header.kid],
    'the token names the one published key',
  );

  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims.iss, server.issuer);
  assert.equal(claims.sub, `${client.id}@clients`);
  assert.equal(claims.aud, audience);
  assert.equal(claims.azp, client.id);
  assert.equal(claims.gty, 'client-credentials');
  assert.equal(claims.scope, 'read:things');
  assert.equal(claims.exp! - claims.iat!, 86400);

  for (const result of await callApis(tokens.access_token)) {
    assert.equal(result.status, 200, `${result.name}: ${JSON.stringify(result.body)}`);
    assert.equal(result.body.claims.sub, `${client.id}@clients`, result.name);
    assert.equal(result.body.claims.scope, 'read:things', result.name);
  }

  // Without a scope parameter the token carries every scope of the grant.
  const full = await m2mToken(server.issuer, { audience });
  assert.equal(decodeJwt(full.access_token).scope, 'read:things write:things');
});

test('both APIs refuse a token whose payload or signature was altered', async () => {
  const { access_token: token } = await m2mToken(server.issuer, { audience, scope: 'read:things' });
  const [header, payload, signature] = token.split('.') as [string, string, string];

  // Escalate the scope and re-encode: a well-formed token whose signature no longer matches.
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  claims.scope = 'read:things write:things';
  const escalated = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
  // Flip a character well inside the signature (the last one may only carry padding bits).
  const i = Math.floor(signature.length / 2);
  const flipped = `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;

  for (const [what, tampered] of [
    ['altered payload', escalated],
    ['altered signature', flipped],
  ] as const) {
    for (const result of await callApis(tampered)) {
      assert.equal(result.status, 401, `${result.name}, ${what}: ${JSON.stringify(result.body)}`);
      assert.match(result.body.message, /signature/i, `${result.name}, ${what}`);
    }
  }
});

test('both APIs refuse a token that expired', async () => {
  // The lagging node shares the issuer name, so discovery would lead openid-client to the other
  // node: ask the lagging node's token endpoint directly.
  const response = await fetch(`${laggingServer.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.id,
      client_secret: client.secret,
      audience,
      scope: 'read:things',
    }),
  });
  assert.equal(response.status, 200);
  const { access_token: token } = (await response.json()) as { access_token: string };
  const claims = decodeJwt(token);
  assert.equal(claims.iss, server.issuer);
  assert.ok(claims.exp! < Date.now() / 1000 - 3600, 'minted two days ago with a one-day lifetime');

  // Genuine in every other respect: it verifies against the JWKS at the time it was minted.
  const jwks = createRemoteJWKSet(new URL(`${server.issuer}.well-known/jwks.json`));
  await jwtVerify(token, jwks, { issuer: server.issuer, audience, currentDate: new Date(claims.iat! * 1000) });

  for (const result of await callApis(token)) {
    assert.equal(result.status, 401, `${result.name}: ${JSON.stringify(result.body)}`);
    assert.match(result.body.message, /exp/i, result.name);
  }
});

test('both APIs refuse a token issued for another API', async () => {
  const { access_token: token } = await m2mToken(server.issuer, { audience: otherAudience, scope: 'read:things' });
  assert.equal(decodeJwt(token).aud, otherAudience);
  for (const result of await callApis(token)) {
    assert.equal(result.status, 401, `${result.name}: ${JSON.stringify(result.body)}`);
    assert.match(result.body.message, /aud/i, result.name);
  }
});

test('both APIs refuse a request without a token', async () => {
  for (const { name, url } of apis) {
    const response = await fetch(url);
    assert.equal(response.status, 401, name);
  }
});
