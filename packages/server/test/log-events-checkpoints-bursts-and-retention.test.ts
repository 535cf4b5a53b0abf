import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventLog } from '../src/events/event-log.js';
import type { LogEvent } from '../src/events/types.js';
import type { LogEventRepository } from '../src/storage/types.js';
import { TestClock, tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The event log's promises: checkpoint paging (`from`/`take`) returns every event once and in order
 * while two nodes write; a burst of events fails no request; old events are swept.
 */
const servers: TestServer[] = [];
after(async () => {
  for (const server of servers.reverse()) await server.close();
});

async function readPage(server: TestServer, from: string | undefined): Promise<LogEvent[]> {
  const query = new URLSearchParams({ take: '37', ...(from ? { from } : {}) });
  const page = await server.management('GET', `/logs?${query}`);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  assert.ok(Array.isArray(page.body), 'checkpoint pages are bare arrays, as in Auth0');
  return page.body;
}

test('checkpoint paging returns every event once, in order, while two nodes write', async () => {
  const a = await startTestServer();
  servers.push(a);
  const b = await startTestServer({ shareWith: a });
  servers.push(b);
  const written = new Set<string>();
  let writing = true;
  const writer = async (server: TestServer, node: string) => {
    for (let i = 0; i < 400; i++) {
      const description = `${node}-${i}`;
      server.ctx.events.emit({ type: 'sapi', description });
      written.add(description);
      // Small irregular pauses: many batches from each node, overlapping in time.
      if (i % 7 === 0) await sleep(3);
      if (i % 50 === 0) await server.ctx.events.flush();
    }
    await server.ctx.events.flush();
  };
  const writers = Promise.all([writer(a, 'a'), writer(b, 'b')]).then(() => {
    writing = false;
  });

  const seen: LogEvent[] = [];
  let from: string | undefined;
  // Read from both nodes in turn, as a consumer behind a load balancer would, until the writers are done and nothing is left.
  for (let round = 0; ; round++) {
    const stillWriting = writing;
    const page = await readPage(round % 2 === 0 ? a : b, from);
    seen.push(...page);
    if (page.length > 0) from = page.at(-1)!.log_id;
    else if (!stillWriting) break;
    else await sleep(5);
  }
  await writers;

  const ours = seen.filter((e) => e.type === 'sapi' && /^[ab]-\d+$/.test(e.description ?? ''));
  const descriptions = ours.map((e) => e.description!);
  assert.equal(new Set(descriptions).size, descriptions.length, 'an event was returned twice');
  assert.deepEqual(new Set(descriptions), written, 'an event was missed');
  const ids = seen.map((e) => e.log_id);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `log_ids out of order at ${i}: ${ids[i - 1]} then ${ids[i]}`);
  // Each node's events keep the order they were recorded in.
  for (const node of ['a', 'b']) {
    const numbers = descriptions.filter((d) => d.startsWith(`${node}-`)).map((d) => Number(d.slice(2)));
    assert.deepEqual(
      numbers,
      [...numbers].sort((x, y) => x - y),
    );
  }
  // A log_id read from one node is found on the other.
  const last = ours.at(-1)!;
  const again = await b.management('GET', `/logs/${last.log_id}`);
  assert.equal(again.status, 200);
  assert.equal(again.body.description, last.description);
});

