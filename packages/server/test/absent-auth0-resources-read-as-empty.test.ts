/**
 * The Auth0 resource types latchkey lacks read as an Auth0 tenant without them reads (empty lists
 * in the requested paging shape, default settings, Auth0's 403/404 where a plan lacks a feature),
 * need their Management API scope, accept writes that change nothing, and refuse any other write
 * with a 400 naming the type (never a 403, which auth0-deploy-cli reads as "deprecated, skip").
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { THROTTLE } from '../src/login/throttle.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server?.close());

test(`absent list types answer empty in every paging shape (${backend})`, async () => {
  assert.deepEqual((await server.management('GET', '/rules')).body, []);
  assert.deepEqual((await server.management('GET', '/hooks?page=2&per_page=10&include_totals=true')).body, {
    start: 20,
    limit: 10,
    length: 0,
    total: 0,
    hooks: [],
  });
  assert.deepEqual((await server.management('GET', '/rate-limit-policies?take=50')).body, { rate_limit_policies: [] });
  // Actions and their trigger bindings are real now (actions.ts); action modules are still absent.
  assert.deepEqual((await server.management('GET', '/actions/modules')).body, []);
  assert.equal((await server.management('GET', '/rules/rul_unknown')).status, 404);
});

test(`settings read as defaults, or from latchkey's own configuration (${backend})`, async () => {
  const factors = (await server.management('GET', '/guardian/factors')).body as Array<{ name: string; enabled: boolean }>;
  assert.ok(factors.length > 0 && factors.every((f) => f.enabled === false));
  const bruteForce = (await server.management('GET', '/attack-protection/brute-force-protection')).body;
  assert.equal(bruteForce.enabled, true);
  assert.equal(bruteForce.max_attempts, THROTTLE.account.maxFailures);
  const captcha = await server.management('GET', '/attack-protection/captcha');
  assert.equal(captcha.status, 403);
  assert.equal(captcha.body.errorCode, 'feature_not_enabled');
  assert.equal((await server.management('GET', '/emails/provider')).status, 404);
});

test(`reads need the type's scope (${backend})`, async () => {
  const narrow = await server.managementToken('read:clients');
  const refused = await server.management('GET', '/rules', undefined, narrow);
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, /read:rules/);
});

test(`writes that change nothing are taken; others are refused naming the type (${backend})`, async () => {
  const same = await server.management('PUT', '/guardian/factors/sms', { enabled: false });
  assert.equal(same.status, 200, JSON.stringify(same.body));
  assert.deepEqual((await server.management('PUT', '/guardian/policies', [])).status, 200);
  const max = THROTTLE.account.maxFailures;
  assert.equal(
    (await server.management('PATCH', '/attack-protection/brute-force-protection', { enabled: true, max_attempts: max })).status,
    200,
  );

  for (const [method, path, body, type] of [
    ['PUT', '/guardian/factors/sms', { enabled: true }, 'guardianFactors'],
    ['PATCH', '/attack-protection/brute-force-protection', { max_attempts: max + 1 }, 'attackProtection'],
    ['POST', '/rules', { name: 'r', script: 'function (u, c, cb) { cb(null, u, c); }' }, 'rules'],
    ['POST', '/hooks', { name: 'h', script: 'x', triggerId: 'post-user-registration' }, 'hooks'],
    ['DELETE', '/rules/rul_1', undefined, 'rules'],
    ['PATCH', '/branding', { colors: { primary: '#000000' } }, 'branding'],
    ['POST', '/branding/themes', { displayName: 'Mine' }, 'themes'],
  ] as const) {
    const response = await server.management(method, path, body);
    assert.equal(response.status, 400, `${method} ${path}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.errorCode, 'operation_not_supported');
    assert.match(response.body.message, new RegExp(`^latchkey has no ${type}: `));
  }
  // Still the defaults afterwards.
  const sms = ((await server.management('GET', '/guardian/factors')).body as Array<{ name: string; enabled: boolean }>).find(
    (f) => f.name === 'sms',
  );
  assert.equal(sms?.enabled, false);
});

test(`deploy-cli's pages (tenant pages, the global client's login page): taken empty, refused with content (${backend})`, async () => {
  const [global] = (await server.management('GET', '/clients?is_global=true')).body as Array<{ client_id: string }>;
  assert.ok(global);
  const before = (await server.management('GET', '/tenants/settings')).body;
  // What deploy-cli sends for pages that are off and empty: nothing to refuse.
  const emptyTenantPages = {
    change_password: { enabled: false, html: '' },
    guardian_mfa_page: { enabled: false, html: '' },
    error_page: { html: '', show_log_link: false, url: '' },
  };
  const taken = await server.management('PATCH', '/tenants/settings', emptyTenantPages);
  assert.equal(taken.status, 200, JSON.stringify(taken.body));
  const emptyLogin = await server.management('PATCH', `/clients/${global.client_id}`, {
    custom_login_page: '',
    custom_login_page_on: false,
  });
  assert.equal(emptyLogin.status, 200, JSON.stringify(emptyLogin.body));

  for (const [path, body] of [
    ['/tenants/settings', { change_password: { enabled: true, html: '<p>Reset</p>' } }],
    ['/tenants/settings', { error_page: { html: '', show_log_link: false, url: 'https://errors.example.test/' } }],
    ['/tenants/settings', { guardian_mfa_page: { enabled: false, html: '<p>MFA</p>' }, friendly_name: 'Changed' }],
    [`/clients/${global.client_id}`, { custom_login_page: '<html>login</html>', custom_login_page_on: true }],
    [`/clients/${global.client_id}`, { custom_login_page_on: true }],
  ] as const) {
    const refused = await server.management('PATCH', path, body);
    assert.equal(refused.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.errorCode, 'operation_not_supported');
    assert.match(refused.body.message, /^latchkey has no pages: this import cannot be applied\. .*AUTH0_EXCLUDED=\[.*"pages"/);
  }
  assert.deepEqual((await server.management('GET', '/tenants/settings')).body, before, 'nothing of a refused write was applied');
});
