/**
 * Auth0's own configuration tool, auth0-deploy-cli (`a0deploy`), against latchkey with its default
 * configuration (only AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET): a tenant built through
 * the auth0 SDK on server A is exported (YAML and directory formats), imported into a fresh server
 * B, B is compared with A, a second import changes nothing, keyword replacement works, a user signs
 * in to the imported native app with openid-client and calls the imported API, and an import that
 * carries rules or hooks fails with latchkey's one message and leaves B as it was.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManagementClient } from 'auth0';
import express, { type ErrorRequestHandler } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import * as oidc from 'openid-client';
import { connectionSecret } from '../src/domain/upstream-options.js';
import { Browser, signInWithPassword } from './helpers/http-login.js';
import { backend, startTestServer, type TestServer, testCertificates, trustTestCa } from './helpers/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const a0deploy = join(here, '../../../node_modules/auth0-deploy-cli/lib/index.js');
const traceHook = join(here, 'helpers/fetch-trace.cjs');

const API = 'https://orders.example.test/';
const CALLBACK = 'http://127.0.0.1/callback';
const EMAIL = 'ada@example.test';
const PASSWORD = 'correct horse battery staple 42';

let a: TestServer;
let b: TestServer;
let work: string;
let caFile: string;
let api: Server | undefined;

const sdk = (server: TestServer) =>
  new ManagementClient({ domain: new URL(server.issuer).host, clientId: server.admin.clientId, clientSecret: server.admin.clientSecret });

interface Run {
  code: number;
  output: string;
  /** `STATUS METHOD PATH` of every Management API request the tool made. */
  requests: string[];
}

/** Runs a0deploy as a child process with the default configuration for `server`. */
function deploy(server: TestServer, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const trace = join(work, `trace-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(trace, '');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: work,
    AUTH0_DOMAIN: new URL(server.issuer).host,
    AUTH0_CLIENT_ID: server.admin.clientId,
    AUTH0_CLIENT_SECRET: server.admin.clientSecret,
    NODE_EXTRA_CA_CERTS: caFile,
    NODE_OPTIONS: `--require ${traceHook}`,
    LATCHKEY_FETCH_TRACE: trace,
    ...extraEnv,
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [a0deploy, ...args], { env, cwd: work, timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (process.env.KEEP_DEPLOY_WORK) writeFileSync(`${trace}.out`, `${args.join(' ')}\n${stdout}${stderr}`);
      const requests = readFileSync(trace, 'utf8')
        .split('\n')
        .filter((line) => line.includes('/api/v2/'));
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      // deploy-cli compiles its whole file schema (ajv) on every import: slow on a busy machine.
      const killed = err?.killed ? `\n(a0deploy killed by ${err.signal} after the test's timeout)` : '';
      resolve({ code, output: `${stdout}${stderr}${killed}`, requests });
    });
  });
}

const writes = (run: Run) => run.requests.filter((line) => !/^\d+ GET /.test(line));

const withoutKey = (object: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));

