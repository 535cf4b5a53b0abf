import { randomUUID } from 'node:crypto';
import { PollingLoop } from '../background.js';
import type { Encrypter } from '../crypto/encryption.js';
import { authorizationContext, HTTP_STREAM, STDOUT_STREAM, streamCarries } from '../domain/log-streams.js';
import type { LogEventRepository, LogStreamRecord, LogStreamRepository } from '../storage/types.js';
import type { LogEvent } from './types.js';

export interface LogStreamDeliveryOptions {
  now: () => number;
  /** How long a node holds a stream without renewing; longer than one request to a receiver may take. */
  leaseMs?: number;
  /** How often each stream is looked at (new events, a receiver back up). */
  pollMs?: number;
  /** Most events sent in one request. */
  batchSize?: number;
  /** A receiver that has not accepted the whole batch by then has failed it. */
  requestTimeoutMs?: number;
  /** First wait after a failed batch; it doubles with each failure up to `retryMaxMs`. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** A stream whose receiver has failed every attempt for this long is suspended. */
  suspendAfterMs?: number;
  /** Where `latchkey-stdout` streams write their lines (the process's standard output unless a test says otherwise). */
  writeLine?: (line: string) => void;
}

export interface LogStreamLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Auth0's webhook payload: each event as `{log_id, data}`. */
const envelope = (event: LogEvent) => ({ log_id: event.log_id, data: event });

class DeliveryFailed extends Error {}

/**
 * Delivers every log stream from its durable cursor, on every node. A node takes a stream with a
 * compare-and-set on its lease (storage/kysely/log-streams.ts), reads the events numbered after the
 * cursor (numbers follow commit order on every node, see migration 0025, so nothing committed later
 * can appear behind the cursor), sends them in batches of up to `batchSize`, and moves the cursor past
 * each batch the receiver accepted (a 2xx answer), still under its lease. So one node delivers a
 * stream at a time, and a receiver that is down gets every event once it is back, whatever restarts
 * happen in between: the cursor waits in the database.
 *
 * Delivery is at-least-once, as Auth0's is: a node that dies (or loses its lease to a receiver slower
 * than the lease) after the receiver accepted a batch but before the cursor was written leaves the
 * batch to be sent again. Receivers deduplicate on `log_id`.
 *
 * A failed batch is retried after a backoff (retryMinMs doubling up to retryMaxMs), kept in the row so
 * every node honours it. A receiver that has failed every attempt for `suspendAfterMs` (24 hours by
 * default) gets its stream `suspended`, as Auth0 suspends a stream whose sink keeps failing; PATCH
 * `status: active` resumes it from its cursor. Events older than the log retention are deleted by
 * then and are not delivered.
 */
export class LogStreamDelivery {
  readonly nodeId = randomUUID();
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly requestTimeoutMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly suspendAfterMs: number;
  private readonly loop = new PollingLoop(
    () => this.deliverAll(),
    (err) => this.log.error({ err }, 'log stream delivery failed'),
  );
  private readonly stopping = new AbortController();
  log: LogStreamLog = { warn: () => {}, error: () => {} };

  constructor(
    private readonly streams: LogStreamRepository,
    private readonly events: Pick<LogEventRepository, 'after'>,
    private readonly secrets: Encrypter,
    private readonly options: LogStreamDeliveryOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.batchSize = options.batchSize ?? 100;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.retryMinMs = options.retryMinMs ?? 1_000;
    this.retryMaxMs = options.retryMaxMs ?? 5 * 60_000;
    this.suspendAfterMs = options.suspendAfterMs ?? 24 * 3600_000;
  }

  start(): void {
    this.loop.start(this.pollMs);
  }

  /** Looks at every stream now. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops between batches (a request in flight is abandoned) and hands this node's streams back. */
  async stop(): Promise<void> {
    const stopped = this.loop.stop();
    this.stopping.abort();
    await stopped;
  }

  /** Runs one pass over every stream and waits for it (tests). */
  deliverNow(): Promise<void> {
    return this.loop.runNow();
  }

  private iso(offsetMs = 0): string {
    return new Date(this.options.now() + offsetMs).toISOString();
  }

