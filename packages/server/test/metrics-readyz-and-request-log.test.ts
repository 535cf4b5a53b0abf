/**
 * What an operator watches: /metrics (Prometheus text, opt-in, behind a bearer token on the public port
 * or on a separate 127.0.0.1 listener), /readyz (database answers and migrations done), and one request
 * log line per request at info, in Fastify's shape plus the route pattern, with no secret in it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { DestinationStream } from 'pino';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import { tokenRequest } from './helpers/protocol.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';
import { createAppClient, createPasswordGrantApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const API = 'https://metrics.example.test/';

function logCapture(): { stream: DestinationStream; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  return { lines, stream: { write: (chunk: string) => void lines.push(JSON.parse(chunk)) } };
}

/** The sum of the samples of `name` whose labels include every one of `labels` (0 when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) total += Number(match[3]);
  }
  return total;
}

async function scrape(url: string, token: string): Promise<string> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

describe('/metrics behind a bearer token on the public port', () => {
  const metricsToken = randomBytes(32).toString('base64url');
  const log = logCapture();
  let server: TestServer;
  let metricsUrl: string;
  before(async () => {
    server = await startTestServer({ config: { metricsToken, logLevel: 'info' }, logStream: log.stream });
    metricsUrl = `${server.issuer}metrics`;
    const api = await server.management('POST', '/resource-servers', { identifier: API, name: 'Metrics API', scopes: [] });
    assert.equal(api.status, 201, JSON.stringify(api.body));
  });
  after(() => server.close());

  test('refused without the token or with another one', async () => {
    assert.equal((await fetch(metricsUrl)).status, 401);
    const wrong = await fetch(metricsUrl, { headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` } });
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(metricsUrl, { headers: { authorization: metricsToken } })).status, 401);
  });

  test('tokens by grant, sign-ins by result, failed Actions and requests by route move', async () => {
    const app = await createPasswordGrantApp(server);
    const user = await createUser(server, 'metrics-user@example.test');
    const m2m = await createAppClient(server, { name: 'failing-m2m', app_type: 'non_interactive', grant_types: ['client_credentials'] });
    await server.management('POST', '/client-grants', { client_id: m2m.client_id, audience: API, scope: [] });
    const before = await scrape(metricsUrl, metricsToken);

    await server.managementToken(); // client_credentials
    const password = { grant_type: 'password', client_id: app.client_id, client_secret: String(app.client_secret) };
    const signedIn = await tokenRequest(server, { ...password, username: 'metrics-user@example.test', password: TEST_PASSWORD });
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    const wrong = await tokenRequest(server, { ...password, username: 'metrics-user@example.test', password: 'not-the-password-1' });
    assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
    const unknown = await tokenRequest(server, { ...password, username: 'nobody@example.test', password: 'not-the-password-1' });
    assert.equal(unknown.status, 403, JSON.stringify(unknown.body));

    // A credentials-exchange Action that throws: the run fails in the sandbox, no token is issued.
    const action = await server.management('POST', '/actions/actions', {
      name: 'throws',
      supported_triggers: [{ id: 'credentials-exchange', version: 'v2' }],
      code: `exports.onExecuteCredentialsExchange = async () => { throw new Error('broken on purpose'); };`,
    });
    assert.equal(action.status, 201, JSON.stringify(action.body));
    await server.management('POST', `/actions/actions/${action.body.id}/deploy`);
    const bound = await server.management('PATCH', '/actions/triggers/credentials-exchange/bindings', {
      bindings: [{ ref: { type: 'action_name', value: 'throws' }, display_name: 'throws' }],
    });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    const refused = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: m2m.client_id,
      client_secret: String(m2m.client_secret),
      audience: API,
    });
    assert.notEqual(refused.status, 200, JSON.stringify(refused.body));
    await server.management('PATCH', '/actions/triggers/credentials-exchange/bindings', { bindings: [] });
    const read = await server.management('GET', `/users/${encodeURIComponent(user.user_id)}`);
    assert.equal(read.status, 200);

    const after = await scrape(metricsUrl, metricsToken);
    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(delta('latchkey_tokens_issued_total', { grant: 'client_credentials' }), 1);
    assert.equal(delta('latchkey_tokens_issued_total', { grant: 'password' }), 1);
    assert.equal(delta('latchkey_sign_ins_total', { result: 'success' }), 1);
    assert.equal(delta('latchkey_sign_ins_total', { result: 'wrong_password' }), 1);
    assert.equal(delta('latchkey_sign_ins_total', { result: 'unknown_user' }), 1);
    const actionRuns = delta('latchkey_sandbox_runs_total', { program: 'action' });
    const actionsOk = delta('latchkey_sandbox_runs_total', { program: 'action', outcome: 'ok' });
    assert.equal(actionRuns - actionsOk, 1, after);
    const route = { route: '/oauth/token', method: 'POST' };
    assert.equal(delta('latchkey_http_request_duration_seconds_count', { ...route, status: '200' }), 2);
    const refusedWith403 = refused.status === 403 ? 1 : 0;
    assert.equal(delta('latchkey_http_request_duration_seconds_count', { ...route, status: '403' }), 2 + refusedWith403);
    // The route pattern, never the raw URL: no user id becomes a label.
    assert.ok(sample(after, 'latchkey_http_request_duration_seconds_count', { route: '/api/v2/users/:id', status: '200' }) >= 1);
    assert.ok(!after.includes(user.user_id), 'a user id appears in the metrics');
    assert.ok(!after.includes(m2m.client_id), 'a client id appears in the metrics');
    // Default process metrics and the event-loop delay.
    assert.ok(sample(after, 'process_cpu_user_seconds_total') > 0);
    assert.match(after, /^nodejs_eventloop_lag_p99_seconds /m);
    if (backend === 'postgres') {
      assert.ok(sample(after, 'latchkey_db_pool_connections') >= 1, after);
      assert.match(after, /^latchkey_db_pool_waiting_requests \d+$/m);
    } else {
      assert.ok(!after.includes('latchkey_db_pool_connections'));
    }
  });

  test('the request log: one info line per request, route and status, and no secret', async () => {
    const ticket = `tk-${randomBytes(12).toString('hex')}`;
    const code = `cd-${randomBytes(12).toString('hex')}`;
    await (await fetch(`${server.issuer}lo/reset?ticket=${ticket}&code=${code}&lang=en`)).arrayBuffer();
    await (
      await fetch(`${server.issuer}userinfo`, { headers: { authorization: 'Bearer opaque-secret-token-value', cookie: 'a=b' } })
    ).text();
    const lines = log.lines.filter((line) => line.msg === 'request completed');
    assert.ok(lines.length >= 10, `${lines.length} request lines`);
    for (const line of lines) {
      assert.equal(line.level, 30);
      assert.equal(typeof line.reqId, 'string');
      assert.equal(typeof line.req.method, 'string');
      assert.equal(typeof line.req.remoteAddress, 'string');
      assert.equal(typeof line.res.statusCode, 'number');
      assert.equal(typeof line.responseTime, 'number');
    }
    const tokenLine = lines.find((line) => line.route === '/oauth/token' && line.res.statusCode === 200);
    assert.ok(tokenLine, 'a /oauth/token line');
    assert.equal(tokenLine.req.url, '/oauth/token');
    const ticketLine = lines.find((line) => String(line.req.url).startsWith('/lo/reset'));
    assert.equal(ticketLine?.req.url, '/lo/reset?ticket=[redacted]&code=[redacted]&lang=en');

    const everything = JSON.stringify(log.lines);
    const secrets = [ticket, code, 'opaque-secret-token-value', TEST_PASSWORD, metricsToken, server.admin.clientSecret];
    for (const secret of secrets) assert.ok(!everything.includes(secret), `${secret} was logged`);
    assert.ok(!/"cookie"|"authorization"/i.test(everything), 'a header was logged');
  });
});

describe('metrics off by default', () => {
  test('/metrics is 404 and no listener is started', async () => {
    const server = await startTestServer();
    try {
      assert.equal(server.metricsUrl, undefined);
      const response = await fetch(`${server.issuer}metrics`);
      assert.equal(response.status, 404);
    } finally {
      await server.close();
    }
  });
});

describe('/metrics on a separate listener', () => {
  test('served on LATCHKEY_METRICS_HOST:PORT, not on the public port; the token, if set, is required there', async () => {
    const metricsToken = randomBytes(32).toString('base64url');
    const open = await startTestServer({ config: { metricsPort: 0 } });
    const guarded = await startTestServer({ config: { metricsPort: 0, metricsToken } });
    try {
      assert.match(String(open.metricsUrl), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.notEqual(new URL(String(open.metricsUrl)).port, new URL(open.issuer).port);
      assert.equal((await fetch(`${open.issuer}metrics`)).status, 404);
      const text = await (await fetch(String(open.metricsUrl))).text();
      assert.match(text, /^# TYPE latchkey_tokens_issued_total counter$/m);
      assert.equal((await fetch(String(open.metricsUrl).replace('/metrics', '/other'))).status, 404);

      assert.equal((await fetch(`${guarded.issuer}metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status, 404);
      assert.equal((await fetch(String(guarded.metricsUrl))).status, 401);
      assert.match(await scrape(String(guarded.metricsUrl), metricsToken), /latchkey_http_request_duration_seconds/);
    } finally {
      await open.close();
      await guarded.close();
    }
  });
});

describe('/readyz', () => {
  test('200 when ready; 503 with a reason while a migration is missing', async () => {
    const server = await startTestServer();
    try {
      const ready = await fetch(`${server.issuer}readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ok' });
      const db = (server.ctx.storage as KyselyStorage).db;
      const last = await db
        .selectFrom('latchkey_migrations' as never)
        .selectAll()
        .orderBy('name' as never, 'desc')
        .limit(1)
        .execute();
      await db
        .deleteFrom('latchkey_migrations' as never)
        .where('name' as never, '=', (last[0] as { name: string }).name as never)
        .execute();
      const behind = await fetch(`${server.issuer}readyz`);
      assert.equal(behind.status, 503);
      assert.deepEqual(await behind.json(), { status: 'unavailable', reason: 'migrations_pending', pending: 1 });
      await db
        .insertInto('latchkey_migrations' as never)
        .values(last[0] as never)
        .execute();
      assert.equal((await fetch(`${server.issuer}readyz`)).status, 200);
      assert.equal((await fetch(`${server.issuer}healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });

  test('503 when the PostgreSQL schema is dropped', { skip: backend !== 'postgres' }, async () => {
    const server = await startTestServer();
    try {
      const schema = new URL(server.databaseUrl).searchParams.get('schema');
      const admin = new pg.Client({ connectionString: server.databaseUrl.split('?')[0] });
      await admin.connect();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.end();
      const response = await fetch(`${server.issuer}readyz`);
      assert.equal(response.status, 503);
      const body = (await response.json()) as Record<string, unknown>;
      assert.equal(body.status, 'unavailable');
      assert.equal(body.reason, 'migrations_pending');
    } finally {
      await server.close();
    }
  });

  test('503 database_unreachable when the storage is stopped', async () => {
    const server = await startTestServer();
    try {
      assert.equal((await fetch(`${server.issuer}readyz`)).status, 200);
      await server.ctx.storage.close();
      const response = await fetch(`${server.issuer}readyz`);
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { status: 'unavailable', reason: 'database_unreachable' });
    } finally {
      // The storage is closed already: closing it again may throw; the schema is dropped all the same.
      await server.app.close();
      await server.ctx.jobs.stop();
      await server.ctx.mailDelivery.stop();
      await server.ctx.background.stop();
      if (backend === 'postgres') {
        const schema = new URL(server.databaseUrl).searchParams.get('schema');
        const admin = new pg.Client({ connectionString: server.databaseUrl.split('?')[0] });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    }
  });
});
