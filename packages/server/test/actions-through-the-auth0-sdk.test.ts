/**
 * Auth0 Actions' Management API through Auth0's own v7 Node SDK (`auth0` on npm) over HTTPS:
 * management.actions.*, actions.versions, actions.triggers and triggers.bindings, with Auth0's
 * field names, paging, status codes and error bodies. The runtime that runs deployed flows reads
 * them through `deployedFlow`, which a second node must see change after a deploy on the first.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Management, ManagementClient, ManagementError } from 'auth0';
import { deployedFlow } from '../src/domain/actions.js';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';

let server: TestServer;
let nodeB: TestServer;
let management: ManagementClient;
/** Every log line of the first node, at debug level: secret values must never be among them. */
const logged: string[] = [];

const ROLES_CLAIM = `exports.onExecutePostLogin = async (event, api) => {
  const roles = (event.authorization && event.authorization.roles) || [];
  api.idToken.setCustomClaim('https://example.test/roles', roles);
  api.accessToken.setCustomClaim('https://example.test/roles', roles);
};`;
const DENY = `exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email && event.user.email.endsWith('@blocked.test')) api.access.deny('Blocked domain');
};`;

before(async () => {
  trustTestCa();
  server = await startTestServer({
    https: true,
    config: { logLevel: 'debug' },
    logStream: { write: (chunk: string) => void logged.push(chunk) },
  });
  nodeB = await startTestServer({ https: true, shareWith: server });
  management = new ManagementClient({
    domain: new URL(server.issuer).host,
    clientId: server.admin.clientId,
    clientSecret: server.admin.clientSecret,
  });
});
after(async () => {
  await nodeB.close();
  await server.close();
});

async function rejection(call: () => Promise<unknown>): Promise<ManagementError & { body: Record<string, unknown> }> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof ManagementError, `expected a ManagementError, got ${String(err)}`);
    return err as ManagementError & { body: Record<string, unknown> };
  }
  assert.fail('expected the call to be rejected');
}

