/**
 * Hundreds of malformed requests, generated from tables over every route of the Management API and
 * the token endpoint: each must get a 4xx (never a 5xx) in its endpoint's own error shape, with no
 * stack trace or SQL in it, and the server must keep serving afterwards.
 *
 *   /api/v2/*     → {statusCode, error, message, errorCode}   (Auth0's Management API errors)
 *   /oauth/token  → {error, error_description}                 (RFC 6749 §5.2)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { startTestServer, type TestServer } from './helpers/server.js';

/** One malformed request and the answer it must get. */
interface Case {
  name: string;
  method: string;
  /** Under the issuer, e.g. `api/v2/clients` or `oauth/token`; sent as is (no re-encoding). */
  path: string;
  /** The Authorization header; `undefined` = the admin token on /api/v2 and none on /oauth/token; `null` = none. */
  authorization?: string | null;
  contentType?: string;
  body?: string | (() => ReadableStream<Uint8Array>);
  status: number;
  /** The `errorCode` (/api/v2) or `error` (/oauth/token) the body must carry, when the route defines one. */
  code?: string;
}

interface Fixtures {
  tokens: {
    admin: string;
    readClients: string;
    readTenantSettings: string;
    /** A valid token of ours, but for another API. */
    otherAudience: string;
  };
  adminClientId: string;
  adminSecret: string;
  /** A first-party web client allowed the code, refresh and password-realm grants. */
  web: { id: string; secret: string };
  /** A machine client granted `read:things` on `apiIdentifier`. */
  machine: { id: string; secret: string };
  apiId: string;
  apiIdentifier: string;
  managementApiId: string;
  grantId: string;
  adminGrantId: string;
  connectionId: string;
  userId: string;
  userEmail: string;
  roleId: string;
  /** Tokens signed wrongly in various ways, by name. */
  forged: Record<string, string>;
}

let server: TestServer;
let f: Fixtures;
let requestsSent = 0;

const BODY_LIMIT_EXCEEDED = 2 * 1024 * 1024;
/** `{"a":{"a":...}}` nested deeper than any real metadata, but well inside the body limit. */
const deeplyNested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** Stands for a value nested 5000 deep: too deep for JSON.stringify here, so spliced into the text. */
const DEEP = '<nested 5000 deep>';
const json = (value: unknown) => ({
  contentType: 'application/json',
  body: JSON.stringify(value).replaceAll(JSON.stringify(DEEP), deeplyNested(5000)),
});
const form = (value: Record<string, string>) => ({
  contentType: 'application/x-www-form-urlencoded',
  body: new URLSearchParams(value).toString(),
});
const hugeJson = () => `{"name":"${'x'.repeat(BODY_LIMIT_EXCEEDED)}"}`;
/** A body larger than any limit, streamed in chunks without a Content-Length. */
const chunkedHugeBody = () => {
  let sent = 0;
  const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= BODY_LIMIT_EXCEEDED) return controller.close();
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
};

before(async () => {
  server = await startTestServer();
  const admin = await server.managementToken();
  const ok = async (method: string, path: string, body?: unknown) => {
    const response = await server.management(method, path, body, admin);
    assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  };
  const api = await ok('POST', '/resource-servers', {
    name: 'Malformed API',
    identifier: 'https://malformed.example/',
    scopes: [{ value: 'read:things' }],
  });
  const web = await ok('POST', '/clients', {
    name: 'Malformed web',
    app_type: 'regular_web',
    callbacks: ['https://web.example/callback'],
    grant_types: ['authorization_code', 'refresh_token', 'http://auth0.com/oauth/grant-type/password-realm'],
  });
  const machine = await ok('POST', '/clients', { name: 'Malformed machine', app_type: 'non_interactive' });
  const grant = await ok('POST', '/client-grants', { client_id: machine.client_id, audience: api.identifier, scope: ['read:things'] });
  // Brute-force protection off, so wrong passwords below get invalid_grant rather than a lock-out.
  const connection = await ok('POST', '/connections', {
    name: 'malformed-db',
    strategy: 'auth0',
    options: { brute_force_protection: false },
    enabled_clients: [web.client_id],
  });
  const user = await ok('POST', '/users', { connection: 'malformed-db', email: 'mal@example.com', password: 'Correct-Horse-Battery-9' });
  const role = await ok('POST', '/roles', { name: 'Malformed role' });
  const grants = (await ok('GET', `/client-grants?client_id=${server.admin.clientId}`)) as Array<{ id: string }>;
  const apis = (await ok('GET', '/resource-servers')) as Array<{ id: string; identifier: string }>;

  const otherAudience = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: machine.client_id,
      client_secret: machine.client_secret,
      audience: api.identifier,
    }),
  }).then((r) => r.json() as Promise<{ access_token: string }>);

  f = {
    tokens: {
      admin,
      readClients: await server.managementToken('read:clients'),
      readTenantSettings: await server.managementToken('read:tenant_settings'),
      otherAudience: otherAudience.access_token,
    },
    adminClientId: server.admin.clientId,
    adminSecret: server.admin.clientSecret,
    web: { id: web.client_id, secret: web.client_secret },
    machine: { id: machine.client_id, secret: machine.client_secret },
    apiId: api.id,
    apiIdentifier: api.identifier,
    managementApiId: apis.find((a) => a.identifier === `${server.issuer}api/v2/`)!.id,
    grantId: grant.id,
    adminGrantId: grants[0]!.id,
    connectionId: connection.id,
    userId: user.user_id,
    userEmail: user.email,
    roleId: role.id,
    forged: await forgedTokens(admin),
  };
});
after(() => server.close());

/**
 * Management API tokens that must all be refused with 401. Each carries exactly the scopes the
 * targets in forgedTokenCases need, so a guard that let one through would answer 2xx, not 403.
 */
