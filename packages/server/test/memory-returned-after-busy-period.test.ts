import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config.js';
import { committedHeapBytes, startMemoryTrim } from '../src/memory-trim.js';

/** Keeps the event loop busy for `ms` while leaving garbage behind (promoted, so the old space grows too). */
async function busyPeriod(ms: number): Promise<void> {
  const end = Date.now() + ms;
  let kept: object[] = [];
  while (Date.now() < end) {
    for (let i = 0; i < 20_000; i++) kept.push({ i, text: `garbage ${i}`, list: [i, i + 1] });
    if (kept.length > 400_000) kept = [];
    await sleep(0); // the timer's interval must be able to run
  }
}

test('after a busy period, an idle interval returns the heap V8 kept (a full collection, once)', async () => {
  const freed: number[] = [];
  const trim = startMemoryTrim(1, (bytes) => freed.push(bytes));
  try {
    await busyPeriod(2_500);
    const before = committedHeapBytes();
    assert.ok(before > 64 * 1024 * 1024, `the busy period left ${before} bytes of heap`);
    await sleep(2_500); // at least one whole idle interval after the busy ones
    assert.equal(trim.trims, 1);
    assert.equal(freed.length, 1);
    assert.ok(freed[0]! > 16 * 1024 * 1024, `freed ${freed[0]} bytes`);
    assert.ok(committedHeapBytes() < before / 2, `${committedHeapBytes()} bytes left of ${before}`);
    await sleep(2_200); // still idle: no busy interval since, so no second collection
    assert.equal(trim.trims, 1);
  } finally {
    trim.stop();
  }
});

test('LATCHKEY_MEMORY_TRIM_IDLE_SECONDS=0 turns it off', async () => {
  assert.equal(loadConfig({}).memoryTrimIdleSeconds, 10);
  assert.equal(loadConfig({ LATCHKEY_MEMORY_TRIM_IDLE_SECONDS: '0' }).memoryTrimIdleSeconds, 0);
  const trim = startMemoryTrim(0);
  await busyPeriod(1_000);
  await sleep(1_500);
  assert.equal(trim.trims, 0);
  trim.stop();
});