/** What a server holds that a deploy carries, keyed by names so two servers compare. */
async function state(server: TestServer) {
  const get = async (path: string) => {
    const response = await server.management('GET', path);
    assert.equal(response.status, 200, `${path}: ${JSON.stringify(response.body)}`);
    return response.body;
  };
  const clients = (await get('/clients?per_page=100&is_global=false')) as Array<Record<string, any>>;
  const nameOf = new Map(clients.map((c) => [c.client_id, c.name]));
  const strip = ({ client_id: _id, ...rest }: Record<string, any>) => rest;
  const apis = ((await get('/resource-servers?per_page=100')) as Array<Record<string, any>>).filter((r) => !r.is_system);
  const grants = ((await get('/client-grants?per_page=100')) as Array<Record<string, any>>).filter((g) => nameOf.has(g.client_id));
  const connections = (await get('/connections?per_page=100')) as Array<Record<string, any>>;
  const roles = (await get('/roles?per_page=100')) as Array<Record<string, any>>;
  const rolePermissions = await Promise.all(
    roles.map(async (r) => ({ name: r.name, description: r.description, permissions: await get(`/roles/${r.id}/permissions`) })),
  );
  const actions = ((await get('/actions/actions?per_page=100')) as { actions: Array<Record<string, any>> }).actions;
  const bindings = ((await get('/actions/triggers/post-login/bindings')) as { bindings: Array<Record<string, any>> }).bindings;
  const { flags, ...tenant } = await get('/tenants/settings');
  return {
    clients: clients.map(strip).sort((x, y) => x.name.localeCompare(y.name)),
    apis: apis.map(({ id: _id, ...rest }) => rest).sort((x, y) => x.name.localeCompare(y.name)),
    grants: grants
      .map((g) => ({ client: nameOf.get(g.client_id), audience: g.audience, scope: [...g.scope].sort() }))
      .sort((x, y) => `${x.client}${x.audience}`.localeCompare(`${y.client}${y.audience}`)),
    connections: connections
      .map<Record<string, any>>(({ id: _id, enabled_clients, options, ...rest }) => ({
        ...rest,
        // deploy-cli's file schema fills this default in (ajv useDefaults): false is what absent means.
        options:
          options?.disable_self_service_change_password === false ? withoutKey(options, 'disable_self_service_change_password') : options,
        enabled_clients: enabled_clients.map((c: string) => nameOf.get(c)).sort(),
      }))
      .sort((x, y) => String(x.name).localeCompare(String(y.name))),
    roles: rolePermissions.sort((x, y) => x.name.localeCompare(y.name)),
    actions: actions
      .map((x) => ({ name: x.name, code: x.code, supported_triggers: x.supported_triggers, deployed: x.all_changes_deployed }))
      .sort((x, y) => x.name.localeCompare(y.name)),
    postLogin: bindings.map((x) => x.action?.name),
    tenant: { ...tenant, flags: { enable_dynamic_client_registration: flags.enable_dynamic_client_registration } },
  };
}