async function forgedTokens(admin: string): Promise<Record<string, string>> {
  const { kid, privateKey } = await server.ctx.keys.current();
  const now = Math.floor(Date.now() / 1000);
  const claims = { scope: 'read:clients create:users delete:connections', sub: `${server.admin.clientId}@clients` };
  const sign = (payload: object, header: object = { alg: 'RS256', kid }, key: Parameters<SignJWT['sign']>[0] = privateKey) =>
    new SignJWT({ ...claims, ...payload })
      .setProtectedHeader(header as { alg: string })
      .setIssuedAt(now - 60)
      .sign(key);
  const valid = { iss: server.issuer, aud: `${server.issuer}api/v2/`, exp: now + 600 };
  const stranger = await generateKeyPair('RS256');
  const [head, payload, signature] = admin.split('.') as [string, string, string];
  const widened = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), scope: 'everything' }),
  ).toString('base64url');
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return {
    expired: await sign({ ...valid, exp: now - 3600 }),
    'wrong issuer': await sign({ ...valid, iss: 'https://evil.example/' }),
    'wrong audience': await sign({ ...valid, aud: 'https://malformed.example/' }),
    'unknown kid': await sign(valid, { alg: 'RS256', kid: 'no-such-key' }),
    'no kid': await sign(valid, { alg: 'RS256' }),
    "a stranger's key under our kid": await sign(valid, { alg: 'RS256', kid }, stranger.privateKey),
    'HS256 with a guessable secret': await sign(valid, { alg: 'HS256', kid }, new TextEncoder().encode('secret')),
    'alg none': `${b64({ alg: 'none', kid })}.${b64({ ...claims, ...valid })}.`,
    'payload edited after signing': `${head}.${widened}.${signature}`,
    'signature cut off': `${head}.${payload}.`,
    'not base64': `${head}.!!!.${signature}`,
  };
}

/** Every Management API route, with a body it would accept, so only the malformation under test is wrong. */
interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  scope: string;
  validBody?: unknown;
}

function managementRoutes(): Route[] {
  return [
    { method: 'GET', path: 'clients', scope: 'read:clients' },
    { method: 'POST', path: 'clients', scope: 'create:clients', validBody: { name: 'x' } },
    { method: 'GET', path: `clients/${f.web.id}`, scope: 'read:clients' },
    { method: 'PATCH', path: `clients/${f.web.id}`, scope: 'update:clients', validBody: { name: 'y' } },
    { method: 'DELETE', path: `clients/${f.web.id}`, scope: 'delete:clients' },
    { method: 'POST', path: `clients/${f.web.id}/rotate-secret`, scope: 'update:clients' },
    { method: 'GET', path: 'resource-servers', scope: 'read:resource_servers' },
    { method: 'POST', path: 'resource-servers', scope: 'create:resource_servers', validBody: { identifier: 'https://x.example/' } },
    { method: 'GET', path: `resource-servers/${f.apiId}`, scope: 'read:resource_servers' },
    { method: 'PATCH', path: `resource-servers/${f.apiId}`, scope: 'update:resource_servers', validBody: { name: 'y' } },
    { method: 'DELETE', path: `resource-servers/${f.apiId}`, scope: 'delete:resource_servers' },
    { method: 'GET', path: 'client-grants', scope: 'read:client_grants' },
    {
      method: 'POST',
      path: 'client-grants',
      scope: 'create:client_grants',
      validBody: { client_id: f.web.id, audience: f.apiIdentifier, scope: [] },
    },
    { method: 'PATCH', path: `client-grants/${f.grantId}`, scope: 'update:client_grants', validBody: { scope: [] } },
    { method: 'DELETE', path: `client-grants/${f.grantId}`, scope: 'delete:client_grants' },
    { method: 'GET', path: 'connections', scope: 'read:connections' },
    { method: 'POST', path: 'connections', scope: 'create:connections', validBody: { name: 'x-conn', strategy: 'auth0' } },
    { method: 'GET', path: `connections/${f.connectionId}`, scope: 'read:connections' },
    { method: 'PATCH', path: `connections/${f.connectionId}`, scope: 'update:connections', validBody: { display_name: 'y' } },
    { method: 'DELETE', path: `connections/${f.connectionId}`, scope: 'delete:connections' },
    { method: 'GET', path: 'users', scope: 'read:users' },
    {
      method: 'POST',
      path: 'users',
      scope: 'create:users',
      validBody: { connection: 'malformed-db', email: 'x@example.com', password: 'Correct-Horse-Battery-9' },
    },
    { method: 'GET', path: `users/${encodeURIComponent(f.userId)}`, scope: 'read:users' },
    { method: 'PATCH', path: `users/${encodeURIComponent(f.userId)}`, scope: 'update:users', validBody: { name: 'y' } },
    { method: 'DELETE', path: `users/${encodeURIComponent(f.userId)}`, scope: 'delete:users' },
    { method: 'GET', path: 'roles', scope: 'read:roles' },
    { method: 'POST', path: 'roles', scope: 'create:roles', validBody: { name: 'x-role' } },
    { method: 'GET', path: `roles/${f.roleId}`, scope: 'read:roles' },
    { method: 'PATCH', path: `roles/${f.roleId}`, scope: 'update:roles', validBody: { name: 'y-role' } },
    { method: 'DELETE', path: `roles/${f.roleId}`, scope: 'delete:roles' },
    { method: 'GET', path: 'tenants/settings', scope: 'read:tenant_settings' },
    { method: 'PATCH', path: 'tenants/settings', scope: 'update:tenant_settings', validBody: { friendly_name: 'y' } },
  ];
}

const api = (path: string) => `api/v2/${path}`;
const bodyOf = (route: Route) => (route.validBody !== undefined ? json(route.validBody) : {});

/** Missing, garbage and forged credentials on every route: the guard runs before anything else. */
function authCases(): Case[] {
  return managementRoutes().flatMap((route) => {
    const base = { method: route.method, path: api(route.path), ...bodyOf(route) };
    const narrow = route.scope === 'read:tenant_settings' ? f.tokens.readClients : f.tokens.readTenantSettings;
    return [
      { ...base, name: 'no Authorization header', authorization: null, status: 401, code: 'invalid_token' },
      { ...base, name: 'garbage bearer token', authorization: 'Bearer garbage', status: 401, code: 'invalid_token' },
      {
        ...base,
        name: 'Basic instead of Bearer',
        authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
        status: 401,
        code: 'invalid_token',
      },
      { ...base, name: 'Bearer without a token', authorization: 'Bearer', status: 401, code: 'invalid_token' },
      { ...base, name: 'token and junk after it', authorization: `Bearer ${f.tokens.admin} junk`, status: 401, code: 'invalid_token' },
      { ...base, name: 'token for another API', authorization: `Bearer ${f.tokens.otherAudience}`, status: 401, code: 'invalid_token' },
      { ...base, name: `token without ${route.scope}`, authorization: `Bearer ${narrow}`, status: 403, code: 'insufficient_scope' },
    ];
  });
}

