import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { LogStreamProgress, LogStreamRecord, LogStreamRepository, LogStreamSettings } from '../types.js';
import { logIdOf } from './log-events.js';

type Row = Database['log_streams'];

const toRecord = (row: Row): LogStreamRecord => ({
  id: row.id,
  name: row.name,
  type: row.type,
  status: row.status as LogStreamRecord['status'],
  sink: JSON.parse(row.sink) as Record<string, unknown>,
  authorization: row.authorization,
  filters: JSON.parse(row.filters) as LogStreamRecord['filters'],
  cursor: row.cursor,
  owner: row.owner,
  leaseUntil: row.lease_until,
  failures: Number(row.failures),
  failingSince: row.failing_since,
  retryAt: row.retry_at,
  created_at: row.created_at,
});

function settingsRow(changes: Partial<LogStreamSettings>): Partial<Row> {
  const row: Partial<Row> = {};
  if (changes.name !== undefined) row.name = changes.name;
  if (changes.type !== undefined) row.type = changes.type;
  if (changes.status !== undefined) row.status = changes.status;
  if (changes.sink !== undefined) row.sink = JSON.stringify(changes.sink);
  if (changes.authorization !== undefined) row.authorization = changes.authorization;
  if (changes.filters !== undefined) row.filters = JSON.stringify(changes.filters);
  return row;
}

export class KyselyLogStreams implements LogStreamRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<LogStreamRecord[]> {
    const rows = await this.db.selectFrom('log_streams').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toRecord);
  }

  async get(id: string): Promise<LogStreamRecord | undefined> {
    const row = await this.db.selectFrom('log_streams').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async create(stream: LogStreamSettings & { id: string; created_at: string }): Promise<LogStreamRecord> {
    // Events are numbered in commit order (0025), so the newest number now is where this stream starts.
    const newest = await this.db.selectFrom('log_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const row: Row = {
      id: stream.id,
      name: stream.name,
      type: stream.type,
      status: stream.status,
      sink: JSON.stringify(stream.sink),
      authorization: stream.authorization,
      filters: JSON.stringify(stream.filters),
      cursor: newest ? logIdOf(newest.seq) : null,
      owner: null,
      lease_until: null,
      failures: 0,
      failing_since: null,
      retry_at: null,
      created_at: stream.created_at,
    };
    await this.db.insertInto('log_streams').values(row).execute();
    return toRecord(row);
  }

  async update(id: string, changes: Partial<LogStreamSettings>, resume: boolean): Promise<boolean> {
    const row = settingsRow(changes);
    if (resume) Object.assign(row, { failures: 0, failing_since: null, retry_at: null });
    if (Object.keys(row).length === 0) return (await this.get(id)) !== undefined;
    const result = await this.db.updateTable('log_streams').set(row).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('log_streams').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async claim(id: string, owner: string, now: string, leaseUntil: string): Promise<LogStreamRecord | undefined> {
    // A compare-and-set: when two nodes race for one stream, exactly one update matches.
    const due = (eb: ExpressionBuilder<Database, 'log_streams'>) =>
      eb.and([
        eb('id', '=', id),
        eb('status', '=', 'active'),
        eb.or([eb('owner', 'is', null), eb('owner', '=', owner), eb('lease_until', 'is', null), eb('lease_until', '<', now)]),
        eb.or([eb('retry_at', 'is', null), eb('retry_at', '<=', now)]),
      ]);
    const result = await this.db.updateTable('log_streams').set({ owner, lease_until: leaseUntil }).where(due).executeTakeFirst();
    return result.numUpdatedRows > 0n ? this.get(id) : undefined;
  }

  async progress(id: string, owner: string, state: LogStreamProgress): Promise<boolean> {
    const row: Partial<Row> = {
      lease_until: state.leaseUntil,
      owner: state.leaseUntil === null ? null : owner,
      failures: state.failures,
      failing_since: state.failingSince,
      retry_at: state.retryAt,
    };
    if (state.cursor !== undefined) row.cursor = state.cursor;
    const result = await this.db.updateTable('log_streams').set(row).where('id', '=', id).where('owner', '=', owner).executeTakeFirst();
    if (state.suspend && result.numUpdatedRows > 0n) {
      // Only an active stream is suspended: a pause an administrator set meanwhile stands.
      await this.db.updateTable('log_streams').set({ status: 'suspended' }).where('id', '=', id).where('status', '=', 'active').execute();
    }
    return result.numUpdatedRows > 0n;
  }
}
