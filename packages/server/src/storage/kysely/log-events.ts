import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { LogFilter } from '../../events/log-query.js';
import type { LogEvent, LogEventType } from '../../events/types.js';
import type { Database } from '../schema.js';
import type { LogEventRepository } from '../types.js';
import { atomically } from './shared.js';

type Row = Database['log_events'];
type Selected = Omit<Row, 'seq'> & { seq: number | string };

const LOG_ID_DIGITS = 20;

/** The `log_id` is the insert number, zero-padded so that ids sort as text in the order they were stored. */
export const logIdOf = (seq: number | string): string => String(seq).padStart(LOG_ID_DIGITS, '0');

/** The number a log_id stands for, or undefined for anything this server did not hand out. */
export function seqOf(logId: string): number | undefined {
  if (!/^\d{1,20}$/.test(logId)) return undefined;
  const seq = Number(logId);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

const OPTIONAL = [
  'description',
  'client_id',
  'client_name',
  'connection',
  'connection_id',
  'user_id',
  'user_name',
  'ip',
  'user_agent',
  'hostname',
  'audience',
  'scope',
  'strategy',
  'strategy_type',
] as const;

function toRow(event: Omit<LogEvent, 'log_id'>): Omit<Row, 'seq'> {
  const row = { date: event.date, type: event.type, details: event.details ? JSON.stringify(event.details) : null } as Omit<Row, 'seq'>;
  for (const key of OPTIONAL) row[key] = event[key] ?? null;
  return row;
}

function toEvent(row: Selected): LogEvent {
  // Auth0's order: date, type, description, who and where, details, then log_id.
  const event = { date: row.date, type: row.type as LogEventType } as LogEvent;
  for (const key of OPTIONAL) {
    const value = row[key];
    if (value !== null) event[key] = value;
  }
  if (row.details !== null) event.details = JSON.parse(row.details) as Record<string, unknown>;
  event.log_id = logIdOf(row.seq);
  return event;
}

const COLUMNS = ['seq', 'date', 'type', 'details', ...OPTIONAL] as const;

function matching(filter: LogFilter) {
  return (eb: ExpressionBuilder<Database, 'log_events'>) => {
    const conditions = [];
    for (const [field, values] of Object.entries(filter.equals)) {
      if (!values) continue;
      if (field === 'log_id') {
        const seqs = values.map(seqOf).filter((s): s is number => s !== undefined);
        conditions.push(seqs.length > 0 ? eb('seq', 'in', seqs) : sql<boolean>`1 = 0`);
      } else {
        conditions.push(eb(field as (typeof OPTIONAL)[number] | 'type', 'in', values));
      }
    }
    const { date } = filter;
    if (date?.after !== undefined) conditions.push(eb('date', date.afterInclusive ? '>=' : '>', date.after));
    if (date?.before !== undefined) conditions.push(eb('date', date.beforeInclusive ? '<=' : '<', date.before));
    return eb.and(conditions);
  };
}

export class KyselyLogEvents implements LogEventRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async insertMany(events: Array<Omit<LogEvent, 'log_id'>>): Promise<void> {
    if (events.length === 0) return;
    await atomically(this.db, async (trx) => {
      // Numbers come from a sequence, but PostgreSQL commits need not follow them: a batch numbered
      // 5 could commit after one numbered 6 has been read, and a reader at 6 would never see 5. One
      // batch at a time (this lock conflicts with itself, not with readers) makes numbering order
      // commit order. Batches are few (one per node every few hundred ms), so the wait is short.
      // SQLite has one writer at a time already.
      if (this.dialect === 'postgres') await sql`lock table log_events in share row exclusive mode`.execute(trx);
      await trx.insertInto('log_events').values(events.map(toRow)).execute();
    });
  }

  async get(logId: string): Promise<LogEvent | undefined> {
    const seq = seqOf(logId);
    if (seq === undefined) return undefined;
    const row = await this.db.selectFrom('log_events').select(COLUMNS).where('seq', '=', seq).executeTakeFirst();
    return row ? toEvent(row) : undefined;
  }

  async search(
    filter: LogFilter,
    options: { descending: boolean; offset: number; limit: number; includeTotal: boolean },
  ): Promise<{ items: LogEvent[]; total?: number }> {
    const direction = options.descending ? 'desc' : 'asc';
    const rows = await this.db
      .selectFrom('log_events')
      .select(COLUMNS)
      .where(matching(filter))
      .orderBy('date', direction)
      .orderBy('seq', direction)
      .limit(options.limit)
      .offset(options.offset)
      .execute();
    const items = rows.map(toEvent);
    if (!options.includeTotal) return { items };
    const { n } = await this.db
      .selectFrom('log_events')
      .select(sql<string | number>`count(*)`.as('n'))
      .where(matching(filter))
      .executeTakeFirstOrThrow();
    return { items, total: Number(n) };
  }

  async after(from: string | undefined, take: number): Promise<LogEvent[]> {
    let query = this.db.selectFrom('log_events').select(COLUMNS);
    if (from !== undefined) query = query.where('seq', '>', seqOf(from) ?? Number.MAX_SAFE_INTEGER);
    const rows = await query.orderBy('seq').limit(take).execute();
    return rows.map(toEvent);
  }

  async deleteBeyond(keep: number, limit: number): Promise<number> {
    // Numbers only grow (gaps left by rolled-back inserts included), so everything numbered at or
    // below the newest minus `keep` is beyond the newest `keep` events: one indexed range, no count(*).
    const newest = await this.db.selectFrom('log_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!newest) return 0;
    const below = Number(newest.seq) - keep;
    if (below <= 0) return 0;
    const result = await this.db
      .deleteFrom('log_events')
      .where('seq', 'in', (eb) => eb.selectFrom('log_events').select('seq').where('seq', '<=', below).orderBy('seq').limit(limit))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteBefore(date: string, limit: number): Promise<number> {
    const result = await this.db
      .deleteFrom('log_events')
      .where('seq', 'in', (eb) => eb.selectFrom('log_events').select('seq').where('date', '<', date).orderBy('seq').limit(limit))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