function forgedTokenCases(): Case[] {
  const targets: Array<Omit<Case, 'name' | 'status'>> = [
    { method: 'GET', path: api('clients') },
    {
      method: 'POST',
      path: api('users'),
      ...json({ connection: 'malformed-db', email: 'forged@example.com', password: 'Correct-Horse-Battery-9' }),
    },
    { method: 'DELETE', path: api(`connections/${f.connectionId}`) },
  ];
  return targets.flatMap((target) =>
    Object.entries(f.forged).map(([name, token]) => ({
      ...target,
      name: `forged token: ${name}`,
      authorization: `Bearer ${token}`,
      status: 401,
      code: 'invalid_token',
    })),
  );
}

/** Unknown ids, undecodable ids, ids too long for the router, and routes that do not exist. */
function pathCases(): Case[] {
  const unknown: Array<[string, string, string, unknown?]> = [
    ['GET', 'clients/nonexistent', 'inexistent_client'],
    ['PATCH', 'clients/nonexistent', 'inexistent_client', { name: 'y' }],
    ['POST', 'clients/nonexistent/rotate-secret', 'inexistent_client'],
    ['GET', 'resource-servers/nonexistent', 'inexistent_resource_server'],
    ['PATCH', 'resource-servers/nonexistent', 'inexistent_resource_server', { name: 'y' }],
    ['PATCH', 'client-grants/cgr_nonexistent', 'inexistent_client_grant', { scope: [] }],
    ['GET', 'connections/con_nonexistent', 'inexistent_connection'],
    ['PATCH', 'connections/con_nonexistent', 'inexistent_connection', { display_name: 'y' }],
    ['GET', 'users/auth0%7Cnonexistent', 'inexistent_user'],
    ['GET', 'roles/rol_nonexistent', 'inexistent_role'],
    ['PATCH', 'roles/rol_nonexistent', 'inexistent_role', { name: 'y' }],
    ['DELETE', 'roles/rol_nonexistent', 'inexistent_role'],
    ['GET', 'roles/rol_nonexistent/permissions', 'inexistent_role'],
    ['GET', 'roles/rol_nonexistent/users', 'inexistent_role'],
    ['GET', 'users/auth0%7Cnonexistent/roles', 'inexistent_user'],
    ['PATCH', 'users/auth0%7Cnonexistent', 'inexistent_user', { name: 'y' }],
    ['GET', 'users/%2E%2E%2F%2E%2E%2Fclients', 'inexistent_user'],
    ['GET', 'connections/%F0%9F%94%91', 'inexistent_connection'],
  ];
  const idRoutes = managementRoutes().filter((r) => /\/[^/]+$/.test(r.path) && !r.path.startsWith('tenants'));
  const byRoute = idRoutes.flatMap((route) => {
    const collection = route.path.split('/')[0]!;
    const suffix = route.path.endsWith('/rotate-secret') ? '/rotate-secret' : '';
    const base = { method: route.method, ...bodyOf(route) };
    return [
      { ...base, name: 'id with broken percent-encoding', path: api(`${collection}/%ZZ${suffix}`), status: 400, code: 'invalid_uri' },
      {
        ...base,
        name: 'id with a truncated UTF-8 sequence',
        path: api(`${collection}/%E0%A4%A${suffix}`),
        status: 400,
        code: 'invalid_uri',
      },
      {
        ...base,
        name: 'id longer than the router allows',
        path: api(`${collection}/${'x'.repeat(400)}${suffix}`),
        status: 414,
        code: 'invalid_uri',
      },
    ];
  });
  const noSuchRoute: Array<[string, string]> = [
    ['GET', 'nonexistent'],
    ['GET', ''],
    ['PUT', 'clients'],
    ['PUT', `clients/${f.web.id}`],
    ['POST', `users/${encodeURIComponent(f.userId)}`],
    ['GET', `client-grants/${f.grantId}`],
    ['GET', `users/${encodeURIComponent(f.userId)}/organizations`],
    ['DELETE', 'tenants/settings'],
  ];
  return [
    ...unknown.map(([method, path, code, body]) => ({
      name: 'unknown id',
      method,
      path: api(path),
      ...(body !== undefined ? json(body) : {}),
      status: 404,
      code,
    })),
    ...byRoute,
    ...noSuchRoute.map(([method, path]) => ({ name: 'no such route', method, path: api(path), status: 404, code: 'not_found' })),
  ];
}

/** Paging and field-selection parameters of the wrong type, out of range, repeated or unknown. */
function queryCases(): Case[] {
  const lists = ['clients', 'resource-servers', 'client-grants', 'connections', 'users'];
  const badPaging = [
    'per_page=abc',
    'per_page=1000',
    'per_page=0',
    'per_page=-1',
    'per_page=1.5',
    'per_page=',
    'per_page=1&per_page=2',
    'page=-1',
    'page=abc',
    'page=99999999999',
    'include_totals=maybe',
    'take=0',
    'take=1000',
    'take=abc',
    'from=not-a-checkpoint',
    `from=${'x'.repeat(600)}`,
    `from=${Buffer.from('{"a":1}').toString('base64url')}`,
    'bogus=1',
  ];
  const byId = [
    `clients/${f.web.id}`,
    `resource-servers/${f.apiId}`,
    `connections/${f.connectionId}`,
    `users/${encodeURIComponent(f.userId)}`,
    'tenants/settings',
  ];
  const badFields = ['include_fields=maybe', 'fields=a&fields=b', `fields=${'a,'.repeat(600)}`, 'bogus=1'];
  return [
    ...lists.flatMap((list) =>
      badPaging.map((query) => ({
        name: `bad query ${query.slice(0, 30)}`,
        method: 'GET',
        path: api(`${list}?${query}`),
        status: 400,
        code: 'invalid_query_string',
      })),
    ),
    ...byId.flatMap((path) =>
      badFields.map((query) => ({
        name: `bad query ${query.slice(0, 30)}`,
        method: 'GET',
        path: api(`${path}?${query}`),
        status: 400,
        code: 'invalid_query_string',
      })),
    ),
  ];
}

