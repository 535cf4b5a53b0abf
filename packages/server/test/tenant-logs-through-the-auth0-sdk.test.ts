import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Management, ManagementClient } from 'auth0';
import { authorizeUrl, Browser, pkcePair, signInWithPassword } from './helpers/http-login.js';
import { authorizationCode, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';
import { createApi, createNativeApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

/**
 * Tenant logs as Auth0's SDK reads them (`logs.list`, `logs.get`, `users.logs.list`), after real
 * sign-ins, exchanges and Management API changes made over HTTP.
 */
let server: TestServer;
let management: ManagementClient;
let app: { client_id: string };
let user: Record<string, any>;
const callback = 'http://127.0.0.1/callback';
const redirectUri = 'http://127.0.0.1:50400/callback';
const email = 'logs-user@example.test';

before(async () => {
  trustTestCa();
  server = await startTestServer({ https: true });
  management = new ManagementClient({
    domain: new URL(server.issuer).host,
    clientId: server.admin.clientId,
    clientSecret: server.admin.clientSecret,
  });
  await createApi(server);
  app = await createNativeApp(server, [callback], { name: 'Logs App' });
  user = await createUser(server, email);
});

after(() => server?.close());

/** Every event recorded so far is written (the log is written in the background). */
const written = () => server.ctx.events.flush();

async function allLogs(): Promise<Management.Log[]> {
  await written();
  const page = await management.logs.list({ per_page: 100, sort: 'date:1' });
  return page.data;
}

async function rejection(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

test('sign-ins, a wrong password and an unknown user are logged as s, fp and fu', async () => {
  const browser = new Browser(server.issuer);
  const wrong = await signInWithPassword(
    browser,
    authorizeUrl(server.issuer, { response_type: 'code', client_id: app.client_id, redirect_uri: redirectUri, ...challenge() }),
    email,
    'not-the-password',
  );
  assert.equal(wrong.status, 400);
  const unknown = await signInWithPassword(
    new Browser(server.issuer),
    authorizeUrl(server.issuer, { response_type: 'code', client_id: app.client_id, redirect_uri: redirectUri, ...challenge() }),
    'nobody@example.test',
    'whatever-password',
  );
  assert.equal(unknown.status, 400);
  await authorizationCode(server, browser, { client_id: app.client_id, redirect_uri: redirectUri }, { email, password: TEST_PASSWORD });

  const logs = await allLogs();
  const fp = logs.find((l) => l.type === 'fp');
  assert.ok(fp, JSON.stringify(logs.map((l) => l.type)));
  assert.equal(fp.user_id, user.user_id);
  assert.equal(fp.user_name, email);
  assert.equal(fp.client_id, app.client_id);
  assert.equal(fp.client_name, 'Logs App');
  assert.equal(fp.connection, 'Username-Password-Authentication');
  assert.equal(fp.ip, '127.0.0.1');
  assert.equal(fp.hostname, new URL(server.issuer).host);
  assert.match(String(fp.log_id), /^\d+$/);
  assert.ok(!Number.isNaN(Date.parse(String(fp.date))));
  const fu = logs.find((l) => l.type === 'fu');
  assert.ok(fu);
  assert.equal(fu.user_name, 'nobody@example.test');
  assert.equal(fu.user_id, undefined);
  const s = logs.find((l) => l.type === 's');
  assert.ok(s);
  assert.equal(s.user_id, user.user_id);
  assert.equal(s.client_id, app.client_id);
  assert.equal(s.connection, 'Username-Password-Authentication');
  // Nothing recorded carries the password typed.
  assert.ok(!JSON.stringify(logs).includes('not-the-password'));

  const one = await management.logs.get(String(fp.log_id));
  assert.equal(one.type, 'fp');
  assert.equal(one.log_id, fp.log_id);
  const missing = await rejection(() => management.logs.get('99999999999999999'));
  assert.ok(missing instanceof Management.NotFoundError, String(missing));
});

function challenge() {
  const { challenge } = pkcePair();
  return { code_challenge: challenge, code_challenge_method: 'S256', scope: 'openid offline_access', state: 'st' };
}

test('a code exchange, a refresh and a refresh token reuse are logged as seacft, sertft and fertft', async () => {
  const browser = new Browser(server.issuer);
  const { code, verifier } = await authorizationCode(
    server,
    browser,
    { client_id: app.client_id, redirect_uri: redirectUri, scope: 'openid offline_access' },
    { email, password: TEST_PASSWORD },
  );
  const exchanged = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
  const first = exchanged.body.refresh_token as string;
  const refreshed = await tokenRequest(server, { grant_type: 'refresh_token', client_id: app.client_id, refresh_token: first });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  const reused = await tokenRequest(server, { grant_type: 'refresh_token', client_id: app.client_id, refresh_token: first });
  assert.equal(reused.status, 403);
  const replayed = await tokenRequest(server, {
    grant_type: 'authorization_code',
    client_id: app.client_id,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.equal(replayed.status, 403);

  const logs = await allLogs();
  const seacft = logs.filter((l) => l.type === 'seacft').at(-1);
  assert.ok(seacft);
  assert.equal(seacft.client_id, app.client_id);
  assert.equal(seacft.user_id, user.user_id);
  const sertft = logs.filter((l) => l.type === 'sertft').at(-1);
  assert.ok(sertft);
  assert.equal(sertft.user_id, user.user_id);
  const fertft = logs.filter((l) => l.type === 'fertft');
  assert.equal(fertft.length, 1, JSON.stringify(fertft));
  assert.match(String(fertft[0]!.description), /reuse detected/i);
  assert.equal(fertft[0]!.user_id, user.user_id);
  const replay = logs.filter((l) => l.type === 'feacft');
  assert.equal(replay.length, 1, JSON.stringify(replay));
  assert.match(String(replay[0]!.description), /reuse detected/i);
  assert.equal(replay[0]!.user_id, user.user_id);
  for (const token of [first, refreshed.body.refresh_token, code]) assert.ok(!JSON.stringify(logs).includes(token));

  // The user's own logs, newest first.
  await written();
  const mine = await management.users.logs.list(user.user_id, { per_page: 100, include_totals: true });
  assert.ok(mine.data.length >= 5);
  assert.ok(mine.data.every((l) => l.user_id === user.user_id));
  const dates = mine.data.map((l) => Date.parse(String(l.date)));
  assert.deepEqual(
    dates,
    [...dates].sort((a, b) => b - a),
  );
  assert.equal((mine.response as { total?: number }).total, mine.data.length);
});

test('a Management API change is logged as sapi with its actor and the fields set, never their values', async () => {
  const created = await management.clients.create({ name: 'Audited app', app_type: 'non_interactive' });
  const secret = created.client_secret!;
  assert.ok(secret);
  await management.users.update(user.user_id, { password: 'Another-horse-43', user_metadata: { plan: 'gold' } });
  const logs = await allLogs();
  const sapi = logs.filter((l) => l.type === 'sapi');
  const create = sapi.filter((l) => (l.details as any)?.request?.path === '/api/v2/clients').at(-1);
  assert.ok(create, JSON.stringify(sapi));
  assert.equal(create.client_id, server.admin.clientId);
  assert.equal((create.details as any).request.method, 'post');
  assert.deepEqual((create.details as any).request.fields, ['name', 'app_type']);
  assert.equal((create.details as any).response.statusCode, 201);
  const update = sapi.find((l) => (l.details as any)?.request?.path === `/api/v2/users/${encodeURIComponent(user.user_id)}`);
  assert.ok(update, JSON.stringify(sapi.map((l) => l.details)));
  assert.deepEqual((update.details as any).request.fields, ['password', 'user_metadata']);
  const text = JSON.stringify(logs);
  assert.ok(!text.includes(secret), 'a client secret was logged');
  assert.ok(!text.includes('Another-horse-43'), 'a password was logged');
  assert.ok(!text.includes('gold'), 'a value set was logged');
  const scp = logs.find((l) => l.type === 'scp');
  assert.equal(scp?.user_id, user.user_id);
  // Restore the password the other tests sign in with.
  await management.users.update(user.user_id, { password: TEST_PASSWORD });

  const failed = await rejection(() => management.clients.create({ name: '' }));
  assert.equal(failed.statusCode, 400);
  const fapi = (await allLogs()).filter((l) => l.type === 'fapi').at(-1);
  assert.equal((fapi?.details as any)?.response?.statusCode, 400);
});

test('q filters by type, user_id, client_id, connection and date; bad queries are 400 in Auth0 shape', async () => {
  await written();
  const byType = await management.logs.list({ search: 'type:fp', per_page: 100 });
  assert.ok(byType.data.length >= 1);
  assert.ok(byType.data.every((l) => l.type === 'fp'));
  const either = await management.logs.list({ search: `type:(s OR fu) AND user_id:"${user.user_id}"`, per_page: 100 });
  assert.ok(either.data.length >= 1);
  assert.ok(either.data.every((l) => l.type === 's' && l.user_id === user.user_id));
  const byClient = await management.logs.list({ search: `client_id:${app.client_id} connection:Username-Password-Authentication` });
  assert.ok(byClient.data.length >= 1);
  assert.ok(byClient.data.every((l) => l.client_id === app.client_id && l.connection === 'Username-Password-Authentication'));
  const future = await management.logs.list({ search: 'date:[2100-01-01 TO *]' });
  assert.deepEqual(future.data, []);
  const past = await management.logs.list({ search: `date:[2000-01-01 TO ${new Date(Date.now() + 60_000).toISOString()}]`, per_page: 5 });
  assert.equal(past.data.length, 5);

  for (const q of ['type:', 'nosuchfield:x', 'type:s OR user_id:x', 'type:f*', 'date:[yesterday TO *]', '"just text"', 'type:(s OR']) {
    const response = await fetch(`${server.issuer}api/v2/logs?q=${encodeURIComponent(q)}`, {
      headers: { authorization: `Bearer ${await server.managementToken()}` },
    });
    assert.equal(response.status, 400, q);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.statusCode, 400, q);
    assert.equal(body.error, 'Bad Request', q);
    assert.equal(body.errorCode, 'invalid_query_string', q);
    assert.equal(typeof body.message, 'string', q);
  }
  const badSort = await server.management('GET', '/logs?sort=type:1');
  assert.equal(badSort.status, 400);
  const badFrom = await server.management('GET', '/logs?from=abc&take=5');
  assert.equal(badFrom.status, 400);
});

test("read:logs is required, and read:logs_users is enough for a user's logs", async () => {
  const usersOnly = new ManagementClient({ domain: new URL(server.issuer).host, token: await server.managementToken('read:users') });
  const forbidden = await rejection(() => usersOnly.logs.list());
  assert.ok(forbidden instanceof Management.ForbiddenError);
  const userLogs = new ManagementClient({ domain: new URL(server.issuer).host, token: await server.managementToken('read:logs_users') });
  assert.ok((await userLogs.users.logs.list(user.user_id)).data.length > 0);
  assert.ok((await rejection(() => userLogs.logs.list())) instanceof Management.ForbiddenError);
});
