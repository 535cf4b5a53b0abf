/**
 * RBAC roles through Auth0's own v7 Node SDK (`auth0` on npm) over HTTPS: management.roles.*,
 * roles.permissions, roles.users and users.roles, with Auth0's paging, status codes and error bodies.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Management, ManagementClient, ManagementError } from 'auth0';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';

let server: TestServer;
let management: ManagementClient;
let domain: string;
const API = 'https://roles-sdk.example/';

before(async () => {
  trustTestCa();
  server = await startTestServer({ https: true });
  domain = new URL(server.issuer).host;
  management = new ManagementClient({ domain, clientId: server.admin.clientId, clientSecret: server.admin.clientSecret });
  await management.resourceServers.create({
    name: 'Roles SDK API',
    identifier: API,
    scopes: [
      { value: 'read:things', description: 'Read things' },
      { value: 'write:things', description: 'Write things' },
    ],
    enforce_policies: true,
    token_dialect: 'access_token_authz',
  });
});
after(() => server.close());

async function rejection(call: () => Promise<unknown>): Promise<ManagementError & { body: Record<string, unknown> }> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof ManagementError, `expected a ManagementError, got ${String(err)}`);
    return err as ManagementError & { body: Record<string, unknown> };
  }
  assert.fail('expected the call to be rejected');
}

const permission = (permission_name: string) => ({ resource_server_identifier: API, permission_name });

async function createUser(email: string): Promise<string> {
  const user = await management.users.create({
    connection: 'Username-Password-Authentication',
    email,
    password: 'Correct-Horse-Battery-9',
  });
  return user.user_id as string;
}

test('roles: create, get, update, delete, with Auth0 ids and bodies', async () => {
  const created = await management.roles.create({ name: 'Editor', description: 'Edits things' });
  assert.match(created.id as string, /^rol_[A-Za-z0-9]{16}$/);
  assert.deepEqual(created, { id: created.id, name: 'Editor', description: 'Edits things' });
  assert.deepEqual(await management.roles.get(created.id as string), created);

  const renamed = await management.roles.update(created.id as string, { name: 'Writer' });
  assert.deepEqual(renamed, { id: created.id, name: 'Writer', description: 'Edits things' });
  const described = await management.roles.update(created.id as string, { description: 'Writes things' });
  assert.equal(described.description, 'Writes things');
  assert.equal((await management.roles.get(created.id as string)).name, 'Writer');

  const bare = await management.roles.create({ name: 'No description' });
  assert.deepEqual(bare, { id: bare.id, name: 'No description' });

  await management.roles.delete(created.id as string);
  await management.roles.delete(bare.id as string);
  const gone = await rejection(() => management.roles.get(created.id as string));
  assert.ok(gone instanceof Management.NotFoundError);
  assert.deepEqual(gone.body, { statusCode: 404, error: 'Not Found', message: 'The role does not exist.', errorCode: 'inexistent_role' });
  assert.equal((await rejection(() => management.roles.delete(created.id as string))).statusCode, 404);
  assert.equal((await rejection(() => management.roles.update(created.id as string, { name: 'x' }))).statusCode, 404);
});

test('role names are unique: 409 on create and on rename; bad bodies are 400', async () => {
  const first = await management.roles.create({ name: 'Unique' });
  const taken = await rejection(() => management.roles.create({ name: 'Unique' }));
  assert.ok(taken instanceof Management.ConflictError);
  assert.deepEqual(taken.body, { statusCode: 409, error: 'Conflict', message: 'The role already exists.', errorCode: 'role_exists' });
  const second = await management.roles.create({ name: 'Other' });
  assert.equal((await rejection(() => management.roles.update(second.id as string, { name: 'Unique' }))).statusCode, 409);
  assert.equal((await management.roles.get(second.id as string)).name, 'Other', 'the failed rename changed nothing');

  const nameless = await rejection(() => management.roles.create({ description: 'no name' } as Management.CreateRoleRequestContent));
  assert.ok(nameless instanceof Management.BadRequestError);
  assert.equal(nameless.body.statusCode, 400);
  assert.equal(nameless.body.error, 'Bad Request');
  assert.equal(typeof nameless.body.message, 'string');
  const unknownField = await rejection(() =>
    management.roles.update(second.id as string, { colour: 'red' } as Management.UpdateRoleRequestContent),
  );
  assert.equal(unknownField.statusCode, 400);
  await management.roles.delete(first.id as string);
  await management.roles.delete(second.id as string);
});

test('roles list: per_page, page, include_totals and a case-insensitive name_filter', async () => {
  const ids: string[] = [];
  for (const name of ['Paged Alpha', 'Paged Bravo', 'Paged Charlie', 'paged delta', 'Unrelated']) {
    ids.push((await management.roles.create({ name })).id as string);
  }
  const first = await management.roles.list({ name_filter: 'PAGED', per_page: 3, page: 0 });
  assert.deepEqual(
    first.data.map((r) => r.name),
    ['Paged Alpha', 'Paged Bravo', 'Paged Charlie'],
  );
  assert.equal(first.response.total, 4);
  assert.equal(first.response.start, 0);
  assert.equal(first.response.limit, 3);
  const second = await management.roles.list({ name_filter: 'paged', per_page: 3, page: 1 });
  assert.deepEqual(
    second.data.map((r) => r.name),
    ['paged delta'],
  );
  const seen: string[] = [];
  for await (const role of await management.roles.list({ per_page: 2 })) seen.push(role.name as string);
  assert.deepEqual(seen.sort(), ['Paged Alpha', 'Paged Bravo', 'Paged Charlie', 'Unrelated', 'paged delta']);
  assert.deepEqual((await management.roles.list({ name_filter: 'nothing matches' })).data, []);
  // auth0-deploy-cli lists tenant roles with type=tenant; there are no organization roles.
  assert.equal((await management.roles.list({ type: 'tenant', per_page: 100 })).data.length, 5);
  const organization = await management.roles.list({ type: 'organization', owner_id: 'org_x' });
  assert.deepEqual([organization.data, organization.response.total], [[], 0]);
  // Without include_totals (the SDK always sends it), a bare array, as Auth0 answers.
  const bare = await fetch(`${server.issuer}api/v2/roles?name_filter=bravo`, {
    headers: { authorization: `Bearer ${await server.managementToken('read:roles')}` },
  });
  assert.deepEqual(await bare.json(), [{ id: ids[1], name: 'Paged Bravo' }]);
  for (const id of ids) await management.roles.delete(id);
});

test('role permissions: add, list with names and descriptions, remove; undefined ones refused', async () => {
  const role = await management.roles.create({ name: 'Permitted' });
  const id = role.id as string;
  assert.equal(
    (await management.roles.permissions.add(id, { permissions: [permission('read:things'), permission('write:things')] }).withRawResponse())
      .rawResponse.status,
    201,
  );
  await management.roles.permissions.add(id, { permissions: [permission('read:things')] }); // already there: no change
  const listed = await management.roles.permissions.list(id);
  assert.deepEqual(listed.data, [
    { permission_name: 'read:things', description: 'Read things', resource_server_name: 'Roles SDK API', resource_server_identifier: API },
    {
      permission_name: 'write:things',
      description: 'Write things',
      resource_server_name: 'Roles SDK API',
      resource_server_identifier: API,
    },
  ]);
  assert.equal(listed.response.total, 2);
  const paged = await management.roles.permissions.list(id, { per_page: 1, page: 1 });
  assert.deepEqual(
    paged.data.map((p) => p.permission_name),
    ['write:things'],
  );

  await management.roles.permissions.delete(id, { permissions: [permission('write:things')] });
  assert.deepEqual(
    (await management.roles.permissions.list(id)).data.map((p) => p.permission_name),
    ['read:things'],
  );

  const undefinedScope = await rejection(() => management.roles.permissions.add(id, { permissions: [permission('delete:everything')] }));
  assert.equal(undefinedScope.statusCode, 400);
  const unknownApi = await rejection(() =>
    management.roles.permissions.add(id, {
      permissions: [{ resource_server_identifier: 'https://nowhere.example/', permission_name: 'read:things' }],
    }),
  );
  assert.equal(unknownApi.statusCode, 404);
  assert.equal(unknownApi.body.errorCode, 'inexistent_resource_server');
  const unknownRole = await rejection(() => management.roles.permissions.list('rol_0000000000000000'));
  assert.equal(unknownRole.body.errorCode, 'inexistent_role');
  const empty = await rejection(() => management.roles.permissions.add(id, { permissions: [] }));
  assert.equal(empty.statusCode, 400);
  await management.roles.delete(id);
});

test("role users and users' roles: assign both ways, list with checkpoint and offset paging, remove", async () => {
  const role = await management.roles.create({ name: 'Members', description: 'Has members' });
  const other = await management.roles.create({ name: 'Bystander role' });
  const id = role.id as string;
  const users: string[] = [];
  for (let i = 0; i < 5; i++) users.push(await createUser(`member-${i}@roles.example`));

  await management.roles.users.assign(id, { users: users.slice(0, 4) });
  await management.roles.users.assign(id, { users: [users[0]!] }); // already a member: no change
  await management.users.roles.assign(users[4]!, { roles: [id, other.id as string] });

  // The SDK pages this list by checkpoint (take, then from=next): every member exactly once.
  const seen: string[] = [];
  const page = await management.roles.users.list(id, { take: 2 });
  assert.equal(page.data.length, 2);
  for await (const user of page) seen.push(user.user_id as string);
  assert.deepEqual(seen.sort(), [...users].sort());
  const member = page.data[0]!;
  assert.deepEqual(Object.keys(member).sort(), ['email', 'name', 'picture', 'user_id']);
  assert.match(member.email as string, /^member-\d@roles\.example$/);

  // Offset paging, as Auth0 also offers.
  const token = await server.managementToken('read:role_members');
  const offset = await fetch(`${server.issuer}api/v2/roles/${id}/users?per_page=2&page=2&include_totals=true`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await offset.json()) as { total: number; users: unknown[] };
  assert.equal(body.total, 5);
  assert.equal(body.users.length, 1);

  const roles = await management.users.roles.list(users[4]!);
  assert.deepEqual(
    roles.data.map((r) => r.name),
    ['Bystander role', 'Members'],
  );
  assert.deepEqual(roles.data[1], { id, name: 'Members', description: 'Has members' });
  await management.users.roles.delete(users[4]!, { roles: [other.id as string, 'rol_0000000000000000'] });
  assert.deepEqual(
    (await management.users.roles.list(users[4]!)).data.map((r) => r.id),
    [id],
  );

  const unknownUser = await rejection(() => management.roles.users.assign(id, { users: [users[0]!, 'auth0|000000000000000000000000'] }));
  assert.equal(unknownUser.statusCode, 404);
  assert.equal(unknownUser.body.errorCode, 'inexistent_user');
  const unknownRole = await rejection(() => management.users.roles.assign(users[0]!, { roles: ['rol_0000000000000000'] }));
  assert.equal(unknownRole.statusCode, 404);
  assert.equal(unknownRole.body.errorCode, 'inexistent_role');
  const noSuchUser = await rejection(() => management.users.roles.list('auth0|000000000000000000000000'));
  assert.equal(noSuchUser.body.errorCode, 'inexistent_user');
  const badCheckpoint = await rejection(() => management.roles.users.list(id, { from: 'not-a-checkpoint' }));
  assert.equal(badCheckpoint.statusCode, 400);

  // Deleting the role takes it from its members; deleting a user takes its assignments.
  await management.users.delete(users[3]!);
  assert.equal((await management.roles.users.list(id, { take: 50 })).data.length, 4);
  await management.roles.delete(id);
  assert.deepEqual((await management.users.roles.list(users[0]!)).data, []);
  assert.deepEqual(await server.ctx.storage.roles.listRolesOf(users[3]!, { kind: 'offset', offset: 0, limit: 50, includeTotal: false }), {
    items: [],
  });
  for (const user of users) await management.users.delete(user);
  await management.roles.delete(other.id as string);
});

test("a user's permissions list direct and role permissions with their sources", async () => {
  const user = await createUser('sources@roles.example');
  const role = await management.roles.create({ name: 'Reader' });
  await management.roles.permissions.add(role.id as string, { permissions: [permission('read:things')] });
  await management.users.roles.assign(user, { roles: [role.id as string] });
  await management.users.permissions.create(user, { permissions: [permission('read:things'), permission('write:things')] });

  const listed = await management.users.permissions.list(user);
  assert.deepEqual(listed.data, [
    {
      permission_name: 'read:things',
      description: 'Read things',
      resource_server_name: 'Roles SDK API',
      resource_server_identifier: API,
      sources: [
        { source_id: '', source_name: '', source_type: 'DIRECT' },
        { source_id: role.id, source_name: 'Reader', source_type: 'ROLE' },
      ],
    },
    {
      permission_name: 'write:things',
      description: 'Write things',
      resource_server_name: 'Roles SDK API',
      resource_server_identifier: API,
      sources: [{ source_id: '', source_name: '', source_type: 'DIRECT' }],
    },
  ]);
  assert.equal(listed.response.total, 2);
  await management.users.permissions.delete(user, { permissions: [permission('read:things'), permission('write:things')] });
  assert.deepEqual(
    (await management.users.permissions.list(user)).data.map((p) => [p.permission_name, (p as { sources: unknown[] }).sources.length]),
    [['read:things', 1]],
  );
  await management.roles.delete(role.id as string);
  await management.users.delete(user);
});

test("role routes need Auth0's scopes: read:roles, or read:users with read:roles, or read:role_members", async () => {
  const role = await management.roles.create({ name: 'Scoped' });
  const id = role.id as string;
  const usersOnly = new ManagementClient({ domain, token: await server.managementToken('read:users') });
  const forbidden = await rejection(() => usersOnly.roles.users.list(id));
  assert.ok(forbidden instanceof Management.ForbiddenError);
  assert.equal(forbidden.body.errorCode, 'insufficient_scope');
  assert.equal((await rejection(() => usersOnly.roles.get(id))).statusCode, 403);

  const both = new ManagementClient({ domain, token: await server.managementToken('read:users read:roles') });
  assert.deepEqual((await both.roles.users.list(id)).data, []);
  const members = new ManagementClient({ domain, token: await server.managementToken('read:role_members') });
  assert.deepEqual((await members.roles.users.list(id)).data, []);
  assert.equal((await rejection(() => members.roles.create({ name: 'nope' }))).statusCode, 403);
  await management.roles.delete(id);
});