/** Bodies that are not JSON objects at all, too big, of the wrong media type, or poisoned. */
function bodyFormatCases(): Case[] {
  return managementRoutes()
    .filter((route) => route.validBody !== undefined)
    .flatMap((route) => {
      const base = { method: route.method, path: api(route.path) };
      return [
        { ...base, name: 'invalid JSON', contentType: 'application/json', body: '{"name":', status: 400, code: 'invalid_body' },
        { ...base, name: 'empty JSON body', contentType: 'application/json', body: '', status: 400, code: 'invalid_body' },
        { ...base, name: 'JSON array', ...json([route.validBody]), status: 400, code: 'invalid_body' },
        { ...base, name: 'JSON string', ...json('name'), status: 400, code: 'invalid_body' },
        { ...base, name: 'JSON null', ...json(null), status: 400, code: 'invalid_body' },
        { ...base, name: 'JSON number', ...json(42), status: 400, code: 'invalid_body' },
        { ...base, name: 'unknown field', ...json({ ...(route.validBody as object), bogus: true }), status: 400, code: 'invalid_body' },
        { ...base, name: 'body over the limit', contentType: 'application/json', body: hugeJson(), status: 413, code: 'payload_too_large' },
        {
          ...base,
          name: 'body over the limit, chunked',
          contentType: 'application/json',
          body: chunkedHugeBody,
          status: 413,
          code: 'payload_too_large',
        },
        { ...base, name: 'XML', contentType: 'application/xml', body: '<name>x</name>', status: 415, code: 'unsupported_media_type' },
        {
          ...base,
          name: 'multipart form',
          contentType: 'multipart/form-data; boundary=x',
          body: '--x\r\n\r\nname\r\n--x--',
          status: 415,
          code: 'unsupported_media_type',
        },
        // Fastify parses text/plain as a string, which the object schema then refuses.
        {
          ...base,
          name: 'JSON sent as text/plain',
          contentType: 'text/plain',
          body: JSON.stringify(route.validBody),
          status: 400,
          code: 'invalid_body',
        },
        { ...base, name: 'form with an unknown field', ...form({ bogus: '1' }), status: 400, code: 'invalid_body' },
        {
          ...base,
          name: '__proto__ key',
          contentType: 'application/json',
          body: '{"__proto__":{"admin":true}}',
          status: 400,
          code: 'invalid_body',
        },
        {
          ...base,
          name: 'constructor.prototype key',
          contentType: 'application/json',
          body: '{"constructor":{"prototype":{"admin":true}}}',
          status: 400,
          code: 'invalid_body',
        },
        {
          ...base,
          name: 'nesting 5000 deep',
          contentType: 'application/json',
          body: `{"bogus":${deeplyNested(5000)}}`,
          status: 400,
          code: 'invalid_body',
        },
      ];
    });
}

