import type { LogEventRepository } from '../storage/types.js';
import type { EventSink } from './emit.js';
import { isSecurityCritical, LOG_EVENT_TYPES, type LogEvent, type LogEventInput } from './types.js';

export interface EventLogOptions {
  now: () => number;
  retentionDays: number;
  /** Most events kept; the oldest beyond it are swept whatever their age. */
  maxEvents?: number;
  /** Events held in memory waiting for their batch; past it ordinary events are dropped (and counted). */
  maxBuffered?: number;
  /** Extra room that only security-critical events (locks, refresh reuse, admin changes) may use. */
  reservedForCritical?: number;
  /** Largest batch written in one statement. */
  batchSize?: number;
  /** How long an event may wait in memory before its batch is written. */
  flushIntervalMs?: number;
  /** How often events past their retention are deleted. */
  sweepIntervalMs?: number;
}

export interface EventLogLogger {
  warn(data: object, message: string): void;
}

type Pending = Omit<LogEvent, 'log_id'>;

const MAX_DESCRIPTION = 1024;

/**
 * The one place every tenant log event goes through (`recordEvent` in emit.ts hands them here), and
 * the one writer of the `log_events` table. A later log stream reads that table in `log_id` order
 * from its own cursor (LogEventRepository.after), so it needs nothing from here.
 *
 * Recording never waits for the database: an event is put in a bounded buffer and written with others
 * in one background insert, a few times a second or as soon as a batch is full. A sign-in therefore
 * costs an object push, whatever the database is doing. When the database cannot keep up and the
 * buffer is full, new events are dropped rather than blocking requests or growing memory without
 * bound; each drop is counted and the count is logged as a warning. Writing synchronously instead
 * would let a slow or locked log table stall every sign-in, and an event flood (a credential-stuffing
 * run of `fp` events) would become an outage. So that such a flood cannot push out the events an
 * operator needs most (an account locked, a refresh token reused, an administrator's change), those
 * have a reserved share of the buffer that ordinary events cannot fill.
 */
export class EventLog implements EventSink {
  private buffer: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  /** Events dropped since the last warning, and in total. */
  private droppedSinceWarning = 0;
  droppedTotal = 0;
  log: EventLogLogger | undefined;
  private readonly maxBuffered: number;
  private readonly reservedForCritical: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;

  constructor(
    private readonly store: Pick<LogEventRepository, 'insertMany' | 'deleteBefore' | 'deleteBeyond'>,
    private readonly options: EventLogOptions,
  ) {
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.reservedForCritical = options.reservedForCritical ?? 1_000;
    this.batchSize = options.batchSize ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
  }

  emit(input: LogEventInput): void {
    // A retention of 0 days keeps nothing, so nothing is recorded (the benchmark's "without events").
    if (this.closed || this.options.retentionDays === 0) return;
    const limit = isSecurityCritical(input) ? this.maxBuffered + this.reservedForCritical : this.maxBuffered;
    if (this.buffer.length >= limit) {
      this.droppedSinceWarning++;
      this.droppedTotal++;
      return;
    }
    this.buffer.push({
      ...input,
      date: new Date(this.options.now()).toISOString(),
      // Descriptions may quote a request (an audience, a scope): bounded like everything stored for anyone.
      description: (input.description ?? LOG_EVENT_TYPES[input.type]).slice(0, MAX_DESCRIPTION),
    });
    if (this.buffer.length >= this.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushIntervalMs).unref();
  }

  /** Starts the retention sweep. */
  start(): void {
    if (this.options.retentionDays === 0) return;
    const every = this.options.sweepIntervalMs ?? 10 * 60_000;
    void this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), every).unref();
  }

  /** Writes everything buffered so far (tests and shutdown wait on it). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // One writer at a time: batches of one node are stored in the order they were recorded.
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return this.warnDropped();
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async writeAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.store.insertMany(batch);
      } catch (err) {
        // The database is away: the batch is lost rather than retried forever with memory growing.
        this.droppedSinceWarning += batch.length;
        this.droppedTotal += batch.length;
        this.log?.warn({ err }, 'writing log events failed');
      }
    }
    this.warnDropped();
  }

  private warnDropped(): void {
    if (this.droppedSinceWarning === 0) return;
    this.log?.warn(
      { dropped: this.droppedSinceWarning, droppedTotal: this.droppedTotal },
      'log events dropped: the event buffer was full or the database refused them',
    );
    this.droppedSinceWarning = 0;
  }

  /** Deletes events past the retention (and beyond the most kept), in batches so no statement holds the table for long. */
  async sweep(): Promise<void> {
    const before = new Date(this.options.now() - this.options.retentionDays * 86_400_000).toISOString();
    try {
      while ((await this.store.deleteBefore(before, 5_000)) === 5_000 && !this.closed);
      const { maxEvents } = this.options;
      if (maxEvents !== undefined) while ((await this.store.deleteBeyond(maxEvents, 5_000)) === 5_000 && !this.closed);
    } catch (err) {
      this.log?.warn({ err }, 'sweeping log events failed');
    }
  }

  /** Writes what is buffered and stops; events recorded afterwards are ignored. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.flush();
    this.closed = true;
  }
}