/** Polls until `check` holds: propagation is measured, not slept for. */
async function eventually(check: () => Promise<boolean>, deadlineMs = 5000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (await check()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

test('triggers: the four supported ones, in Auth0 shape', async () => {
  const { triggers = [] } = await management.actions.triggers.list();
  const current = triggers.filter((t) => t.status === 'CURRENT').map((t) => t.id);
  assert.deepEqual(current.sort(), ['credentials-exchange', 'post-login', 'post-user-registration', 'pre-user-registration']);
  const postLogin = triggers.find((t) => t.id === 'post-login' && t.status === 'CURRENT')!;
  assert.equal(postLogin.version, 'v3');
  assert.ok(postLogin.runtimes?.includes('node22'));
  assert.equal(postLogin.default_runtime, 'node22');
  assert.deepEqual(postLogin.compatible_triggers, [{ id: 'post-login', version: 'v2' }]);
});

test('create, get, update: secrets are write-only, all_changes_deployed follows the draft', async () => {
  const created = await management.actions.create({
    name: 'Add roles',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: ROLES_CLAIM,
    secrets: [{ name: 'API_KEY', value: 'very-secret-value-1' }],
  });
  const id = created.id as string;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(created.name, 'Add roles');
  assert.deepEqual(created.supported_triggers, [{ id: 'post-login', version: 'v3' }]);
  assert.equal(created.code, ROLES_CLAIM);
  assert.deepEqual(created.dependencies, []);
  assert.equal(created.runtime, 'node22');
  assert.equal(created.status, 'built');
  assert.equal(created.all_changes_deployed, false);
  assert.equal(created.deployed_version, undefined);
  assert.deepEqual(
    created.secrets?.map((s) => Object.keys(s).sort()),
    [['name', 'updated_at']],
  );
  assert.ok(!JSON.stringify(created).includes('very-secret-value-1'));
  // Sealed at rest as well.
  const stored = await server.ctx.storage.actions.get(id);
  assert.ok(stored && !JSON.stringify(stored).includes('very-secret-value-1'));

  const got = await management.actions.get(id);
  assert.deepEqual(got, created);

  const deployed = await management.actions.deploy(id);
  assert.equal((await management.actions.get(id)).all_changes_deployed, true);
  assert.equal(deployed.number, 1);

  // A rename leaves the deployed code as it is; a new secret value does not.
  const renamed = await management.actions.update(id, { name: 'Add roles claim' });
  assert.equal(renamed.name, 'Add roles claim');
  assert.equal(renamed.all_changes_deployed, true);
  const rotated = await management.actions.update(id, {
    secrets: [
      { name: 'API_KEY', value: 'very-secret-value-2' },
      { name: 'OTHER', value: 'x' },
    ],
  });
  assert.equal(rotated.all_changes_deployed, false);
  assert.deepEqual(
    rotated.secrets?.map((s) => s.name),
    ['API_KEY', 'OTHER'],
  );
  assert.ok(!JSON.stringify(rotated).includes('very-secret-value-2'));
  // Names without values keep the stored values (auth0-deploy-cli sends secrets that way).
  await management.actions.update(id, { secrets: [{ name: 'API_KEY' }] });
  await management.actions.deploy(id);
  const flow = await deployedFlow(server.ctx, 'post-login');
  assert.deepEqual(flow, [], 'deployed but not bound: not in the flow');
  const version = await server.ctx.storage.actions.listVersions(id, { kind: 'offset', offset: 0, limit: 1, includeTotal: false });
  const sealed = version.items[0]!.secrets;
  assert.deepEqual(
    sealed.map((s) => s.name),
    ['API_KEY'],
  );
  assert.equal(server.ctx.secrets.decrypt(sealed[0]!.sealed, `action secret ${id} API_KEY`), 'very-secret-value-2');

  await management.actions.delete(id);
  const gone = await rejection(() => management.actions.get(id));
  assert.ok(gone instanceof Management.NotFoundError);
  assert.deepEqual(gone.body, { statusCode: 404, error: 'Not Found', message: 'The action does not exist.', errorCode: 'not_found' });
});

test('deploy makes numbered versions; rollback deploys a copy of an old one', async () => {
  const { id } = await management.actions.create({ name: 'Versioned', supported_triggers: [{ id: 'post-login' }], code: DENY });
  const actionId = id as string;
  assert.equal((await management.actions.get(actionId)).supported_triggers?.[0]?.version, 'v3', 'the current version by default');
  const v1 = await management.actions.deploy(actionId);
  assert.deepEqual([v1.number, v1.deployed, v1.status, v1.code, v1.action?.id], [1, true, 'built', DENY, actionId]);
  await management.actions.update(actionId, { code: ROLES_CLAIM });
  const v2 = await management.actions.deploy(actionId);
  assert.equal(v2.number, 2);
  assert.equal(v2.code, ROLES_CLAIM);

  const action = await management.actions.get(actionId);
  assert.equal(action.deployed_version?.id, v2.id);
  assert.equal(action.deployed_version?.number, 2);

  const versions = await management.actions.versions.list(actionId);
  assert.deepEqual(
    versions.data.map((v) => [v.number, v.deployed]),
    [
      [2, true],
      [1, false],
    ],
  );
  assert.equal(versions.response.total, 2);
  const paged = await management.actions.versions.list(actionId, { per_page: 1, page: 1 });
  assert.deepEqual([paged.data.map((v) => v.number), paged.response.page, paged.response.per_page], [[1], 1, 1]);
  const one = await management.actions.versions.get(actionId, v1.id as string);
  assert.deepEqual([one.number, one.code, one.deployed], [1, DENY, false]);

  const rolledBack = await management.actions.versions.deploy(actionId, v1.id as string, {});
  assert.deepEqual([rolledBack.number, rolledBack.code, rolledBack.deployed], [3, DENY, true]);
  const after = await management.actions.get(actionId);
  assert.equal(after.deployed_version?.number, 3);
  assert.equal(after.code, ROLES_CLAIM, 'the draft stays unless update_draft');
  assert.equal(after.all_changes_deployed, false);
  const withDraft = await management.actions.versions.deploy(actionId, v2.id as string, { update_draft: true });
  assert.equal(withDraft.number, 4);
  const synced = await management.actions.get(actionId);
  assert.deepEqual([synced.code, synced.all_changes_deployed], [ROLES_CLAIM, true]);

  const missing = await rejection(() => management.actions.versions.get(actionId, '00000000-0000-4000-8000-000000000000'));
  assert.equal(missing.statusCode, 404);
  await management.actions.delete(actionId);
});

test('deploy refuses npm dependencies and code that does not compile, naming the problem', async () => {
  const withDeps = await management.actions.create({
    name: 'Needs lodash',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: ROLES_CLAIM,
    dependencies: [
      { name: 'lodash', version: '4.17.21' },
      { name: 'axios', version: '1.6.0' },
    ],
  });
  const refused = await rejection(() => management.actions.deploy(withDeps.id as string));
  assert.ok(refused instanceof Management.BadRequestError);
  assert.equal(refused.body.statusCode, 400);
  assert.match(String(refused.body.message), /lodash@4\.17\.21, axios@1\.6\.0/);
  assert.equal((await management.actions.get(withDeps.id as string)).deployed_version, undefined);

  const broken = await management.actions.create({
    name: 'Broken',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    // Would throw if it ever ran: the check must only compile it.
    code: 'throw new Error("ran"); exports.onExecutePostLogin = async (event, api) => { api.access.deny( };',
  });
  const syntax = await rejection(() => management.actions.deploy(broken.id as string));
  assert.equal(syntax.statusCode, 400);
  assert.match(String(syntax.body.message), /does not compile/);
  assert.equal(syntax.body.errorCode, 'invalid_argument');

  const unsupported = await rejection(() =>
    management.actions.create({ name: 'Phone', supported_triggers: [{ id: 'send-phone-message', version: 'v2' }], code: '' }),
  );
  assert.equal(unsupported.statusCode, 400);
  assert.match(String(unsupported.body.message), /send-phone-message/);
  const badVersion = await rejection(() =>
    management.actions.create({ name: 'Old', supported_triggers: [{ id: 'credentials-exchange', version: 'v9' }], code: '' }),
  );
  assert.equal(badVersion.statusCode, 400);
  const badRuntime = await rejection(() =>
    management.actions.create({ name: 'Odd runtime', supported_triggers: [{ id: 'post-login' }], runtime: 'deno2' }),
  );
  assert.equal(badRuntime.statusCode, 400);
  const tooBig = await rejection(() =>
    management.actions.create({ name: 'Huge', supported_triggers: [{ id: 'post-login' }], code: `// ${'x'.repeat(110 * 1024)}` }),
  );
  assert.equal(tooBig.statusCode, 400);

  const taken = await rejection(() => management.actions.create({ name: 'Broken', supported_triggers: [{ id: 'post-login' }] }));
  assert.deepEqual(taken.body, {
    statusCode: 409,
    error: 'Conflict',
    message: "An action named 'Broken' already exists.",
    errorCode: 'already_exists',
  });

  await management.actions.delete(withDeps.id as string);
  await management.actions.delete(broken.id as string);
});

test('list filters: triggerId, actionName, deployed, installed, with page/per_page and totals', async () => {
  const make = async (name: string, trigger: 'post-login' | 'credentials-exchange', deploy: boolean) => {
    const a = await management.actions.create({ name, supported_triggers: [{ id: trigger }], code: 'exports.x = 1;', deploy });
    return a.id as string;
  };
  const ids = [
    await make('List A', 'post-login', true),
    await make('List B', 'post-login', false),
    await make('List C', 'credentials-exchange', true),
  ];
  const all = await management.actions.list();
  assert.deepEqual(
    all.data.map((a) => a.name),
    ['List A', 'List B', 'List C'],
  );
  assert.equal(all.response.total, 3);
  const names = async (request: Management.ListActionsRequestParameters) =>
    (await management.actions.list(request)).data.map((a) => a.name);
  assert.deepEqual(await names({ triggerId: 'post-login' }), ['List A', 'List B']);
  assert.deepEqual(await names({ actionName: 'List C' }), ['List C']);
  assert.deepEqual(await names({ deployed: true }), ['List A', 'List C']);
  assert.deepEqual(await names({ deployed: false, triggerId: 'post-login' }), ['List B']);
  assert.deepEqual(await names({ installed: true }), []);
  assert.deepEqual(await names({ installed: false }), ['List A', 'List B', 'List C']);
  const second = await management.actions.list({ per_page: 2, page: 1 });
  assert.deepEqual([second.data.map((a) => a.name), second.response.total, second.response.page], [['List C'], 3, 1]);
  const seen: string[] = [];
  for await (const action of await management.actions.list({ per_page: 1 })) seen.push(action.name as string);
  assert.deepEqual(seen, ['List A', 'List B', 'List C']);
  const deployedOne = (await management.actions.list({ actionName: 'List A' })).data[0]!;
  assert.equal(deployedOne.deployed_version?.number, 1);
  const badTrigger = await rejection(() => management.actions.list({ triggerId: 'nope' as Management.ActionTriggerTypeEnum }));
  assert.equal(badTrigger.statusCode, 400);
  for (const id of ids) await management.actions.delete(id);
});

test('bindings by id and by name replace the flow in order; only deployed actions of that trigger', async () => {
  const roles = await management.actions.create({
    name: 'Roles claim',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: ROLES_CLAIM,
    secrets: [{ name: 'TOKEN', value: 's3cr3t' }],
    deploy: true,
  });
  const deny = await management.actions.create({
    name: 'Deny blocked',
    supported_triggers: [{ id: 'post-login' }],
    code: DENY,
    deploy: true,
  });
  const draft = await management.actions.create({ name: 'Draft only', supported_triggers: [{ id: 'post-login' }], code: DENY });
  const m2m = await management.actions.create({
    name: 'M2M claim',
    supported_triggers: [{ id: 'credentials-exchange' }],
    code: 'exports.onExecuteCredentialsExchange = async () => {};',
    deploy: true,
  });

  const bound = await management.actions.triggers.bindings.updateMany('post-login', {
    bindings: [
      { ref: { type: 'action_name', value: 'Deny blocked' }, display_name: 'Deny first' },
      { ref: { type: 'action_id', value: roles.id as string } },
    ],
  });
  assert.deepEqual(
    bound.bindings?.map((b) => [b.trigger_id, b.display_name, b.action?.id]),
    [
      ['post-login', 'Deny first', deny.id],
      ['post-login', 'Roles claim', roles.id],
    ],
  );
  assert.ok(!JSON.stringify(bound).includes('s3cr3t'));
  const listed = await management.actions.triggers.bindings.list('post-login');
  assert.deepEqual(
    listed.data.map((b) => b.id),
    bound.bindings?.map((b) => b.id),
  );
  assert.equal(listed.response.total, 2);

  const flow = await deployedFlow(server.ctx, 'post-login');
  assert.deepEqual(
    flow.map((a) => [a.id, a.name, a.code]),
    [
      [deny.id, 'Deny blocked', DENY],
      [roles.id, 'Roles claim', ROLES_CLAIM],
    ],
  );
  assert.deepEqual(flow[1]!.secrets, [{ name: 'TOKEN', value: 's3cr3t' }]);

  // Reordered: the bindings keep their ids.
  const reordered = await management.actions.triggers.bindings.updateMany('post-login', {
    bindings: [{ ref: { type: 'action_id', value: roles.id as string } }, { ref: { type: 'action_name', value: 'Deny blocked' } }],
  });
  assert.deepEqual(
    reordered.bindings?.map((b) => [b.id, b.display_name]),
    [
      [bound.bindings?.[1]?.id, 'Roles claim'],
      [bound.bindings?.[0]?.id, 'Deny first'],
    ],
  );
  assert.deepEqual(
    (await deployedFlow(server.ctx, 'post-login')).map((a) => a.name),
    ['Roles claim', 'Deny blocked'],
  );

  const undeployed = await rejection(() =>
    management.actions.triggers.bindings.updateMany('post-login', {
      bindings: [{ ref: { type: 'action_id', value: draft.id as string } }],
    }),
  );
  assert.equal(undeployed.statusCode, 400);
  assert.match(String(undeployed.body.message), /not been deployed/);
  const otherTrigger = await rejection(() =>
    management.actions.triggers.bindings.updateMany('post-login', { bindings: [{ ref: { type: 'action_id', value: m2m.id as string } }] }),
  );
  assert.equal(otherTrigger.statusCode, 400);
  const unknown = await rejection(() =>
    management.actions.triggers.bindings.updateMany('post-login', { bindings: [{ ref: { type: 'action_name', value: 'Nobody' } }] }),
  );
  assert.equal(unknown.statusCode, 400);
  assert.equal((await management.actions.triggers.bindings.list('post-login')).data.length, 2, 'a refused update changed nothing');
  // Auth0's other triggers have empty flows here: an export's empty ones import, a binding does not.
  assert.deepEqual((await management.actions.triggers.bindings.list('send-phone-message')).data, []);
  const emptied = await management.actions.triggers.bindings.updateMany('post-change-password', { bindings: [] });
  assert.deepEqual(emptied.bindings, []);
  const unsupported = await rejection(() =>
    management.actions.triggers.bindings.updateMany('post-change-password', {
      bindings: [{ ref: { type: 'action_id', value: deny.id as string } }],
    }),
  );
  assert.equal(unsupported.statusCode, 400);
  assert.match(String(unsupported.body.message), /post-change-password/);
  const noSuchTrigger = await rejection(() =>
    management.actions.triggers.bindings.list('no-such-trigger' as Management.ActionTriggerTypeEnum),
  );
  assert.equal(noSuchTrigger.statusCode, 404);

  // A bound action is deleted only with force, which unbinds it in the same transaction.
  const bound409 = await rejection(() => management.actions.delete(roles.id as string));
  assert.equal(bound409.statusCode, 409);
  assert.equal(bound409.body.errorCode, 'failed_precondition');
  await management.actions.delete(roles.id as string, { force: true });
  assert.deepEqual(
    (await management.actions.triggers.bindings.list('post-login')).data.map((b) => b.action?.name),
    ['Deny blocked'],
  );
  assert.deepEqual(
    (await deployedFlow(server.ctx, 'post-login')).map((a) => a.name),
    ['Deny blocked'],
  );

  await management.actions.triggers.bindings.updateMany('post-login', { bindings: [] });
  for (const a of [deny, draft, m2m]) await management.actions.delete(a.id as string);
});

test('a deploy on one node changes deployedFlow on another node', async (t) => {
  const action = await management.actions.create({
    name: 'Across nodes',
    supported_triggers: [{ id: 'credentials-exchange' }],
    code: 'exports.onExecuteCredentialsExchange = async (event, api) => { api.accessToken.setCustomClaim("https://x.test/v", 1); };',
    deploy: true,
  });
  const id = action.id as string;
  await management.actions.triggers.bindings.updateMany('credentials-exchange', { bindings: [{ ref: { type: 'action_id', value: id } }] });
  const first = await deployedFlow(nodeB.ctx, 'credentials-exchange');
  assert.equal(first.length, 1);
  assert.match(first[0]!.code, /"https:\/\/x.test\/v", 1/);

  // Node B now holds the flow in its cache; a deploy through node A must reach it.
  const next = 'exports.onExecuteCredentialsExchange = async (event, api) => { api.accessToken.setCustomClaim("https://x.test/v", 2); };';
  await management.actions.update(id, { code: next });
  const v2 = await management.actions.deploy(id);
  const ms = await eventually(async () => (await deployedFlow(nodeB.ctx, 'credentials-exchange'))[0]?.versionId === v2.id);
  t.diagnostic(`deploy reached node B after ~${ms} ms`);
  assert.equal((await deployedFlow(nodeB.ctx, 'credentials-exchange'))[0]!.code, next);

  // And an unbinding through node B reaches node A.
  await nodeB.management('PATCH', '/actions/triggers/credentials-exchange/bindings', { bindings: [] });
  await eventually(async () => (await deployedFlow(server.ctx, 'credentials-exchange')).length === 0);
  await management.actions.delete(id);
});

test('test runs the draft in the sandbox with the event given, secrets included; api.redirect is refused at deploy', async () => {
  const action = await management.actions.create({
    name: 'Testable',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: `exports.onExecutePostLogin = async (event, api) => {
  console.log('hello from the test', event.user.email);
  api.idToken.setCustomClaim('https://example.test/roles', event.authorization.roles);
  api.accessToken.setCustomClaim('https://example.test/key', event.secrets.KEY);
};`,
    secrets: [{ name: 'KEY', value: 'k-123' }],
  });
  const id = action.id as string;
  const event = { user: { user_id: 'auth0|1', email: 'a@example.test' }, authorization: { roles: ['admin'] } };
  const raw = await server.management('POST', `/actions/actions/${id}/test`, { payload: event });
  assert.equal(raw.status, 200);
  assert.match(JSON.stringify(raw.body.logs), /hello from the test/);
  const tested = await management.actions.test(id, { payload: event });
  const result = (tested.payload as { result: { idTokenClaims: Record<string, unknown>; accessTokenClaims: Record<string, unknown> } })
    .result;
  assert.deepEqual(result.idTokenClaims, { 'https://example.test/roles': ['admin'] });
  assert.deepEqual(result.accessTokenClaims, { 'https://example.test/key': 'k-123' });
  assert.equal((await rejection(() => management.actions.test('00000000-0000-4000-8000-000000000000', { payload: {} }))).statusCode, 404);

  await management.actions.update(id, {
    code: 'exports.onExecutePostLogin = async (event, api) => { api.redirect.sendUserTo("https://x.test"); };',
  });
  const redirect = await rejection(() => management.actions.deploy(id));
  assert.equal(redirect.statusCode, 400);
  assert.match(String(redirect.body.message), /api\.redirect/);
  await management.actions.delete(id);
});

test('scopes: reading actions needs read:actions, changing them the write scopes', async () => {
  const token = await server.managementToken('read:users');
  const denied = await server.management('GET', '/actions/actions', undefined, token);
  assert.equal(denied.status, 403);
  const reader = await server.managementToken('read:actions');
  assert.equal((await server.management('GET', '/actions/triggers', undefined, reader)).status, 200);
  const create = await server.management('POST', '/actions/actions', { name: 'x', supported_triggers: [{ id: 'post-login' }] }, reader);
  assert.equal(create.status, 403);
});

test('the number of actions is bounded (LATCHKEY_ACTIONS_MAX)', async () => {
  const small = await startTestServer({ config: { actionsMax: 1 } });
  try {
    const body = (name: string) => ({ name, supported_triggers: [{ id: 'post-login' }], code: '' });
    assert.equal((await small.management('POST', '/actions/actions', body('first'))).status, 201);
    const full = await small.management('POST', '/actions/actions', body('second'));
    assert.equal(full.status, 429);
    assert.equal(full.body.errorCode, 'too_many_actions');
    assert.equal((await small.management('GET', '/actions/actions')).body.total, 1);
  } finally {
    await small.close();
  }
});

test('no secret value reached the log', () => {
  assert.ok(logged.length > 0);
  for (const value of ['very-secret-value-1', 'very-secret-value-2', 's3cr3t', 'k-123']) {
    assert.ok(!logged.some((line) => line.includes(value)), `${value} was logged`);
  }
});