/** Well-formed JSON objects with wrong types, wrong values or fields a route does not take. */
function fieldCases(): Case[] {
  const table: Array<[method: string, path: string, bodies: Array<[name: string, body: unknown, status?: number, code?: string]>]> = [
    [
      'POST',
      'clients',
      [
        ['no name', {}],
        ['name a number', { name: 123 }],
        ['name empty', { name: '' }],
        ['name too long', { name: 'x'.repeat(129) }],
        ['unknown app_type', { name: 'x', app_type: 'desktop' }],
        ['callbacks a string', { name: 'x', callbacks: 'https://a.example/cb' }],
        ['callbacks of numbers', { name: 'x', callbacks: [1] }],
        ['callback not a URL', { name: 'x', callbacks: ['not a url'] }],
        ['unknown grant type', { name: 'x', grant_types: ['magic'] }],
        ['repeated grant type', { name: 'x', grant_types: ['password', 'password'] }],
        ['unknown auth method', { name: 'x', token_endpoint_auth_method: 'private_key_jwt' }],
        ['public client with client_credentials', { name: 'x', token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] }],
        ['is_first_party a string', { name: 'x', is_first_party: 'yes' }],
        ['jwt alg HS256', { name: 'x', jwt_configuration: { alg: 'HS256' } }],
        ['jwt lifetime 0', { name: 'x', jwt_configuration: { lifetime_in_seconds: 0 } }],
        ['unknown refresh rotation', { name: 'x', refresh_token: { rotation_type: 'sometimes' } }],
        ['refresh leeway a string', { name: 'x', refresh_token: { leeway: '0' } }],
        ['client_metadata with a number', { name: 'x', client_metadata: { a: 1 } }],
        ['client_secret too short', { name: 'x', client_secret: 'short' }],
        ['client_id chosen by the caller', { name: 'x', client_id: 'mine' }],
      ],
    ],
    [
      'PATCH',
      `clients/${f.web.id}`,
      [
        ['name null', { name: null }],
        ['is_first_party a number', { is_first_party: 1 }],
        ['callbacks an object', { callbacks: {} }],
        ['web origin too long', { web_origins: [`https://${'x'.repeat(3000)}.example`] }],
      ],
    ],
    [
      'PATCH',
      `clients/${f.adminClientId}`,
      [['admin client changing its grants', { grant_types: ['password'] }, 403, 'operation_not_supported']],
    ],
    [
      'POST',
      'resource-servers',
      [
        ['no identifier', { name: 'x' }],
        ['identifier a number', { identifier: 1 }],
        ['identifier empty', { identifier: '' }],
        ['scopes a string', { identifier: 'https://x.example/', scopes: 'read' }],
        ['scope value empty', { identifier: 'https://x.example/', scopes: [{ value: '' }] }],
        ['scope with unknown field', { identifier: 'https://x.example/', scopes: [{ value: 'a', extra: 1 }] }],
        ['scope repeated', { identifier: 'https://x.example/', scopes: [{ value: 'a' }, { value: 'a' }] }],
        ['scope with a space', { identifier: 'https://x.example/', scopes: [{ value: 'read things' }] }],
        ['signing_alg HS256', { identifier: 'https://x.example/', signing_alg: 'HS256' }],
        ['token_lifetime 0', { identifier: 'https://x.example/', token_lifetime: 0 }],
        ['token_lifetime fractional', { identifier: 'https://x.example/', token_lifetime: 1.5 }],
        ['unknown token_dialect', { identifier: 'https://x.example/', token_dialect: 'jwt' }],
        ['allow_offline_access a string', { identifier: 'https://x.example/', allow_offline_access: 'true' }],
        ['identifier already taken', { identifier: 'https://malformed.example/' }, 409],
      ],
    ],
    [
      'PATCH',
      `resource-servers/${f.apiId}`,
      [
        ['identifier changed', { identifier: 'https://other.example/' }],
        ['token_lifetime negative', { token_lifetime: -5 }],
      ],
    ],
    [
      'PATCH',
      `resource-servers/${f.managementApiId}`,
      [['the Management API itself', { name: 'mine now' }, 403, 'operation_not_supported']],
    ],
    [
      'POST',
      'client-grants',
      [
        ['empty', {}],
        ['no scope', { client_id: f.web.id, audience: f.apiIdentifier }],
        ['scope a string', { client_id: f.web.id, audience: f.apiIdentifier, scope: 'read:things' }],
        ['client_id null', { client_id: null, audience: f.apiIdentifier, scope: [] }],
        ['audience an array', { client_id: f.web.id, audience: [f.apiIdentifier], scope: [] }],
        ['unknown client', { client_id: 'nonexistent', audience: f.apiIdentifier, scope: [] }, 404, 'inexistent_client'],
        ['unknown audience', { client_id: f.web.id, audience: 'https://nowhere.example/', scope: [] }, 404, 'inexistent_resource_server'],
        ['scope the API does not define', { client_id: f.web.id, audience: f.apiIdentifier, scope: ['launch:missiles'] }],
        ['grant that exists already', { client_id: f.machine.id, audience: f.apiIdentifier, scope: [] }, 409],
      ],
    ],
    [
      'PATCH',
      `client-grants/${f.grantId}`,
      [
        ['scope of numbers', { scope: [1] }],
        ['client_id changed', { client_id: f.web.id }],
        ['scope the API does not define', { scope: ['launch:missiles'] }],
      ],
    ],
    ['PATCH', `client-grants/${f.adminGrantId}`, [['the admin grant', { scope: [] }, 403, 'operation_not_supported']]],
    [
      'POST',
      'connections',
      [
        ['name with spaces', { name: 'bad name!', strategy: 'auth0' }],
        ['name starting with a dash', { name: '-db', strategy: 'auth0' }],
        ['strategy oauth2 (not creatable here)', { name: 'db2', strategy: 'oauth2' }],
        ['no strategy', { name: 'db2' }],
        ['options a string', { name: 'db2', strategy: 'auth0', options: 'x' }],
        ['options an array', { name: 'db2', strategy: 'auth0', options: [] }],
        ['enabled_clients a string', { name: 'db2', strategy: 'auth0', enabled_clients: 'abc' }],
        ['enabled client that does not exist', { name: 'db2', strategy: 'auth0', enabled_clients: ['nonexistent'] }],
        ['eleven realms', { name: 'db2', strategy: 'auth0', realms: Array.from({ length: 11 }, (_, i) => `r${i}`) }],
        ['is_domain_connection a number', { name: 'db2', strategy: 'auth0', is_domain_connection: 1 }],
        ['metadata with an object value', { name: 'db2', strategy: 'auth0', metadata: { a: {} } }],
        ['options nested 5000 deep', { name: 'db2', strategy: 'auth0', options: DEEP }],
        ['name taken', { name: 'Username-Password-Authentication', strategy: 'auth0' }, 409, 'connection_exists'],
      ],
    ],
    [
      'PATCH',
      `connections/${f.connectionId}`,
      [
        ['name changed', { name: 'renamed' }],
        ['strategy sent', { strategy: 'auth0' }],
        ['options null', { options: null }],
        ['enabled client that does not exist', { enabled_clients: ['nonexistent'] }],
        ['options nested 5000 deep', { options: DEEP }],
      ],
    ],
    [
      'POST',
      'users',
      [
        ['no connection', { email: 'x@example.com', password: 'Correct-Horse-Battery-9' }],
        [
          'unknown connection',
          { connection: 'nope', email: 'x@example.com', password: 'Correct-Horse-Battery-9' },
          400,
          'inexistent_connection',
        ],
        ['no email', { connection: 'malformed-db', password: 'Correct-Horse-Battery-9' }],
        ['email not an address', { connection: 'malformed-db', email: 'not-an-email', password: 'Correct-Horse-Battery-9' }],
        ['email a number', { connection: 'malformed-db', email: 5, password: 'Correct-Horse-Battery-9' }],
        ['no password', { connection: 'malformed-db', email: 'x@example.com' }],
        ['password empty', { connection: 'malformed-db', email: 'x@example.com', password: '' }],
        ['password too weak', { connection: 'malformed-db', email: 'x@example.com', password: 'a' }, 400, 'password_strength_error'],
        ['blocked a string', { connection: 'malformed-db', email: 'x@example.com', password: 'Correct-Horse-Battery-9', blocked: 'true' }],
        [
          'app_metadata a string',
          { connection: 'malformed-db', email: 'x@example.com', password: 'Correct-Horse-Battery-9', app_metadata: 'x' },
        ],
        [
          'user_id with a pipe',
          { connection: 'malformed-db', email: 'x@example.com', password: 'Correct-Horse-Battery-9', user_id: 'auth0|x' },
        ],
        [
          'username with a space',
          { connection: 'malformed-db', email: 'x@example.com', password: 'Correct-Horse-Battery-9', username: 'a b' },
        ],
        [
          'user_metadata nested 5000 deep',
          { connection: 'malformed-db', email: 'x@example.com', password: 'Correct-Horse-Battery-9', user_metadata: DEEP },
        ],
        [
          'email taken',
          { connection: 'malformed-db', email: 'mal@example.com', password: 'Correct-Horse-Battery-9' },
          409,
          'auth0_idp_error',
        ],
      ],
    ],
    [
      'PATCH',
      `users/${encodeURIComponent(f.userId)}`,
      [
        ['email not an address', { email: 'bad' }],
        ['blocked a string', { blocked: 'no' }],
        ['user_metadata an array', { user_metadata: [] }],
        ['app_metadata a number', { app_metadata: 5 }],
        ['password too weak', { password: 'a' }, 400, 'password_strength_error'],
        ['user_id sent', { user_id: 'other' }],
        ['app_metadata nested 5000 deep', { app_metadata: DEEP }],
      ],
    ],
    [
      'PATCH',
      'tenants/settings',
      [
        ['friendly_name empty', { friendly_name: '' }],
        ['flag name with spaces', { flags: { 'BAD FLAG': true } }],
        ['flag a string', { flags: { enable_dynamic_client_registration: 'yes' } }],
        ['session_lifetime 0', { session_lifetime: 0 }],
        ['session_lifetime a string', { session_lifetime: '1' }],
        ['support_email a number', { support_email: 5 }],
        ['allowed_logout_urls a string', { allowed_logout_urls: 'https://a.example/' }],
      ],
    ],
  ];
  return table.flatMap(([method, path, bodies]) =>
    bodies.map(([name, body, status = 400, code = status === 400 ? 'invalid_body' : undefined]) => ({
      name,
      method,
      path: api(path),
      ...json(body),
      status,
      ...(code ? { code } : {}),
    })),
  );
}