test('a burst of events fails no request: past the buffer, ordinary events are dropped and counted, critical ones kept', async () => {
  const server = await startTestServer();
  servers.push(server);
  const real = server.ctx.storage.logEvents;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  // A database that is slow to take the batches: the buffer fills while the requests go on.
  const slow: Pick<LogEventRepository, 'insertMany' | 'deleteBefore' | 'deleteBeyond'> = {
    insertMany: async (events) => {
      await gate;
      await real.insertMany(events);
    },
    deleteBefore: (date, limit) => real.deleteBefore(date, limit),
    deleteBeyond: (keep, limit) => real.deleteBeyond(keep, limit),
  };
  const warnings: object[] = [];
  const events = new EventLog(slow, { now: Date.now, retentionDays: 30, maxBuffered: 20, reservedForCritical: 5, batchSize: 5 });
  events.log = { warn: (data) => warnings.push(data) };
  const original = server.ctx.events;
  server.ctx.events = events;
  try {
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        tokenRequest(server, { grant_type: 'client_credentials', client_id: `burst-${i}`, client_secret: 'wrong', audience: 'x' }),
      ),
    );
    assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([401]));
    assert.ok(events.droppedTotal > 0, 'nothing was dropped: the buffer is not bounded');
    assert.ok(events.droppedTotal <= 120 - 20);
    // The buffer is full of ordinary events; a security-critical one still gets in.
    events.emit({ type: 'limit_wc', description: 'critical after the burst' });
    events.emit({ type: 'feccft', description: 'ordinary after the burst' });
    release();
    await events.flush();
    assert.ok(
      warnings.some((w) => (w as { dropped?: number }).dropped! > 0),
      'drops were not reported',
    );
    const stored = await server.management('GET', `/logs?q=${encodeURIComponent('type:(feccft OR limit_wc)')}&per_page=100`);
    assert.equal(stored.status, 200);
    const descriptions = (stored.body as LogEvent[]).map((e) => e.description);
    assert.ok(descriptions.includes('critical after the burst'));
    assert.ok(!descriptions.includes('ordinary after the burst'));
    const burst = (stored.body as LogEvent[]).filter((e) => e.client_id?.startsWith('burst-'));
    // droppedTotal counts the ordinary event after the burst too.
    assert.equal(burst.length, 120 - (events.droppedTotal - 1), 'every event not dropped was stored');
  } finally {
    release();
    server.ctx.events = original;
    await events.close();
  }
});

test('the sweep keeps at most LATCHKEY_LOGS_MAX_EVENTS, the newest', async () => {
  const server = await startTestServer({ config: { logsMaxEvents: 1000 } });
  servers.push(server);
  // The admin token first: its exchange is an event too, and must not land after the sweep.
  await readPage(server, undefined);
  for (let i = 0; i < 1200; i++) server.ctx.events.emit({ type: 'feccft', description: `flood-${i}` });
  await server.ctx.events.flush();
  await server.ctx.events.sweep();
  const kept: LogEvent[] = [];
  let from: string | undefined;
  for (;;) {
    const page = await readPage(server, from);
    if (page.length === 0) break;
    kept.push(...page);
    from = page.at(-1)!.log_id;
  }
  assert.ok(kept.length <= 1000, `${kept.length} events kept`);
  const flood = kept.filter((e) => e.description?.startsWith('flood-')).map((e) => Number(e.description!.slice(6)));
  assert.ok(flood.includes(1199), 'the newest event was swept');
  assert.ok(!flood.includes(0), 'the oldest event was kept');
  assert.ok(flood.length >= 990);
});

test('events older than LATCHKEY_LOGS_RETENTION_DAYS are swept', async () => {
  const clock = new TestClock();
  const server = await startTestServer({ now: clock.now, config: { logsRetentionDays: 2 } });
  servers.push(server);
  server.ctx.events.emit({ type: 'sapi', description: 'old event' });
  await server.ctx.events.flush();
  clock.advance(3 * 86_400_000);
  server.ctx.events.emit({ type: 'sapi', description: 'new event' });
  await server.ctx.events.flush();
  const before = await server.management('GET', `/logs?q=${encodeURIComponent('type:sapi')}&per_page=100`);
  assert.ok((before.body as LogEvent[]).some((e) => e.description === 'old event'));
  await server.ctx.events.sweep();
  const afterSweep = await server.management('GET', `/logs?q=${encodeURIComponent('type:sapi')}&per_page=100`);
  const descriptions = (afterSweep.body as LogEvent[]).map((e) => e.description);
  assert.ok(descriptions.includes('new event'));
  assert.ok(!descriptions.includes('old event'));
});