before(async () => {
  trustTestCa();
  work = mkdtempSync(join(tmpdir(), 'latchkey-deploy-cli-'));
  caFile = join(work, 'ca.pem');
  writeFileSync(caFile, testCertificates().ca);
  [a, b] = await Promise.all([startTestServer({ https: true }), startTestServer({ https: true })]);

  // Tenant A, built as an Auth0 tenant would be, through Auth0's Node SDK.
  const m = sdk(a);
  const orders = (
    await m.resourceServers.create({
      name: 'Orders API',
      identifier: API,
      scopes: [
        { value: 'read:orders', description: 'Read orders' },
        { value: 'write:orders', description: 'Place orders' },
      ],
      allow_offline_access: true,
      token_lifetime: 3600,
    })
  ).identifier;
  const mobile = await m.clients.create({
    name: 'Orders Mobile',
    app_type: 'native',
    callbacks: [CALLBACK],
    allowed_logout_urls: ['http://127.0.0.1/signed-out'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
  });
  const worker = await m.clients.create({
    name: 'Orders Worker',
    app_type: 'non_interactive',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_post',
  });
  await m.clientGrants.create({ client_id: worker.client_id!, audience: orders!, scope: ['read:orders'] });
  await m.connections.create({ name: 'orders-customers', strategy: 'auth0', enabled_clients: [mobile.client_id!] });
  await m.connections.create({
    name: 'corp-sso',
    strategy: 'oauth2',
    enabled_clients: [mobile.client_id!],
    options: {
      authorizationURL: 'https://sso.example.test/authorize',
      tokenURL: 'https://sso.example.test/token',
      client_id: 'orders-at-corp',
      client_secret: 'corp-secret-value',
      scope: 'openid profile',
      scripts: { fetchUserProfile: 'function (accessToken, ctx, cb) { cb(null, { user_id: ctx.id_token }); }' },
    },
  });
  await m.tenants.settings.update({ friendly_name: 'Orders Inc', allowed_logout_urls: ['https://orders.example.test/bye'] });
  const action = await m.actions.create({
    name: 'Orders roles claim',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code:
      'exports.onExecutePostLogin = async (event, api) => {\n' +
      "  api.accessToken.setCustomClaim('https://orders.example.test/roles', event.authorization?.roles ?? []);\n};",
    deploy: true,
  });
  await m.actions.triggers.bindings.updateMany('post-login', { bindings: [{ ref: { type: 'action_id', value: action.id! } }] });
  const role = await m.roles.create({ name: 'order-reader', description: 'Reads orders' });
  await m.roles.permissions.add(role.id!, { permissions: [{ resource_server_identifier: orders!, permission_name: 'read:orders' }] });
});

after(async () => {
  api?.close();
  await Promise.all([a?.close(), b?.close()]);
  if (work && !process.env.KEEP_DEPLOY_WORK) rmSync(work, { recursive: true, force: true });
});

/** The deploy-cli placeholder for the oauth2 connection's secret, which no export carries. */
const SECRET_MAPPING = { CONNECTIONS_OAUTH2_SECRET: 'corp-secret-value' };
let yamlFile: string;

test(`a0deploy exports YAML and directories, imports into a fresh latchkey, and a second import changes nothing (${backend})`, async () => {
  const yamlOut = join(work, 'yaml');
  const dirOut = join(work, 'directory');
  const [exported, dirExport] = await Promise.all([
    deploy(a, ['export', '--format', 'yaml', '--output_folder', yamlOut]),
    deploy(a, ['export', '--format', 'directory', '--output_folder', dirOut]),
  ]);
  assert.equal(exported.code, 0, exported.output);
  // Everything answers 200 but Auth0's own answers for what a tenant has not configured, which the tool expects.
  const tolerated = new RegExp(
    '^(404 GET /api/v2/(emails/provider|email-templates/\\w+|branding/themes/default)' +
      '|403 GET /api/v2/attack-protection/(bot-detection|captcha))$',
  );
  assert.deepEqual(
    exported.requests.filter((r) => !r.startsWith('200 ') && !tolerated.test(r)),
    [],
  );
  yamlFile = join(yamlOut, 'tenant.yaml');
  const file = readFileSync(yamlFile, 'utf8');
  assert.match(file, /name: Orders Mobile/);
  assert.match(file, /identifier: https:\/\/orders\.example\.test\//);
  assert.match(file, /name: corp-sso/);
  assert.match(file, /name: order-reader/);
  assert.doesNotMatch(file, /latchkey admin|Auth0 Management API|\/api\/v2\//, "latchkey's own client and API are left out");

  assert.equal(dirExport.code, 0, dirExport.output);
  // The directory format holds the same tenant: one JSON file per item (databases: a folder each).
  const named = (sub: string, file = (f: string) => join(dirOut, sub, f)) =>
    readdirSync(join(dirOut, sub))
      .map((f) => JSON.parse(readFileSync(f.endsWith('.json') ? file(f) : join(file(f), 'database.json'), 'utf8')))
      .map((item) => item.name ?? `${item.client_id} -> ${item.audience}`)
      .sort();
  assert.deepEqual(named('clients'), ['Orders Mobile', 'Orders Worker']);
  assert.deepEqual(named('resource-servers'), ['Orders API']);
  assert.deepEqual(named('connections'), ['corp-sso']);
  assert.deepEqual(named('database-connections'), ['Username-Password-Authentication', 'orders-customers']);
  assert.deepEqual(named('grants'), [`Orders Worker -> ${API}`]);
  assert.deepEqual(named('roles'), ['order-reader']);

  // Keyword replacement: ##KEY## inside a string, @@KEY@@ for a whole (array) value.
  const templated = file
    .replace('friendly_name: Orders Inc', "friendly_name: '##TENANT_NAME##'")
    .replace(/( {4}callbacks:\n {6}- http:\/\/127\.0\.0\.1\/callback\n)/, "    callbacks: '@@CALLBACKS@@'\n");
  assert.notEqual(templated, file);
  assert.match(templated, /@@CALLBACKS@@/);
  writeFileSync(yamlFile, templated);

  const expected = await state(a);
  const mappings = { ...SECRET_MAPPING, TENANT_NAME: 'Orders Inc', CALLBACKS: [CALLBACK] };
  const first = await deploy(b, ['import', '--input_file', yamlFile], { AUTH0_KEYWORD_REPLACE_MAPPINGS: JSON.stringify(mappings) });
  assert.equal(first.code, 0, first.output);
  assert.deepEqual(await state(b), expected, 'B holds what A holds, keywords replaced');
  const stored = await b.ctx.storage.connections.getByName('corp-sso');
  assert.ok(stored);
  assert.equal(
    connectionSecret(b.ctx.secrets, stored),
    'corp-secret-value',
    "the oauth2 connection's secret came from the keyword mapping",
  );

  // The second import, from the directory format: nothing created, deleted or changed.
  const before = await state(b);
  const again = await deploy(b, ['import', '--input_file', dirOut], { AUTH0_KEYWORD_REPLACE_MAPPINGS: JSON.stringify(SECRET_MAPPING) });
  assert.equal(again.code, 0, again.output);
  assert.deepEqual(await state(b), before, 'a second import changes nothing');
  // deploy-cli updates every matched item with what B already holds, and updates a role by removing
  // its permissions and adding them back (its roles handler always does): the state check above is
  // what says nothing changed; here, that nothing else was created or deleted.
  assert.deepEqual(
    // deploy-cli re-deploys every deployed Action it updates (against Auth0 as well): a new version, same code.
    writes(again).filter(
      (w) =>
        !/^20\d (PATCH|PUT) /.test(w) &&
        !/^20\d (DELETE|POST) \/api\/v2\/roles\/rol_\w+\/permissions$/.test(w) &&
        !/^202 POST \/api\/v2\/actions\/actions\/[\w-]+\/deploy$/.test(w),
    ),
    [],
    'a second import creates and deletes nothing',
  );
});

test(`a user signs in to the imported native app with openid-client and calls the imported API (${backend})`, async () => {
  assert.ok(yamlFile, 'runs after the import');
  const mobile = ((await b.management('GET', '/clients?per_page=100')).body as Array<{ name: string; client_id: string }>).find(
    (c) => c.name === 'Orders Mobile',
  );
  assert.ok(mobile);
  const user = await b.management('POST', '/users', {
    connection: 'orders-customers',
    email: EMAIL,
    password: PASSWORD,
    email_verified: true,
  });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  // The role came across with the import; the Action that came with it puts it in the token.
  const roles = (await b.management('GET', '/roles?name_filter=order-reader')).body as Array<{ id: string; name: string }>;
  const reader = roles.find((r) => r.name === 'order-reader');
  assert.ok(reader, JSON.stringify(roles));
  const assigned = await b.management('POST', `/users/${encodeURIComponent(user.body.user_id)}/roles`, { roles: [reader.id] });
  assert.equal(assigned.status, 204, JSON.stringify(assigned.body));

  const apiApp = express();
  apiApp.get(
    '/orders',
    auth({ issuerBaseURL: b.issuer, audience: API, agent: new HttpsAgent({ ca: testCertificates().ca }) }),
    (req, res) => {
      res.json({
        sub: req.auth?.payload.sub,
        scope: req.auth?.payload.scope,
        roles: req.auth?.payload['https://orders.example.test/roles'],
      });
    },
  );
  // The guard's refusals answered quietly (Express would print their stacks).
  apiApp.use(((err, _req, res, _next) => {
    res.status(err.status ?? 500).json({ error: err.code ?? 'error' });
  }) as ErrorRequestHandler);
  api = apiApp.listen(0, '127.0.0.1');
  await new Promise((resolve) => api!.once('listening', resolve));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/orders`;

  const config = await oidc.discovery(new URL(b.issuer), mobile.client_id, { token_endpoint_auth_method: 'none' }, oidc.None());
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authorize = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid profile email offline_access read:orders',
    audience: API,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    connection: 'orders-customers',
  });
  const browser = new Browser(b.issuer);
  const back = await signInWithPassword(browser, authorize, EMAIL, PASSWORD);
  assert.equal(back.status, 302, await back.text());
  const callback = new URL(back.headers.get('location')!);
  assert.equal(`${callback.origin}${callback.pathname}`, CALLBACK);

  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  assert.equal(tokens.claims()?.email, EMAIL);
  assert.ok(tokens.refresh_token, 'the imported API allows offline access');
  const called = await fetch(apiUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(called.status, 200);
  const body = (await called.json()) as { sub: string; scope: string; roles: unknown };
  assert.equal(body.sub, tokens.claims()?.sub);
  assert.ok(body.scope.split(' ').includes('read:orders'), body.scope);
  // The post-login Action deployed on B by deploy-cli ran at this sign-in and set its claim.
  assert.deepEqual(body.roles, ['order-reader']);
  assert.equal((await fetch(apiUrl)).status, 401);
});

test(`an import carrying rules, hooks or pages fails with one message naming them, before anything is written (${backend})`, async () => {
  assert.ok(yamlFile, 'runs after the import');
  const dir = join(work, 'unsupported');
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  writeFileSync(join(dir, 'scripts', 'add-claims.js'), 'function (user, context, callback) { callback(null, user, context); }\n');
  writeFileSync(join(dir, 'scripts', 'pre-registration.js'), 'module.exports = function (user, context, cb) { cb(null, { user }); };\n');
  mkdirSync(join(dir, 'pages'), { recursive: true });
  writeFileSync(join(dir, 'pages', 'login.html'), '<html><body>Our own login page</body></html>\n');
  const file = join(dir, 'tenant.yaml');
  writeFileSync(
    file,
    [
      'rules:',
      '  - name: add-claims',
      '    script: ./scripts/add-claims.js',
      '    stage: login_success',
      '    enabled: true',
      '    order: 1',
      'hooks:',
      '  - name: pre-registration',
      '    script: ./scripts/pre-registration.js',
      '    triggerId: pre-user-registration',
      '    active: true',
      'pages:',
      '  - name: login',
      '    html: ./pages/login.html',
      '    enabled: true',
      'resourceServers:',
      '  - name: Not Imported API',
      '    identifier: https://not-imported.example.test/',
      'clients:',
      '  - name: Not Imported App',
      '    app_type: spa',
      '    callbacks: ["https://not-imported.example.test/cb"]',
      'tenant:',
      '  friendly_name: Not Imported',
      '',
    ].join('\n'),
  );
  // Rules as they are, hooks alone (rules excluded), pages alone: each refused at its first write,
  // the imports side by side since none may write anything.
  const before = await state(b);
  const [withRules, withHooks, withPages] = await Promise.all([
    deploy(b, ['import', '--input_file', file]),
    deploy(b, ['import', '--input_file', file], { AUTH0_EXCLUDED: JSON.stringify(['rules']) }),
    deploy(b, ['import', '--input_file', file], { AUTH0_EXCLUDED: JSON.stringify(['rules', 'hooks']) }),
  ]);
  for (const [run, type] of [
    [withRules, 'rules'],
    [withHooks, 'hooks'],
    [withPages, 'pages'],
  ] as const) {
    assert.notEqual(run.code, 0, run.output);
    const refusals = run.output.match(/latchkey has no \w+[^\n]*/g) ?? [];
    assert.ok(refusals.length >= 1, run.output);
    assert.match(refusals[0]!, new RegExp(`^latchkey has no ${type}: this import cannot be applied`));
    assert.match(
      refusals[0]!,
      /AUTH0_EXCLUDED=\[.*rules.*hooks.*guardianFactors/,
      'the message gives the exclusion that leaves every absent type out',
    );
    assert.deepEqual(
      writes(run).filter((w) => !/^400 /.test(w)),
      [],
      'nothing was written before the refusal',
    );
  }
  assert.deepEqual(await state(b), before, 'B is unchanged');
});