/** Things the API refuses to do to the resources the tenant needs, however well-formed. */
function protectedResourceCases(): Case[] {
  return [
    {
      name: 'delete the admin client',
      method: 'DELETE',
      path: api(`clients/${f.adminClientId}`),
      status: 403,
      code: 'operation_not_supported',
    },
    {
      name: 'delete the Management API',
      method: 'DELETE',
      path: api(`resource-servers/${f.managementApiId}`),
      status: 403,
      code: 'operation_not_supported',
    },
    {
      name: 'delete the admin grant',
      method: 'DELETE',
      path: api(`client-grants/${f.adminGrantId}`),
      status: 403,
      code: 'operation_not_supported',
    },
  ];
}

/**
 * NUL characters in ids, filters, checkpoints, bodies and credentials. PostgreSQL refuses NUL in text,
 * so unless they are stopped at the edge they reach a query and come back as 500s.
 */
function nulByteCases(): Case[] {
  const nulCheckpoint = Buffer.from(JSON.stringify(['\u0000', '\u0000'])).toString('base64url');
  const password = 'Correct-Horse-Battery-9';
  const web = { client_id: f.web.id, client_secret: f.web.secret };
  const oauth = (
    name: string,
    body: { contentType: string; body: string },
    status = 400,
    code = 'invalid_request',
    authorization?: string,
  ) => ({
    name,
    method: 'POST',
    path: 'oauth/token',
    ...body,
    status,
    code,
    ...(authorization ? { authorization } : {}),
  });
  return [
    { name: 'NUL in a user id', method: 'GET', path: api('users/auth0%7C%00'), status: 400, code: 'invalid_uri' },
    { name: 'NUL alone as a client id', method: 'GET', path: api('clients/%00'), status: 400, code: 'invalid_uri' },
    { name: 'NUL in a client id', method: 'PATCH', path: api('clients/a%00b'), ...json({ name: 'y' }), status: 400, code: 'invalid_uri' },
    { name: 'NUL in a connection id', method: 'DELETE', path: api('connections/con_%00'), status: 400, code: 'invalid_uri' },
    { name: 'NUL in a name filter', method: 'GET', path: api('connections?name=a%00b'), status: 400, code: 'invalid_query_string' },
    {
      name: 'NUL in an audience filter',
      method: 'GET',
      path: api('client-grants?audience=%00'),
      status: 400,
      code: 'invalid_query_string',
    },
    { name: 'NUL inside a checkpoint', method: 'GET', path: api(`users?from=${nulCheckpoint}`), status: 400, code: 'invalid_query_string' },
    {
      name: 'NUL inside a connections checkpoint',
      method: 'GET',
      path: api(`connections?from=${nulCheckpoint}`),
      status: 400,
      code: 'invalid_query_string',
    },
    {
      name: 'NUL in a client name',
      method: 'POST',
      path: api('clients'),
      ...json({ name: 'a\u0000b' }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'NUL in user metadata',
      method: 'PATCH',
      path: api(`users/${encodeURIComponent(f.userId)}`),
      ...json({ user_metadata: { a: 'b\u0000' } }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'NUL in a metadata key',
      method: 'PATCH',
      path: api(`users/${encodeURIComponent(f.userId)}`),
      ...json({ app_metadata: { 'a\u0000': 1 } }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'NUL in a connection name',
      method: 'POST',
      path: api('users'),
      ...json({ connection: 'a\u0000', email: 'x@example.com', password }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'NUL in an email',
      method: 'POST',
      path: api('users'),
      ...json({ connection: 'malformed-db', email: 'x\u0000@example.com', password }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'NUL in a grant audience',
      method: 'POST',
      path: api('client-grants'),
      ...json({ client_id: f.web.id, audience: '\u0000', scope: [] }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'NUL in a tenant setting',
      method: 'PATCH',
      path: api('tenants/settings'),
      ...json({ default_directory: '\u0000' }),
      status: 400,
      code: 'invalid_body',
    },
    oauth(
      'NUL as the client_id (JSON)',
      json({ grant_type: 'client_credentials', client_id: '\u0000', client_secret: 'x', audience: f.apiIdentifier }),
    ),
    oauth('NUL in the client_id (form)', form({ grant_type: 'client_credentials', client_id: 'a\u0000', client_secret: 'x' })),
    oauth(
      'NUL in the audience',
      json({ grant_type: 'client_credentials', client_id: f.machine.id, client_secret: f.machine.secret, audience: '\u0000' }),
    ),
    oauth(
      'NUL in a username',
      json({
        ...web,
        grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
        realm: 'malformed-db',
        username: 'a\u0000@example.com',
        password: 'x',
      }),
    ),
    oauth(
      'NUL in a realm',
      json({ ...web, grant_type: 'http://auth0.com/oauth/grant-type/password-realm', realm: '\u0000', username: f.userEmail, password }),
    ),
    oauth('NUL in a refresh token', json({ ...web, grant_type: 'refresh_token', refresh_token: '\u0000' })),
    oauth('NUL in a code', json({ ...web, grant_type: 'authorization_code', code: '\u0000' })),
    oauth(
      'NUL in Basic credentials',
      form({ grant_type: 'client_credentials', audience: f.apiIdentifier }),
      401,
      'invalid_client',
      `Basic ${Buffer.from('%00:x').toString('base64')}`,
    ),
  ];
}

/** The token endpoint: unreadable bodies, wrong parameter types, bad client authentication, bad grants. */
function tokenEndpointCases(): Case[] {
  const token = (name: string, body: Pick<Case, 'contentType' | 'body'>, status: number, code: string, authorization?: string) => ({
    name,
    method: 'POST',
    path: 'oauth/token',
    ...body,
    status,
    code,
    ...(authorization ? { authorization } : {}),
  });
  const cc = { grant_type: 'client_credentials', client_id: f.machine.id, client_secret: f.machine.secret, audience: f.apiIdentifier };
  const web = { client_id: f.web.id, client_secret: f.web.secret };
  const realm = {
    ...web,
    grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
    realm: 'malformed-db',
    username: f.userEmail,
    password: 'Correct-Horse-Battery-9',
  };
  const basic = (value: string) => `Basic ${Buffer.from(value).toString('base64')}`;
  return [
    { name: 'GET', method: 'GET', path: 'oauth/token', status: 404, code: 'not_found' },
    { name: 'PUT', method: 'PUT', path: 'oauth/token', ...json(cc), status: 404, code: 'not_found' },
    token('no body', { contentType: 'application/json', body: '' }, 400, 'invalid_request'),
    token('invalid JSON', { contentType: 'application/json', body: '{"grant_type":' }, 400, 'invalid_request'),
    token('JSON array', json([cc]), 400, 'invalid_request'),
    token('JSON string', json('client_credentials'), 400, 'invalid_request'),
    token('JSON null', json(null), 400, 'invalid_request'),
    token('empty JSON object', json({}), 400, 'invalid_request'),
    token('empty form', form({}), 400, 'invalid_request'),
    token('XML', { contentType: 'application/xml', body: '<grant_type/>' }, 415, 'invalid_request'),
    token('multipart form', { contentType: 'multipart/form-data; boundary=x', body: '--x--' }, 415, 'invalid_request'),
    token('text/plain', { contentType: 'text/plain', body: 'grant_type=client_credentials' }, 400, 'invalid_request'),
    token('JSON over the limit', { contentType: 'application/json', body: hugeJson() }, 413, 'invalid_request'),
    token('JSON over the limit, chunked', { contentType: 'application/json', body: chunkedHugeBody }, 413, 'invalid_request'),
    token('form over the 64 KiB limit', form({ grant_type: 'client_credentials', scope: 'x'.repeat(100 * 1024) }), 413, 'invalid_request'),
    token(
      '__proto__ key',
      { contentType: 'application/json', body: '{"__proto__":{"grant_type":"client_credentials"}}' },
      400,
      'invalid_request',
    ),
    token(
      'constructor.prototype key',
      { contentType: 'application/json', body: '{"constructor":{"prototype":{}}}' },
      400,
      'invalid_request',
    ),
    token('deeply nested JSON', { contentType: 'application/json', body: `{"grant_type":${deeplyNested(5000)}}` }, 400, 'invalid_request'),
    token('grant_type a number', json({ ...cc, grant_type: 5 }), 400, 'invalid_request'),
    token('grant_type an array', json({ ...cc, grant_type: ['client_credentials'] }), 400, 'invalid_request'),
    token('grant_type an object', json({ ...cc, grant_type: { a: 1 } }), 400, 'invalid_request'),
    token(
      'grant_type repeated',
      { contentType: 'application/x-www-form-urlencoded', body: 'grant_type=client_credentials&grant_type=password' },
      400,
      'invalid_request',
    ),
    token('grant_type empty', json({ ...cc, grant_type: '' }), 400, 'invalid_request'),
    token('no grant_type', json({ client_id: f.machine.id, client_secret: f.machine.secret }), 400, 'invalid_request'),
    token('unknown grant_type', json({ ...cc, grant_type: 'magic' }), 400, 'unsupported_grant_type'),
    token('implicit is no token grant', json({ ...cc, grant_type: 'implicit' }), 400, 'unsupported_grant_type'),
    token('client_secret a number', json({ ...cc, client_secret: 12345 }), 400, 'invalid_request'),
    token('no client_id', json({ grant_type: 'client_credentials', audience: f.apiIdentifier }), 400, 'invalid_request'),
    token('unknown client', json({ ...cc, client_id: 'nonexistent' }), 401, 'invalid_client'),
    token('wrong secret', json({ ...cc, client_secret: 'wrong' }), 401, 'invalid_client'),
    token(
      'confidential client without a secret',
      json({ grant_type: 'client_credentials', client_id: f.machine.id, audience: f.apiIdentifier }),
      401,
      'invalid_client',
    ),
    token('Basic not base64', form({ grant_type: 'client_credentials', audience: f.apiIdentifier }), 401, 'invalid_client', 'Basic !!!'),
    token(
      'Basic without a colon',
      form({ grant_type: 'client_credentials', audience: f.apiIdentifier }),
      401,
      'invalid_client',
      basic('nocolon'),
    ),
    token(
      'Basic with bad percent-encoding',
      form({ grant_type: 'client_credentials', audience: f.apiIdentifier }),
      401,
      'invalid_client',
      basic('%zz:%zz'),
    ),
    token(
      'Basic with a wrong secret',
      form({ grant_type: 'client_credentials', audience: f.apiIdentifier }),
      401,
      'invalid_client',
      basic(`${f.machine.id}:wrong`),
    ),
    token('Basic and a body secret', form(cc), 400, 'invalid_request', basic(`${f.machine.id}:${f.machine.secret}`)),
    token('no audience', json({ ...cc, audience: undefined }), 403, 'access_denied'),
    token('unknown audience', json({ ...cc, audience: 'https://nowhere.example/' }), 403, 'access_denied'),
    token('audience of 60 000 characters', json({ ...cc, audience: 'x'.repeat(60_000) }), 403, 'access_denied'),
    token('scope not granted', json({ ...cc, scope: 'read:things launch:missiles' }), 403, 'access_denied'),
    token('Management API without a grant', json({ ...cc, audience: `${server.issuer}api/v2/` }), 403, 'access_denied'),
    token(
      'grant not allowed for the client',
      json({ ...web, grant_type: 'client_credentials', audience: f.apiIdentifier }),
      403,
      'unauthorized_client',
    ),
    token('code missing', json({ ...web, grant_type: 'authorization_code' }), 400, 'invalid_request'),
    token(
      'code made up',
      json({ ...web, grant_type: 'authorization_code', code: 'made-up', redirect_uri: 'https://web.example/callback' }),
      403,
      'invalid_grant',
    ),
    token('refresh_token missing', json({ ...web, grant_type: 'refresh_token' }), 400, 'invalid_request'),
    token('refresh_token made up', json({ ...web, grant_type: 'refresh_token', refresh_token: 'made-up' }), 403, 'invalid_grant'),
    token('username missing', json({ ...realm, username: undefined }), 400, 'invalid_request'),
    token('password missing', json({ ...realm, password: undefined }), 400, 'invalid_request'),
    token('username an array', json({ ...realm, username: [f.userEmail] }), 400, 'invalid_request'),
    token('wrong password', json({ ...realm, password: 'wrong' }), 403, 'invalid_grant'),
    token('unknown user', json({ ...realm, username: 'nobody@example.com' }), 403, 'invalid_grant'),
    token('unknown realm', json({ ...realm, realm: 'nope' }), 403, 'unauthorized_client'),
    token('realm not enabled for the client', json({ ...realm, realm: 'Username-Password-Authentication' }), 403, 'unauthorized_client'),
    token('password grant not allowed for the client', json({ ...realm, grant_type: 'password' }), 403, 'unauthorized_client'),
    token(
      'password-realm from the admin client',
      json({ ...realm, client_id: f.adminClientId, client_secret: f.adminSecret }),
      403,
      'unauthorized_client',
    ),
  ];
}

/** Sends one case and says what is wrong with the answer, or nothing. */
async function problemWith(c: Case): Promise<string | undefined> {
  requestsSent++;
  const headers: Record<string, string> = {};
  const isManagement = c.path.startsWith('api/v2');
  const authorization = c.authorization === undefined ? (isManagement ? `Bearer ${f.tokens.admin}` : null) : c.authorization;
  if (authorization) headers.authorization = authorization;
  if (c.contentType) headers['content-type'] = c.contentType;
  const streamed = typeof c.body === 'function';
  const response = await fetch(`${server.issuer}${c.path}`, {
    method: c.method,
    headers,
    ...(c.body !== undefined ? { body: typeof c.body === 'function' ? c.body() : c.body } : {}),
    ...(streamed ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  if (response.status !== c.status) return `status ${response.status}, expected ${c.status}: ${text.slice(0, 300)}`;
  if (response.status < 400 || response.status >= 500) return `status ${response.status} is not a 4xx`;
  if (!/^application\/json/.test(response.headers.get('content-type') ?? '')) return `content-type ${response.headers.get('content-type')}`;
  if (/\n\s+at |sqlite|postgres|kysely|syntax error|FST_/i.test(text.replace(/"code":"FST_[A-Z_]+"/, '')))
    return `leaks internals: ${text.slice(0, 300)}`;
  const body = JSON.parse(text) as Record<string, unknown>;
  if (isManagement) {
    if (body.statusCode !== c.status || typeof body.error !== 'string' || typeof body.message !== 'string') {
      return `not {statusCode, error, message}: ${text.slice(0, 300)}`;
    }
    if (body.errorCode !== undefined && typeof body.errorCode !== 'string') return `errorCode not a string: ${text}`;
    if (c.code && body.errorCode !== c.code) return `errorCode ${String(body.errorCode)}, expected ${c.code}`;
  } else {
    if (typeof body.error !== 'string' || typeof body.error_description !== 'string') {
      return `not {error, error_description}: ${text.slice(0, 300)}`;
    }
    if (c.code && body.error !== c.code) return `error ${String(body.error)}, expected ${c.code}`;
  }
  return undefined;
}

const categories: Array<[title: string, cases: () => Case[]]> = [
  ['missing, garbage and under-scoped credentials on every Management route', authCases],
  ['forged Management API tokens', forgedTokenCases],
  ['unknown, undecodable and over-long ids; routes that do not exist', pathCases],
  ['bad paging and field-selection query parameters', queryCases],
  ['bodies that are not JSON objects, too big, of the wrong type or poisoned', bodyFormatCases],
  ['fields of the wrong type or value, unknown fields, conflicts', fieldCases],
  ['operations on the resources the tenant needs', protectedResourceCases],
  ['NUL bytes in ids, filters and bodies', nulByteCases],
  ['malformed token requests', tokenEndpointCases],
];

for (const [title, cases] of categories) {
  test(`${title}: each gets a 4xx in its endpoint's error shape`, async () => {
    const failures: string[] = [];
    const all = cases();
    assert.ok(all.length > 0);
    for (const c of all) {
      const problem = await problemWith(c);
      if (problem) failures.push(`${c.method} /${c.path.slice(0, 90)} [${c.name}]: ${problem}`);
    }
    assert.deepEqual(failures, []);
  });
}

test('after all that, the server still answers and a normal request still works', async (t) => {
  t.diagnostic(`${requestsSent} malformed requests sent`);
  assert.ok(requestsSent >= 200, `only ${requestsSent} malformed requests were sent`);

  const health = await fetch(`${server.issuer}healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });

  const clients = await server.management('GET', '/clients', undefined, f.tokens.admin);
  assert.equal(clients.status, 200);
  const ids = (clients.body as Array<{ client_id: string }>).map((c) => c.client_id);
  assert.ok(ids.includes(f.web.id) && ids.includes(f.adminClientId), 'nothing was deleted by a refused request');
  const user = await server.management('GET', `/users/${encodeURIComponent(f.userId)}`, undefined, f.tokens.admin);
  assert.equal(user.status, 200);
  assert.equal(user.body.name, f.userEmail, 'no refused PATCH changed the user');

  const response = await fetch(`${server.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: f.machine.id,
      client_secret: f.machine.secret,
      audience: f.apiIdentifier,
    }),
  });
  assert.equal(response.status, 200);
  const token = (await response.json()) as { access_token?: string; scope?: string };
  assert.ok(token.access_token);
  assert.equal(token.scope, 'read:things');
});