  private async deliverAll(): Promise<void> {
    for (const stream of await this.streams.list()) {
      if (this.loop.stopped) return;
      if (stream.status !== 'active') continue;
      // Reads before the claim: a stream with nothing new, or in its backoff, costs no write.
      if (stream.retryAt !== null && stream.retryAt > this.iso()) continue;
      if ((await this.events.after(stream.cursor ?? undefined, 1)).length === 0) continue;
      const claimed = await this.streams.claim(stream.id, this.nodeId, this.iso(), this.iso(this.leaseMs));
      if (claimed) await this.deliver(claimed);
    }
  }

  private async deliver(claimed: LogStreamRecord): Promise<void> {
    let stream = claimed;
    let cursor = stream.cursor ?? undefined;
    for (;;) {
      if (this.loop.stopped) break;
      const read = await this.events.after(cursor, this.batchSize);
      if (read.length === 0) break;
      const batch = read.filter((event) => streamCarries(stream.filters, event));
      try {
        if (batch.length > 0) await this.send(stream, batch);
      } catch (err) {
        // A request cut short by shutdown is no failure of the receiver: the stream is handed back as it was.
        if (this.loop.stopped) break;
        await this.failed(stream, err);
        return;
      }
      cursor = read[read.length - 1]!.log_id;
      const kept = await this.streams.progress(stream.id, this.nodeId, {
        cursor,
        leaseUntil: this.iso(this.leaseMs),
        failures: 0,
        failingSince: null,
        retryAt: null,
      });
      // Another node took the stream over (this one was slower than its lease): it goes on from the cursor.
      if (!kept) return;
      stream = { ...stream, failures: 0, failingSince: null };
      if (read.length < this.batchSize) break;
    }
    // Handed back, so that another node may take the stream at its next look without waiting for the lease.
    await this.streams.progress(stream.id, this.nodeId, { leaseUntil: null, failures: 0, failingSince: null, retryAt: null });
  }

  private async failed(stream: LogStreamRecord, err: unknown): Promise<void> {
    const now = this.options.now();
    const failingSince = stream.failingSince ?? new Date(now).toISOString();
    const failures = stream.failures + 1;
    const wait = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(failures - 1, 30));
    const suspend = now - Date.parse(failingSince) >= this.suspendAfterMs;
    this.log.warn(
      { err: err instanceof DeliveryFailed ? err.message : err, logStream: stream.id, failures, suspended: suspend },
      suspend ? 'log stream suspended: its receiver has failed for too long' : 'log stream delivery failed; it will be retried',
    );
    await this.streams.progress(stream.id, this.nodeId, {
      leaseUntil: null,
      failures,
      failingSince,
      retryAt: new Date(now + wait).toISOString(),
      suspend,
    });
  }

  private async send(stream: LogStreamRecord, batch: LogEvent[]): Promise<void> {
    if (stream.type === STDOUT_STREAM) {
      const write = this.options.writeLine ?? ((line: string) => process.stdout.write(`${line}\n`));
      for (const event of batch) write(JSON.stringify(envelope(event)));
      return;
    }
    if (stream.type !== HTTP_STREAM) throw new DeliveryFailed(`unknown stream type ${stream.type}`);
    const sink = stream.sink as {
      httpEndpoint: string;
      httpContentFormat: string;
      httpContentType: string;
      httpCustomHeaders?: Array<{ header: string; value: string }>;
    };
    const headers = new Headers();
    for (const { header, value } of sink.httpCustomHeaders ?? []) headers.set(header, value);
    headers.set('content-type', sink.httpContentType);
    if (stream.authorization) headers.set('authorization', this.secrets.decrypt(stream.authorization, authorizationContext(stream.id)));
    const bodies =
      sink.httpContentFormat === 'JSONARRAY'
        ? [JSON.stringify(batch.map(envelope))]
        : sink.httpContentFormat === 'JSONOBJECT'
          ? // One event per request, the body a single JSON object.
            batch.map((event) => JSON.stringify(envelope(event)))
          : [batch.map((event) => JSON.stringify(envelope(event))).join('\n')];
    // One deadline for the whole batch (JSONOBJECT sends a request per event), well inside the lease.
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    for (const body of bodies) {
      const response = await fetch(sink.httpEndpoint, { method: 'POST', headers, body, signal, redirect: 'manual' });
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status < 200 || response.status > 299) throw new DeliveryFailed(`the receiver answered ${response.status}`);
    }
  }
}
