import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type DeployedAction, runFlow, testAction } from '../src/actions/runtime.js';

/**
 * The Actions runtime on its own (no server): what the sandbox gives an Action (fetch, console,
 * secrets, module state kept warm per version) and what the host makes of its api calls.
 */
let upstream: Server;
let upstreamUrl: string;

before(async () => {
  upstream = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, plan: 'gold' }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

after(() => upstream.close());

const deployed = (code: string, extra: Partial<DeployedAction> = {}): DeployedAction => ({
  id: 'act_1',
  name: 'test action',
  versionId: 'v1',
  code,
  runtime: 'node22',
  secrets: [],
  ...extra,
});

test('testAction: console output comes back, secrets are in event.secrets, api calls are the payload', async () => {
  const { payload, logs } = await testAction(
    {},
    'post-login',
    `exports.onExecutePostLogin = async (event, api) => {
      console.log('hello', event.user.email, { n: 1 });
      api.idToken.setCustomClaim('https://example.com/key', event.secrets.API_KEY.length);
      api.accessToken.addScope('read:extra');
    };`,
    [{ name: 'API_KEY', value: 'secret-value-123' }],
    { user: { email: 'a@example.test' } },
  );
  assert.deepEqual(logs, ['hello a@example.test {"n":1}']);
  const result = (payload as { result: Record<string, unknown> }).result;
  assert.deepEqual(result.idTokenClaims, { 'https://example.com/key': 16 });
  assert.deepEqual(result.addScopes, ['read:extra']);
});

test('testAction: a thrown error and a timeout come back as the error, not as an exception', async () => {
  const thrown = await testAction({}, 'post-login', "exports.onExecutePostLogin = async () => { throw new Error('nope'); };", [], {});
  assert.match(JSON.stringify(thrown.payload), /nope/);
  const loop = await testAction(
    { sandbox: { cpuTimeMs: 100 } },
    'post-login',
    'exports.onExecutePostLogin = async () => { for (;;) {} };',
    [],
    {},
  );
  assert.match(JSON.stringify(loop.payload), /CPU time/);
});

test('a secret in an error message or a console line is redacted', async () => {
  const { payload, logs } = await testAction(
    {},
    'post-login',
    `exports.onExecutePostLogin = async (event) => {
      console.log('key', event.secrets.KEY);
      throw new Error('bad ' + event.secrets.KEY);
    };`,
    [{ name: 'KEY', value: 'sk_live_abcdef' }],
    {},
  );
  assert.doesNotMatch(JSON.stringify(payload), /sk_live_abcdef/);
  assert.doesNotMatch(JSON.stringify(logs), /sk_live_abcdef/);
  assert.match(JSON.stringify(payload), /bad/);
});

test('fetch reaches an http(s) API; other schemes are refused inside the Action', async () => {
  const code = `exports.onExecuteCredentialsExchange = async (event, api) => {
    const response = await fetch(event.secrets.URL + '/plans?c=' + event.client.client_id);
    const body = await response.json();
    api.accessToken.setCustomClaim('https://example.com/plan', body.plan + ' ' + response.status + ' ' + body.path);
    try { await fetch('file:///etc/passwd'); } catch (e) { api.accessToken.setCustomClaim('https://example.com/file', e.message); }
  };`;
  const result = await runFlow(
    { flow: async () => [deployed(code, { secrets: [{ name: 'URL', value: upstreamUrl }] })] },
    'credentials-exchange',
    {
      client: { client_id: 'c1' },
    },
  );
  assert.equal(result.accessTokenClaims['https://example.com/plan'], 'gold 200 /plans?c=c1');
  assert.match(String(result.accessTokenClaims['https://example.com/file']), /Invalid protocol/);
});

test('module state persists between runs of one version (a warm context), and not into another version', async () => {
  const code = `let runs = 0;
  exports.onExecutePostLogin = async (event, api) => { runs++; api.idToken.setCustomClaim('runs', runs); };`;
  const flow = (versionCode: string) => ({ flow: async () => [deployed(versionCode)] });
  const first = await runFlow(flow(code), 'post-login', { user: {} });
  const second = await runFlow(flow(code), 'post-login', { user: {} });
  assert.equal(Number(second.idTokenClaims.runs), Number(first.idTokenClaims.runs) + 1);
  const other = await runFlow(flow(`${code}\n// v2`), 'post-login', { user: {} });
  assert.equal(other.idTokenClaims.runs, 1);
  // Another Action with the very same code does not share the first one's module state.
  const twin = await runFlow({ flow: async () => [deployed(code, { id: 'act_twin' })] }, 'post-login', { user: {} });
  assert.equal(twin.idTokenClaims.runs, 1);
});

test('a denial stops the flow: later Actions do not run; metadata set before is visible to the next', async () => {
  const result = await runFlow(
    {
      flow: async () => [
        deployed("exports.onExecutePostLogin = async (e, api) => { api.user.setAppMetadata('tier', 'pro'); };", { id: 'a' }),
        deployed("exports.onExecutePostLogin = async (e, api) => { api.access.deny('tier ' + e.user.app_metadata.tier); };", { id: 'b' }),
        deployed("exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('late', 1); };", { id: 'c' }),
      ],
    },
    'post-login',
    { user: { app_metadata: {} } },
  );
  assert.equal(result.denied?.reason, 'tier pro');
  assert.deepEqual(result.appMetadata, { tier: 'pro' });
  assert.deepEqual(result.idTokenClaims, {});
});

test('api.cache keeps values per Action between runs', async () => {
  const code = `exports.onExecuteCredentialsExchange = async (event, api) => {
    const hit = api.cache.get('token');
    if (!hit) api.cache.set('token', 'cached-1', { ttl: 60000 });
    api.accessToken.setCustomClaim('hit', hit ? hit.value : null);
  };`;
  const deps = { flow: async () => [deployed(code, { id: 'cache-action' })] };
  assert.equal((await runFlow(deps, 'credentials-exchange', { client: {} })).accessTokenClaims.hit, null);
  assert.equal((await runFlow(deps, 'credentials-exchange', { client: {} })).accessTokenClaims.hit, 'cached-1');
});

test("the wall clock is the whole flow's: Actions that each wait within it still fail the flow together", async () => {
  let calls = 0;
  const slow = createServer((_req, res) => {
    calls++;
    setTimeout(() => res.end('{}'), 300);
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;
    const code = `exports.onExecutePostLogin = async (event, api) => { await fetch(${JSON.stringify(url)}); };`;
    // Ten Actions of 300 ms each, under a 1 s clock: each alone is well within it, the flow is not.
    const flow = async () => Array.from({ length: 10 }, (_, i) => deployed(code, { id: `slow-${i}`, name: `slow ${i}` }));
    await assert.rejects(runFlow({ flow, sandbox: { wallTimeMs: 1000 } }, 'post-login', { user: {} }), (error: Error) => {
      assert.equal((error as Error & { reason?: string }).reason, 'timeout', error.message);
      return true;
    });
    assert.ok(calls < 10, `the flow went on past its clock (${calls} Actions ran)`);
  } finally {
    slow.closeAllConnections();
    slow.close();
  }
});

test("claims Auth0 keeps out: OpenID's standard ones in the ID token, its own namespaces however spelled, __proto__", async () => {
  const names = [
    'email',
    'email_verified',
    'name',
    'updated_at',
    'https://auth0.com:443/x',
    'HTTPS://AUTH0.COM?x',
    'https://tenant.auth0.com#x',
    'https://webtask.run./x',
    '__proto__',
    'https://example.com/kept',
    'kept',
    'https://auth0.com.example.org/kept',
  ];
  const code = `exports.onExecutePostLogin = async (event, api) => {
    for (const name of ${JSON.stringify(names)}) {
      api.idToken.setCustomClaim(name, { from: 'action' });
      api.accessToken.setCustomClaim(name, { from: 'action' });
    }
  };`;
  const result = await runFlow({ flow: async () => [deployed(code, { id: 'claims' })] }, 'post-login', { user: {} });
  const kept = ['https://example.com/kept', 'kept', 'https://auth0.com.example.org/kept'];
  assert.deepEqual(Object.keys(result.idTokenClaims).sort(), [...kept].sort());
  // Access tokens may carry profile claims (Auth0 allows them there), never the restricted ones.
  assert.deepEqual(Object.keys(result.accessTokenClaims).sort(), [...kept, 'email', 'email_verified', 'name', 'updated_at'].sort());
  assert.equal(Object.getPrototypeOf(result.idTokenClaims), Object.prototype);
  assert.equal(Object.getPrototypeOf(result.accessTokenClaims), Object.prototype);
});
