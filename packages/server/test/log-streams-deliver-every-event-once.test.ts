/**
 * Log streams (/api/v2/log-streams) through Auth0's SDK, and their delivery to a real HTTP receiver
 * (node:http here) that is down and comes back: it gets every event in order with no gaps and none
 * twice, across a node restart and with two nodes sharing one database. The receiver's
 * authorization header is sealed at rest and never answered.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Management, ManagementClient } from 'auth0';
import { LogStreamDelivery } from '../src/events/log-stream-delivery.js';
import type { LogEventType } from '../src/events/types.js';
import { freePort, startTestServer, type TestServer, trustTestCa } from './helpers/server.js';

let primary: TestServer;
let management: ManagementClient;
const AUTHORIZATION = 'Bearer receiver-s3cret-value';

before(async () => {
  trustTestCa();
  primary = await startTestServer({ https: true });
  // The primary node serves the Management API only: each test starts the delivering nodes it needs.
  await primary.ctx.logStreams.stop();
  management = new ManagementClient({
    domain: new URL(primary.issuer).host,
    clientId: primary.admin.clientId,
    clientSecret: primary.admin.clientSecret,
  });
});
after(() => primary?.close());

/** A webhook receiver that can be taken down and brought back on the same port. */
class Receiver {
  readonly received: string[] = [];
  readonly headers: IncomingHttpHeaders[] = [];
  private server: Server | undefined;
  /** Requests still to be refused with a 503 (a receiver up but failing). */
  refuse = 0;
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/logs`;
  }

  async up(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        if (this.refuse > 0) {
          this.refuse--;
          response.writeHead(503).end('busy');
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        const parsed = text.trimStart().startsWith('[')
          ? (JSON.parse(text) as unknown[])
          : text.split('\n').map((line) => JSON.parse(line) as unknown);
        for (const item of parsed as Array<{ log_id: string; data: { log_id: string } }>) {
          assert.equal(item.data.log_id, item.log_id);
          this.received.push(item.log_id);
        }
        this.headers.push(request.headers);
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function rejection(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

/** Records `count` events on `node` and waits until they are written. */
async function record(node: TestServer, label: string, count: number, type: LogEventType = 'sapi'): Promise<void> {
  for (let i = 0; i < count; i++) node.ctx.events.emit({ type, description: `${label} ${i}` });
  await node.ctx.events.flush();
}

/** Every event stored after the stream's starting cursor, in log_id order. */
async function storedSince(cursor: string | null): Promise<string[]> {
  // The Management API's own events (the stream's creation, an sapi) are written in the background too.
  await primary.ctx.events.flush();
  const ids: string[] = [];
  let from = cursor ?? undefined;
  for (;;) {
    const page = await primary.ctx.storage.logEvents.after(from, 500);
    if (page.length === 0) return ids;
    ids.push(...page.map((e) => e.log_id));
    from = page[page.length - 1]!.log_id;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function createHttpStream(receiver: Receiver, format: 'JSONARRAY' | 'JSONLINES') {
  return (await management.logStreams.create({
    type: 'http',
    name: `receiver ${receiver.port}`,
    sink: {
      httpEndpoint: receiver.url,
      httpAuthorization: AUTHORIZATION,
      httpContentFormat: format,
      httpContentType: 'application/json',
      httpCustomHeaders: [{ header: 'x-tenant', value: 'latchkey-test' }],
    },
  })) as Record<string, any>;
}

test('the SDK creates, lists, reads, updates and deletes a stream; the authorization header is never answered', async () => {
  const created = (await management.logStreams.create({
    type: 'http',
    name: 'Webhook',
    sink: { httpEndpoint: 'https://logs.example.test/in', httpAuthorization: AUTHORIZATION, httpContentFormat: 'JSONARRAY' },
    filters: [{ type: 'category', name: 'auth.login.fail' }],
  })) as Record<string, any>;
  assert.match(created.id, /^lst_/);
  assert.equal(created.status, 'active');
  assert.equal(created.type, 'http');
  assert.deepEqual(created.sink, {
    httpEndpoint: 'https://logs.example.test/in',
    httpContentFormat: 'JSONARRAY',
    httpContentType: 'application/json',
  });
  assert.deepEqual(created.filters, [{ type: 'category', name: 'auth.login.fail' }]);

  const listed = await management.logStreams.list();
  assert.deepEqual(
    listed.map((s) => s.id),
    [created.id],
  );
  const updated = (await management.logStreams.update(created.id, {
    name: 'Renamed',
    status: 'paused',
    sink: { httpEndpoint: 'https://logs.example.test/other' },
  })) as Record<string, any>;
  assert.equal(updated.name, 'Renamed');
  assert.equal(updated.status, 'paused');
  assert.equal(updated.sink.httpEndpoint, 'https://logs.example.test/other');
  assert.equal(updated.sink.httpContentFormat, 'JSONARRAY');
  const read = (await management.logStreams.get(created.id)) as Record<string, any>;
  assert.deepEqual(read, updated);

  // Nowhere in any answer, nor in clear in the database; a sink updated without it keeps it.
  for (const body of [created, listed, updated, read, (await primary.management('GET', `/log-streams/${created.id}`)).body]) {
    assert.ok(!JSON.stringify(body).includes('s3cret'), JSON.stringify(body));
    assert.ok(!JSON.stringify(body).includes('httpAuthorization'), JSON.stringify(body));
  }
  const row = await primary.ctx.storage.logStreams.get(created.id);
  assert.ok(row?.authorization && !row.authorization.includes('s3cret'));
  assert.equal(primary.ctx.secrets.decrypt(row.authorization, `log stream ${created.id} authorization`), AUTHORIZATION);

  const stdout = (await management.logStreams.create({ type: 'latchkey-stdout', name: 'stdout' } as any)) as Record<string, any>;
  assert.equal(stdout.type, 'latchkey-stdout');
  assert.equal(stdout.sink, undefined);

  // Bad input answers 400 in the Management API's shape.
  const bad = [
    { type: 'splunk', sink: { httpEndpoint: 'https://x.example' } },
    { type: 'http', sink: {} },
    { type: 'http', sink: { httpEndpoint: 'not a url' } },
    { type: 'http', sink: { httpEndpoint: 'ftp://x.example/' } },
    { type: 'http', sink: { httpEndpoint: 'https://x.example', httpCustomHeaders: [{ header: 'Authorization', value: 'x' }] } },
    { type: 'http', sink: { httpEndpoint: 'https://x.example' }, filters: [{ type: 'category', name: 'nope' }] },
    { type: 'latchkey-stdout', sink: { httpEndpoint: 'https://x.example' } },
    { type: 'http', sink: { httpEndpoint: 'https://x.example', httpContentType: 'application/json\r\nX-Injected: 1' } },
    { type: 'http', sink: { httpEndpoint: 'https://x.example', httpAuthorization: 'Bearer a\nb' } },
  ];
  for (const body of bad) {
    const answer = await primary.management('POST', '/log-streams', body);
    assert.equal(answer.status, 400, JSON.stringify({ body, answer: answer.body }));
    assert.equal(answer.body.statusCode, 400);
  }
  const suspend = await primary.management('PATCH', `/log-streams/${created.id}`, { status: 'suspended' });
  assert.equal(suspend.status, 400);

  await management.logStreams.delete(created.id);
  await management.logStreams.delete(stdout.id);
  const missing = await rejection(() => management.logStreams.get(created.id));
  assert.ok(missing instanceof Management.NotFoundError, String(missing));
  assert.deepEqual(await management.logStreams.list(), []);
});

test('a receiver that is down gets every event, once and in order, when it comes back', async () => {
  const node = await startTestServer({ shareWith: primary });
  const receiver = new Receiver(await freePort());
  try {
    const stream = await createHttpStream(receiver, 'JSONARRAY');
    const start = (await primary.ctx.storage.logStreams.get(stream.id))!.cursor;
    await record(node, 'while down', 150);
    await until('failed attempts', async () => ((await primary.ctx.storage.logStreams.get(stream.id))?.failures ?? 0) >= 2);
    assert.deepEqual(receiver.received, []);
    await record(node, 'still down', 30);
    await receiver.up();
    const expected = await storedSince(start);
    assert.ok(expected.length >= 180);
    await until('every event', () => receiver.received.length >= expected.length);
    await sleep(300);
    assert.deepEqual(receiver.received, expected);
    for (const headers of receiver.headers) {
      assert.equal(headers.authorization, AUTHORIZATION);
      assert.equal(headers['x-tenant'], 'latchkey-test');
      assert.equal(headers['content-type'], 'application/json');
    }
    const after = (await primary.ctx.storage.logStreams.get(stream.id))!;
    assert.equal(after.failures, 0);
    assert.equal(after.cursor, expected[expected.length - 1]);
    await management.logStreams.delete(stream.id);
  } finally {
    await node.close();
    await receiver.down();
  }
});

test('events left undelivered when the only node stops are delivered by the next one to start', async () => {
  const receiver = new Receiver(await freePort());
  const first = await startTestServer({ shareWith: primary });
  let second: TestServer | undefined;
  try {
    const stream = await createHttpStream(receiver, 'JSONLINES');
    const start = (await primary.ctx.storage.logStreams.get(stream.id))!.cursor;
    await record(first, 'before restart', 120);
    await until('a failed attempt', async () => ((await primary.ctx.storage.logStreams.get(stream.id))?.failures ?? 0) >= 1);
    await first.close();
    await receiver.up();
    await sleep(200);
    assert.deepEqual(receiver.received, [], 'nothing delivers while no node runs');
    second = await startTestServer({ shareWith: primary });
    await record(second, 'after restart', 10);
    const expected = await storedSince(start);
    await until('every event', () => receiver.received.length >= expected.length);
    await sleep(300);
    assert.deepEqual(receiver.received, expected);
    await management.logStreams.delete(stream.id);
  } finally {
    await first.close();
    await second?.close();
    await receiver.down();
  }
});

test('two nodes on one database deliver each event once, in order', async () => {
  const receiver = new Receiver(await freePort());
  await receiver.up();
  const a = await startTestServer({ shareWith: primary });
  const b = await startTestServer({ shareWith: primary });
  try {
    const stream = await createHttpStream(receiver, 'JSONLINES');
    const start = (await primary.ctx.storage.logStreams.get(stream.id))!.cursor;
    for (let round = 0; round < 6; round++) {
      await record(round % 2 === 0 ? a : b, `round ${round}`, 60);
      // Both nodes look at once, racing for the stream.
      a.ctx.logStreams.wake();
      b.ctx.logStreams.wake();
    }
    const expected = await storedSince(start);
    await until('every event', () => receiver.received.length >= expected.length);
    await sleep(1500);
    assert.equal(new Set(receiver.received).size, receiver.received.length, 'an event was delivered twice');
    assert.deepEqual(receiver.received, expected);
    await management.logStreams.delete(stream.id);
  } finally {
    await a.close();
    await b.close();
    await receiver.down();
  }
});

test('a receiver failing for long suspends the stream; paused and suspended streams wait; active resumes from the cursor', async () => {
  const receiver = new Receiver(await freePort());
  let clock = Date.now();
  const delivery = new LogStreamDelivery(primary.ctx.storage.logStreams, primary.ctx.storage.logEvents, primary.ctx.secrets, {
    now: () => clock,
    retryMinMs: 1000,
    suspendAfterMs: 60_000,
  });
  const stream = await createHttpStream(receiver, 'JSONARRAY');
  const start = (await primary.ctx.storage.logStreams.get(stream.id))!.cursor;
  await record(primary, 'suspension', 5);
  await delivery.deliverNow();
  const failing = (await primary.ctx.storage.logStreams.get(stream.id))!;
  assert.equal(failing.failures, 1);
  // Within the backoff nothing is tried.
  await delivery.deliverNow();
  assert.equal((await primary.ctx.storage.logStreams.get(stream.id))!.failures, 1);
  clock += 30_000;
  await delivery.deliverNow();
  assert.equal((await primary.ctx.storage.logStreams.get(stream.id))!.failures, 2);
  assert.equal(((await management.logStreams.get(stream.id)) as Record<string, any>).status, 'active');
  clock += 40_000;
  await delivery.deliverNow();
  assert.equal(((await management.logStreams.get(stream.id)) as Record<string, any>).status, 'suspended');

  await receiver.up();
  try {
    clock += 600_000;
    await delivery.deliverNow();
    assert.deepEqual(receiver.received, [], 'a suspended stream is not delivered');
    await management.logStreams.update(stream.id, { status: 'paused' });
    await delivery.deliverNow();
    assert.deepEqual(receiver.received, [], 'a paused stream is not delivered');
    await management.logStreams.update(stream.id, { status: 'active' });
    const expected = await storedSince(start);
    await delivery.deliverNow();
    assert.ok(expected.length >= 5);
    assert.deepEqual(receiver.received, expected);
    assert.equal((await primary.ctx.storage.logStreams.get(stream.id))!.failures, 0);
  } finally {
    await management.logStreams.delete(stream.id);
    await delivery.stop();
    await receiver.down();
  }
});

test('a latchkey-stdout stream writes one JSON line per event, only the categories it filters on', async () => {
  const lines: string[] = [];
  const delivery = new LogStreamDelivery(primary.ctx.storage.logStreams, primary.ctx.storage.logEvents, primary.ctx.secrets, {
    now: Date.now,
    writeLine: (line) => lines.push(line),
  });
  const stream = (await primary.management('POST', '/log-streams', {
    type: 'latchkey-stdout',
    name: 'failed logins',
    filters: [{ type: 'category', name: 'auth.login.fail' }],
  })) as { status: number; body: Record<string, any> };
  assert.equal(stream.status, 200, JSON.stringify(stream.body));
  try {
    await record(primary, 'wrong password', 3, 'fp');
    await record(primary, 'admin change', 3, 'sapi');
    await record(primary, 'unknown user', 2, 'fu');
    await delivery.deliverNow();
    const events = lines.map((line) => JSON.parse(line) as { log_id: string; data: { type: string; description: string } });
    assert.deepEqual(
      events.map((e) => e.data.type),
      ['fp', 'fp', 'fp', 'fu', 'fu'],
    );
    assert.deepEqual(
      events.map((e) => e.log_id),
      [...events.map((e) => e.log_id)].sort(),
    );
    await delivery.deliverNow();
    assert.equal(lines.length, 5, 'delivered events are not written again');
  } finally {
    await primary.management('DELETE', `/log-streams/${stream.body.id}`);
    await delivery.stop();
  }
});

test('a receiver answering 503 gets the refused batches again; one node holds a stream at a time', async () => {
  const receiver = new Receiver(await freePort());
  await receiver.up();
  let clock = Date.now();
  const delivery = new LogStreamDelivery(primary.ctx.storage.logStreams, primary.ctx.storage.logEvents, primary.ctx.secrets, {
    now: () => clock,
    batchSize: 10,
  });
  const stream = await createHttpStream(receiver, 'JSONLINES');
  try {
    const start = (await primary.ctx.storage.logStreams.get(stream.id))!.cursor;
    await record(primary, 'refused', 35);
    const expected = await storedSince(start);
    receiver.refuse = 2;
    for (let i = 0; i < 5 && receiver.received.length < expected.length; i++) {
      await delivery.deliverNow();
      clock += 10 * 60_000;
    }
    assert.equal(receiver.refuse, 0);
    assert.deepEqual(receiver.received, expected);

    // The lease is a compare-and-set: of two nodes claiming at once, one gets the stream; the other
    // can neither take it nor move its cursor until the lease runs out.
    const { logStreams } = primary.ctx.storage;
    const now = new Date(clock).toISOString();
    const until = new Date(clock + 60_000).toISOString();
    const claims = await Promise.all([
      logStreams.claim(stream.id, 'node-a', now, until),
      logStreams.claim(stream.id, 'node-b', now, until),
    ]);
    assert.equal(claims.filter(Boolean).length, 1);
    const [holder, other] = claims[0] ? ['node-a', 'node-b'] : ['node-b', 'node-a'];
    const state = { leaseUntil: until, failures: 0, failingSince: null, retryAt: null, cursor: '00000000000000000001' };
    assert.equal(await logStreams.progress(stream.id, other, state), false);
    assert.equal((await logStreams.get(stream.id))!.cursor, expected[expected.length - 1]);
    assert.equal(await logStreams.claim(stream.id, other, now, until), undefined);
    const later = new Date(clock + 61_000).toISOString();
    assert.ok(await logStreams.claim(stream.id, other, later, new Date(clock + 120_000).toISOString()));
    assert.equal(await logStreams.progress(stream.id, holder, state), false, 'a lease that ran out was lost');
  } finally {
    await management.logStreams.delete(stream.id);
    await delivery.stop();
    await receiver.down();
  }
});
