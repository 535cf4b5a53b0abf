/**
 * Bulk user import and export jobs (issue 13) as Auth0's own v7 Node SDK drives them, over HTTPS:
 * `jobs.usersImports.create` uploads Auth0's user-import file as multipart, `jobs.get` polls the job,
 * `jobs.errors.get` lists the users that failed, `jobs.usersExports.create` exports a connection,
 * and the export's `location` is downloaded with a plain fetch, no token, like Auth0's S3 link.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { hash } from '@node-rs/bcrypt';
import { ManagementClient, ManagementError } from 'auth0';
import { authorizeUrl, Browser, callbackParams, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';
import { createNativeApp } from './helpers/tenant.js';

let server: TestServer;
let management: ManagementClient;
let connectionId: string;
let clientId: string;

before(async () => {
  trustTestCa();
  server = await startTestServer({ https: true, config: { jobsImportMaxBytes: 200_000 } });
  management = new ManagementClient({
    domain: new URL(server.issuer).host,
    clientId: server.admin.clientId,
    clientSecret: server.admin.clientSecret,
  });
  const connections = await server.management('GET', '/connections?name=Username-Password-Authentication');
  connectionId = connections.body[0].id;
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
});
after(() => server.close());

const file = (users: unknown) => Buffer.from(typeof users === 'string' ? users : JSON.stringify(users));

async function finished(id: string): Promise<Record<string, any>> {
  for (let i = 0; i < 300; i++) {
    const { data } = await management.jobs.get(id).withRawResponse();
    if (data.status === 'completed' || data.status === 'failed') return data;
    await sleep(100);
  }
  assert.fail(`job ${id} did not finish`);
}

async function rejection(call: () => Promise<unknown>): Promise<ManagementError & { body: Record<string, any> }> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof ManagementError, `expected a ManagementError, got ${String(err)}`);
    return err as ManagementError & { body: Record<string, any> };
  }
  assert.fail('expected the call to be rejected');
}

const signIn = (email: string, password: string) =>
  signInWithPassword(
    new Browser(server.issuer),
    authorizeUrl(server.issuer, {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
    email,
    password,
  );

test('an import of bcrypt users completes, keeps their ids and fields, and they sign in with their old passwords', async () => {
  const users = [
    {
      email: 'ada@import.example',
      email_verified: true,
      user_id: 'legacy-ada',
      given_name: 'Ada',
      family_name: 'Lovelace',
      name: 'Ada Lovelace',
      nickname: 'ada',
      blocked: false,
      app_metadata: { plan: 'gold' },
      user_metadata: { theme: 'dark' },
      password_hash: await hash('Ada-old-pass-1', { cost: 4 }),
    },
    { email: 'bob@import.example', password_hash: await hash('Bob-old-pass-1', { cost: 4 }) },
  ];
  const created = await management.jobs.usersImports.create({
    users: file(users),
    connection_id: connectionId,
    external_id: 'batch-1',
  });
  assert.equal(created.type, 'users_import');
  assert.equal(created.status, 'pending');
  assert.equal(created.connection_id, connectionId);
  assert.equal(created.external_id, 'batch-1');
  assert.match(created.id, /^job_/);

  const job = await finished(created.id);
  assert.equal(job.status, 'completed');
  assert.equal(job.connection, 'Username-Password-Authentication');
  assert.equal(job.external_id, 'batch-1');
  assert.equal(job.percentage_done, 100);
  assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 2, total: 2 });

  const { data: errors, rawResponse } = await management.jobs.errors.get(created.id).withRawResponse();
  assert.equal(rawResponse.status, 204, `no errors: ${JSON.stringify(errors)}`);
  assert.equal(
    await server.ctx.storage.jobs.getChunk(created.id, 0),
    undefined,
    'the uploaded file (with its hashes) is gone once imported',
  );

  const ada = await management.users.get('auth0|legacy-ada');
  assert.equal(ada.email, 'ada@import.example');
  assert.equal(ada.email_verified, true);
  assert.equal(ada.given_name, 'Ada');
  assert.equal(ada.family_name, 'Lovelace');
  assert.equal(ada.name, 'Ada Lovelace');
  assert.deepEqual(ada.app_metadata, { plan: 'gold' });
  assert.deepEqual(ada.user_metadata, { theme: 'dark' });
  assert.deepEqual(ada.identities?.[0], {
    connection: 'Username-Password-Authentication',
    user_id: 'legacy-ada',
    provider: 'auth0',
    isSocial: false,
  });

  assert.ok(callbackParams(await signIn('ada@import.example', 'Ada-old-pass-1')).get('code'), 'imported user signs in');
  assert.ok(callbackParams(await signIn('bob@import.example', 'Bob-old-pass-1')).get('code'));
  assert.equal((await signIn('bob@import.example', 'not-the-password')).status, 400);
});

test('bad users in a file are reported one by one with Auth0 codes and paths, the rest imported', async () => {
  const good = await hash('Good-pass-1', { cost: 4 });
  const users = [
    { email: 'fine1@bad.example', password_hash: good },
    { email: 'hash@bad.example', password_hash: '$2b$10$not-a-real-hash' },
    { email: 'twice@bad.example', password_hash: good },
    { email: 'TWICE@bad.example', password_hash: good },
    { name: 'No Email', password_hash: good },
    { email: 'unknown@bad.example', favourite_colour: 'blue', password_hash: good },
    { email: 'ada@import.example', password_hash: good },
    'not an object',
    { email: 'fine2@bad.example' },
  ];
  const created = await management.jobs.usersImports.create({ users: file(users), connection_id: connectionId });
  const job = await finished(created.id);
  assert.equal(job.status, 'completed');
  assert.deepEqual(job.summary, { failed: 6, updated: 0, inserted: 3, total: 9 });

  const { data } = await management.jobs.errors.get(created.id).withRawResponse();
  const errors = data as Array<{ user: Record<string, unknown>; errors: Array<{ code: string; message: string; path?: string }> }>;
  assert.ok(Array.isArray(errors));
  const byEmail = new Map(errors.map((e) => [String(e.user.email ?? e.user.name ?? '(none)'), e.errors]));
  assert.equal(byEmail.get('hash@bad.example')?.[0]?.code, 'PATTERN');
  assert.equal(byEmail.get('hash@bad.example')?.[0]?.path, 'password_hash');
  assert.equal(byEmail.get('TWICE@bad.example')?.[0]?.code, 'DUPLICATED_USER');
  assert.equal(byEmail.get('No Email')?.[0]?.code, 'OBJECT_REQUIRED');
  assert.equal(byEmail.get('No Email')?.[0]?.path, 'email');
  assert.equal(byEmail.get('unknown@bad.example')?.[0]?.code, 'OBJECT_ADDITIONAL_PROPERTIES');
  assert.equal(byEmail.get('unknown@bad.example')?.[0]?.path, 'favourite_colour');
  assert.equal(byEmail.get('ada@import.example')?.[0]?.code, 'CONFLICT_EMAIL', 'an existing user is not overwritten without upsert');
  assert.equal(byEmail.get('(none)')?.[0]?.code, 'INVALID_TYPE');
  for (const entry of errors) {
    assert.equal('password_hash' in entry.user, false, 'errors never echo a password hash');
    assert.equal(JSON.stringify(entry).includes('not-a-real-hash'), false);
  }
  // The good ones are there, and the first of the duplicated pair.
  for (const email of ['fine1@bad.example', 'twice@bad.example', 'fine2@bad.example']) {
    assert.equal((await server.management('GET', `/users-by-email?email=${encodeURIComponent(email)}`)).body.length, 1, email);
  }
});

test("Auth0's reference example imports: the users file as an fs.createReadStream", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-import-'));
  const path = join(dir, 'users.json');
  await writeFile(path, JSON.stringify([{ email: 'stream@import.example', user_id: 'streamed-1' }]));
  try {
    const created = await management.jobs.usersImports.create({ users: createReadStream(path), connection_id: connectionId });
    assert.deepEqual((await finished(created.id)).summary, { failed: 0, updated: 0, inserted: 1, total: 1 });
    assert.equal((await management.users.get('auth0|streamed-1')).email, 'stream@import.example');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a users file saved with a byte order mark imports', async () => {
  const users = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), file([{ email: 'bom@import.example' }])]);
  const job = await finished((await management.jobs.usersImports.create({ users, connection_id: connectionId })).id);
  assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 1, total: 1 });
});

test('imported metadata is held to what POST /users takes: no __proto__ or constructor.prototype keys, at most 100 keys', async () => {
  const manyKeys = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
  // JSON text, not an object: JSON.stringify would drop a __proto__ key set in JS.
  const users = `[
    {"email": "proto@meta.example", "user_metadata": {"deep": {"__proto__": {"admin": true}}}},
    {"email": "ctor@meta.example", "app_metadata": {"constructor": {"prototype": {"admin": true}}}},
    {"email": "keys@meta.example", "user_metadata": ${JSON.stringify(manyKeys)}},
    {"email": "fine@meta.example", "user_metadata": {"constructor": "a plain value", "nested": {"ok": [1, 2]}}}
  ]`;
  const created = await management.jobs.usersImports.create({ users: file(users), connection_id: connectionId });
  const job = await finished(created.id);
  assert.deepEqual(job.summary, { failed: 3, updated: 0, inserted: 1, total: 4 });
  const { data } = await management.jobs.errors.get(created.id).withRawResponse();
  const codes = Object.fromEntries(
    (data as Array<{ user: { email: string }; errors: Array<{ code: string; path: string }> }>).map((e) => [
      e.user.email,
      `${e.errors[0]?.code} ${e.errors[0]?.path}`,
    ]),
  );
  assert.deepEqual(codes, {
    'proto@meta.example': 'PATTERN user_metadata',
    'ctor@meta.example': 'PATTERN app_metadata',
    'keys@meta.example': 'OBJECT_MAX_PROPERTIES user_metadata',
  });
  const [fine] = (await server.management('GET', '/users-by-email?email=fine@meta.example')).body;
  assert.deepEqual(fine.user_metadata, { constructor: 'a plain value', nested: { ok: [1, 2] } });
});

test('a user with thousands of unknown properties is reported with the first ten, not one error per property', async () => {
  const user = { email: 'many@unknown.example', ...Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 0])) };
  const created = await management.jobs.usersImports.create({ users: file([user]), connection_id: connectionId });
  assert.deepEqual((await finished(created.id)).summary, { failed: 1, updated: 0, inserted: 0, total: 1 });
  const { data } = await management.jobs.errors.get(created.id).withRawResponse();
  const [entry] = data as Array<{ errors: Array<{ code: string; path: string }> }>;
  assert.equal(entry?.errors.length, 10);
  assert.deepEqual(entry?.errors[0], {
    code: 'OBJECT_ADDITIONAL_PROPERTIES',
    message: 'Additional properties not allowed: k0',
    path: 'k0',
  });
});

test('a job keeps and lists at most 10,000 per-user errors; its summary counts every failure', async () => {
  const created = await management.jobs.usersImports.create({ users: file(Array(10_050).fill(1)), connection_id: connectionId });
  assert.deepEqual((await finished(created.id)).summary, { failed: 10_050, updated: 0, inserted: 0, total: 10_050 });
  const { data } = await management.jobs.errors.get(created.id).withRawResponse();
  assert.equal((data as unknown[]).length, 10_000);
  assert.equal((await server.ctx.storage.jobs.listErrors(created.id, 20_000)).length, 10_000, 'no more are stored either');
});

test('a users file nesting a user thousands of levels deep is refused at upload with a 400, not a 500', async () => {
  const depth = 60_000;
  const text = `[{"email": "deep@nest.example", "user_metadata": {"a": ${'['.repeat(depth)}${']'.repeat(depth)}}}]`;
  const err = await rejection(() => management.jobs.usersImports.create({ users: file(text), connection_id: connectionId }));
  assert.equal(err.statusCode, 400);
  assert.match(err.body.message, /nests deeper than/);
  const shallow = `[{"email": "shallow@nest.example", "user_metadata": {"a": ${'['.repeat(20)}${']'.repeat(20)}}}]`;
  const job = await finished((await management.jobs.usersImports.create({ users: file(shallow), connection_id: connectionId })).id);
  assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 1, total: 1 });
});

test('upsert updates existing users (upsertable fields only) and inserts new ones', async () => {
  const users = [
    {
      email: 'ada@import.example',
      given_name: 'Augusta',
      blocked: true,
      app_metadata: { tier: 2 },
      password_hash: await hash('Another-pass-1', { cost: 4 }),
    },
    { email: 'carol@import.example', password_hash: await hash('Carol-pass-1', { cost: 4 }) },
  ];
  const created = await management.jobs.usersImports.create({ users: file(users), connection_id: connectionId, upsert: true });
  const job = await finished(created.id);
  assert.deepEqual(job.summary, { failed: 0, updated: 1, inserted: 1, total: 2 });
  const ada = await management.users.get('auth0|legacy-ada');
  assert.equal(ada.given_name, 'Augusta');
  assert.equal(ada.blocked, false, 'blocked is not upserted (Auth0)');
  assert.deepEqual(ada.app_metadata, { plan: 'gold', tier: 2 });
  assert.ok(callbackParams(await signIn('ada@import.example', 'Ada-old-pass-1')).get('code'), 'the password is not upserted');
});

test('a file that is not a JSON array is refused at upload, a file over the limit gets 413, both in Auth0 error shape', async () => {
  for (const text of ['[{"email": "a@b.example"', '{"email": "a@b.example"}', 'nonsense', '']) {
    const err = await rejection(() => management.jobs.usersImports.create({ users: file(text), connection_id: connectionId }));
    assert.equal(err.statusCode, 400, text);
    assert.equal(err.body.errorCode, 'invalid_body');
    assert.match(err.body.message, /Users file/);
  }
  const big = Array.from({ length: 3000 }, (_, i) => ({ email: `big${i}@big.example`, name: 'x'.repeat(60) }));
  const err = await rejection(() => management.jobs.usersImports.create({ users: file(big), connection_id: connectionId }));
  assert.equal(err.statusCode, 413);
  assert.equal(err.body.statusCode, 413);
  assert.equal(err.body.errorCode, 'payload_too_large');
  assert.equal((await server.management('GET', '/users-by-email?email=big0@big.example')).body.length, 0, 'nothing of it imported');

  const unknown = await rejection(() => management.jobs.usersImports.create({ users: file([]), connection_id: 'con_doesnotexist00' }));
  assert.equal(unknown.statusCode, 400);
  const missing = await rejection(() => management.jobs.get('job_doesnotexist0'));
  assert.equal(missing.statusCode, 404);
});

test('a malformed multipart upload (no boundary, no closing boundary) is a 400 and leaves no job behind', async () => {
  const token = await server.managementToken();
  const upload = (contentType: string, body: string) =>
    fetch(`${server.issuer}api/v2/jobs/users-imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body,
    });
  const part = `--xx\r\nContent-Disposition: form-data; name="users"; filename="u.json"\r\n\r\n[{"email":"cut@multipart.example"}]`;
  for (const [contentType, body] of [
    ['multipart/form-data', 'garbage'],
    ['multipart/form-data; boundary=xx', part],
    ['multipart/form-data; boundary=xx', `${part}\r\n--xx\r\nContent-Disposition: form-data; name="connection_id"\r\n\r\n${connectionId}`],
  ] as const) {
    const response = await upload(contentType, body);
    const answer = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 400, JSON.stringify(answer));
    assert.equal(answer.errorCode, 'invalid_body');
    assert.match(String(answer.message), /multipart/);
  }
  const form = new FormData();
  form.set('connection_id', connectionId);
  const missing = await fetch(`${server.issuer}api/v2/jobs/users-imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  assert.equal(missing.status, 400);
  assert.equal(((await missing.json()) as { message: string }).message, 'Payload validation error: Missing required property: users');
  const created = await management.jobs.usersImports.create({
    users: file([{ email: 'after@multipart.example' }]),
    connection_id: connectionId,
  });
  assert.equal((await finished(created.id)).status, 'completed', 'no upload holds a place against the limit');
  assert.equal((await server.management('GET', '/users-by-email?email=cut@multipart.example')).body.length, 0);
});

test('an upload with two users files is a 400 in the Management API shape naming the problem, and leaves no job behind', async () => {
  const token = await server.managementToken();
  const twoFiles = (order: 'files-first' | 'fields-first') => {
    const form = new FormData();
    if (order === 'fields-first') form.append('connection_id', connectionId);
    form.append('users', new Blob([JSON.stringify([{ email: 'one@twofiles.example' }])]), 'one.json');
    form.append('users', new Blob([JSON.stringify([{ email: 'two@twofiles.example' }])]), 'two.json');
    if (order === 'files-first') form.append('connection_id', connectionId);
    return form;
  };
  // Three refusals: were each to leave its job holding a place, the limit of two would refuse the import after them.
  for (const order of ['files-first', 'fields-first', 'files-first'] as const) {
    const response = await fetch(`${server.issuer}api/v2/jobs/users-imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: twoFiles(order),
    });
    const answer = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 400, JSON.stringify(answer));
    assert.deepEqual(answer, {
      statusCode: 400,
      error: 'Bad Request',
      message: 'Payload validation error: Send exactly one file, users.',
      errorCode: 'invalid_body',
    });
  }
  const created = await management.jobs.usersImports.create({
    users: file([{ email: 'after@twofiles.example' }]),
    connection_id: connectionId,
  });
  assert.equal((await finished(created.id)).status, 'completed');
  for (const email of ['one@twofiles.example', 'two@twofiles.example']) {
    assert.equal((await server.management('GET', `/users-by-email?email=${email}`)).body.length, 0, `${email} is not imported`);
  }
});

test('a tenant may have two unfinished import jobs; a third is refused with 429', async () => {
  const now = Date.now();
  const held = ['job_heldA', 'job_heldB'];
  for (const id of held) {
    const job = {
      id,
      type: 'users_import' as const,
      status: 'uploading' as const,
      data: { connection_id: connectionId, connection: 'Username-Password-Authentication' },
      cursor: 0,
      owner: 'elsewhere',
      leaseUntil: new Date(now + 3600_000).toISOString(),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + 3600_000).toISOString(),
    };
    assert.equal(await server.ctx.storage.jobs.create(job, 2), true);
  }
  const err = await rejection(() =>
    management.jobs.usersImports.create({ users: file([{ email: 'z@z.example' }]), connection_id: connectionId }),
  );
  assert.equal(err.statusCode, 429);
  for (const id of held) await server.ctx.storage.jobs.delete(id);
  const created = await management.jobs.usersImports.create({ users: file([{ email: 'z@z.example' }]), connection_id: connectionId });
  assert.equal((await finished(created.id)).status, 'completed');
});

test('exports as NDJSON and CSV with fields and export_as, downloaded from the signed location without a token', async () => {
  const json = await management.jobs.usersExports.create({
    connection_id: connectionId,
    format: 'json',
    fields: [{ name: 'user_id' }, { name: 'email', export_as: 'mail' }, { name: 'app_metadata.plan', export_as: 'plan' }],
  });
  assert.equal(json.type, 'users_export');
  const jsonJob = await finished(json.id);
  assert.equal(jsonJob.status, 'completed');
  assert.match(String(jsonJob.location), /^https:\/\/127\.0\.0\.1:\d+\/jobs\/files\/job_\w+\.json\.gz\?expires=\d+&signature=/);
  const response = await fetch(jsonJob.location);
  assert.equal(response.status, 200);
  const lines = gunzipSync(Buffer.from(await response.arrayBuffer()))
    .toString('utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const ada = lines.find((l) => l.user_id === 'auth0|legacy-ada');
  assert.deepEqual(ada, { user_id: 'auth0|legacy-ada', mail: 'ada@import.example', plan: 'gold' });
  const count = (await server.management('GET', '/users?include_totals=true&per_page=1')).body.total;
  assert.equal(lines.length, count, 'every user of the connection');

  const csv = await management.jobs.usersExports.create({
    connection_id: connectionId,
    format: 'csv',
    fields: [
      { name: 'email', export_as: 'Email Address' },
      { name: 'given_name' },
      { name: 'identities[0].connection', export_as: 'connection' },
    ],
  });
  const csvJob = await finished(csv.id);
  const text = gunzipSync(Buffer.from(await (await fetch(csvJob.location)).arrayBuffer())).toString('utf8');
  const rows = text.trim().split('\n');
  assert.equal(rows[0], 'Email Address,given_name,connection');
  assert.ok(rows.includes('ada@import.example,Augusta,Username-Password-Authentication'), rows.join('\n'));
  assert.equal(rows.length, count + 1);

  const odd = await management.jobs.usersExports.create({
    connection_id: connectionId,
    format: 'csv',
    fields: [{ name: 'email' }, { name: 'constructor' }, { name: '__proto__' }, { name: 'email.length' }, { name: 'toString' }],
  });
  const oddRows = gunzipSync(Buffer.from(await (await fetch((await finished(odd.id)).location)).arrayBuffer()))
    .toString('utf8')
    .trim()
    .split('\n');
  assert.ok(oddRows.includes('ada@import.example,,,,'), 'only fields the user has are exported, never what its prototype has');

  // Auth0's own example: no connection_id exports every user of the tenant, of any connection.
  const social = await server.management('POST', '/connections', {
    name: 'export-oidc',
    strategy: 'oidc',
    options: { client_id: 'upstream-client', issuer: 'https://idp.example/' },
  });
  assert.equal(social.status, 201, JSON.stringify(social.body));
  const now = new Date().toISOString();
  const identity = { connection: 'export-oidc', provider: 'oidc', user_id: '4242', isSocial: false };
  await server.ctx.storage.users.insert({
    connection: 'export-oidc',
    passwordHash: null,
    user: {
      user_id: 'oidc|4242',
      email: 'octo@social.example',
      email_verified: true,
      identities: [{ ...identity, access_token: 'sealed-upstream-access', refresh_token: 'sealed-upstream-refresh' }],
      app_metadata: {},
      user_metadata: {},
      created_at: now,
      updated_at: now,
      logins_count: 1,
      blocked: false,
    },
  });
  const tenantWide = await management.jobs.usersExports.create();
  assert.equal('connection_id' in tenantWide, false);
  const tenantWideJob = await finished(tenantWide.id);
  assert.equal(tenantWideJob.status, 'completed');
  const tenantLines = gunzipSync(Buffer.from(await (await fetch(tenantWideJob.location)).arrayBuffer()))
    .toString('utf8')
    .trim()
    .split('\n');
  assert.equal(tenantLines.length, count + 1);
  const octo = tenantLines.map((line) => JSON.parse(line)).find((user) => user.user_id === 'oidc|4242');
  assert.deepEqual(octo.identities, [identity], "an upstream provider's tokens are never exported");
  const ofSocial = await management.jobs.usersExports.create({
    connection_id: social.body.id,
    format: 'csv',
    fields: [{ name: 'user_id' }, { name: 'identities[0].access_token' }, { name: 'identities[0].refresh_token' }],
  });
  const socialText = gunzipSync(Buffer.from(await (await fetch((await finished(ofSocial.id)).location)).arrayBuffer())).toString('utf8');
  assert.equal(socialText, 'user_id,identities[0].access_token,identities[0].refresh_token\noidc|4242,,\n');

  const whole = await management.jobs.usersExports.create({ connection_id: connectionId, format: 'json', limit: 2 });
  const wholeJob = await finished(whole.id);
  const wholeText = gunzipSync(Buffer.from(await (await fetch(wholeJob.location)).arrayBuffer())).toString('utf8');
  assert.equal(wholeText.trim().split('\n').length, 2, 'limit');
  assert.doesNotMatch(wholeText, /\$2[aby]\$|\$argon2|password_hash/, 'no password hashes in an export');

  const tampered = new URL(jsonJob.location);
  tampered.searchParams.set('expires', String(Number(tampered.searchParams.get('expires')) + 1));
  assert.equal((await fetch(tampered)).status, 403, 'the expiry is signed');
  const other = jsonJob.location.replace(json.id, csv.id);
  assert.equal((await fetch(other)).status, 403, 'a link is for one file');
});

test('expired jobs go with their errors and files when the sweep runs', async () => {
  const job = await finished((await management.jobs.usersExports.create({ connection_id: connectionId, format: 'json' })).id);
  assert.equal((await fetch(job.location)).status, 200);
  await server.ctx.storage.sweepExpired(new Date(Date.now() + 2 * 86400_000).toISOString());
  assert.equal((await rejection(() => management.jobs.get(job.id))).statusCode, 404);
  assert.equal(await server.ctx.storage.jobs.getFilePart(job.id, 0), undefined, 'the export file is deleted');
  assert.equal((await fetch(job.location)).status, 403, 'and its link no longer serves anything');
});

test('a job past its expiry answers 404 (and its file link 403) at once, before the sweep deletes it', async () => {
  const imported = await finished(
    (await management.jobs.usersImports.create({ users: file([1, { email: 'expiring@jobs.example' }]), connection_id: connectionId })).id,
  );
  const exported = await finished((await management.jobs.usersExports.create({ connection_id: connectionId, format: 'json' })).id);
  assert.equal((await management.jobs.errors.get(imported.id).withRawResponse()).rawResponse.status, 200);
  assert.equal((await fetch(exported.location)).status, 200);
  for (const id of [imported.id, exported.id]) {
    const job = await server.ctx.storage.jobs.get(id);
    assert.ok(job);
    // Its retention ran out a second ago; no sweep has run since.
    assert.equal(await server.ctx.storage.jobs.save({ ...job, expires_at: new Date(Date.now() - 1000).toISOString() }, null), true);
    assert.equal((await rejection(() => management.jobs.get(id))).statusCode, 404, id);
    const errors = await rejection(() => management.jobs.errors.get(id));
    assert.equal(errors.statusCode, 404, id);
    assert.equal(errors.body.errorCode, 'inexistent_job');
    assert.ok(await server.ctx.storage.jobs.get(id), 'the rows are still there: the answer does not wait for the sweep');
  }
  assert.equal((await fetch(exported.location)).status, 403, 'the export file is not served either');
});

test('jobs need their scopes', async () => {
  const token = await server.managementToken('read:users');
  const response = await fetch(`${server.issuer}api/v2/jobs/users-imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: (() => {
      const form = new FormData();
      form.append('users', new Blob(['[]']), 'users.json');
      form.append('connection_id', connectionId);
      return form;
    })(),
  });
  assert.equal(response.status, 403);
  assert.equal(((await response.json()) as Record<string, unknown>).errorCode, 'insufficient_scope');

  // create:users reads jobs (to follow an import), but an export's file is every user: its link needs read:users.
  const exported = await finished((await management.jobs.usersExports.create({ connection_id: connectionId })).id);
  assert.ok(exported.location);
  const importer = await server.managementToken('create:users');
  const seen = await server.management('GET', `/jobs/${exported.id}`, undefined, importer);
  assert.equal(seen.status, 200);
  assert.equal(seen.body.status, 'completed');
  assert.equal('location' in seen.body, false, JSON.stringify(seen.body));
});
