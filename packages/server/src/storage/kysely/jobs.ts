import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { JobRecord, JobType } from '../../domain/jobs/types.js';
import type { Database } from '../schema.js';
import type { JobRepository } from '../types.js';
import { atomically } from './shared.js';

type JobRow = Database['jobs'];

const toRow = (job: JobRecord): JobRow => ({
  id: job.id,
  type: job.type,
  status: job.status,
  data: JSON.stringify(job.data),
  cursor: job.cursor,
  owner: job.owner,
  lease_until: job.leaseUntil,
  created_at: job.created_at,
  expires_at: job.expires_at,
});

const toJob = (row: JobRow): JobRecord => ({
  id: row.id,
  type: row.type as JobType,
  status: row.status as JobRecord['status'],
  data: JSON.parse(row.data) as JobRecord['data'],
  cursor: Number(row.cursor),
  owner: row.owner,
  leaseUntil: row.lease_until,
  created_at: row.created_at,
  expires_at: row.expires_at,
});

/** Statuses that hold a place against the per-tenant limit of unfinished jobs. */
const ACTIVE = ['uploading', 'pending', 'processing'];

export class KyselyJobs implements JobRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  create(job: JobRecord, maxActive: number): Promise<boolean> {
    return atomically(this.db, async (trx) => {
      // The count and the insert must not interleave with another node's: PostgreSQL serialises
      // them on a transaction-scoped advisory lock. SQLite has one writer at a time, but a transaction
      // that reads first and then writes fails (SQLITE_BUSY) when another wrote in between: a write
      // first (one that changes nothing) takes the write lock, waiting its turn, before the count.
      if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.jobs'))`.execute(trx);
      else await trx.deleteFrom('jobs').where(sql<boolean>`1 = 0`).execute();
      const { n } = await trx
        .selectFrom('jobs')
        .select(sql<string | number>`count(*)`.as('n'))
        .where('type', '=', job.type)
        .where('status', 'in', ACTIVE)
        .executeTakeFirstOrThrow();
      if (Number(n) >= maxActive) return false;
      await trx.insertInto('jobs').values(toRow(job)).execute();
      return true;
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async save(job: JobRecord, owner: string | null): Promise<boolean> {
    const { id, created_at: _created, ...changes } = toRow(job);
    let query = this.db.updateTable('jobs').set(changes).where('id', '=', id);
    query = owner === null ? query.where('owner', 'is', null) : query.where('owner', '=', owner);
    const result = await query.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async claim(owner: string, now: string, leaseUntil: string): Promise<JobRecord | undefined> {
    const claimable = (eb: ExpressionBuilder<Database, 'jobs'>) =>
      eb.and([eb('status', 'in', ['pending', 'processing']), eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)])]);
    // A few candidates, oldest first; each is taken with a compare-and-set on the same condition, so
    // when two nodes race for one job exactly one update matches and the other tries the next.
    const candidates = await this.db
      .selectFrom('jobs')
      .select('id')
      .where((eb) => claimable(eb))
      .orderBy('created_at')
      .limit(5)
      .execute();
    for (const { id } of candidates) {
      const result = await this.db
        .updateTable('jobs')
        .set({ owner, lease_until: leaseUntil, status: 'processing' })
        .where('id', '=', id)
        .where((eb) => claimable(eb))
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return this.get(id);
    }
    return undefined;
  }

  async putChunk(jobId: string, seq: number, data: string): Promise<void> {
    await this.db.insertInto('job_chunks').values({ job_id: jobId, seq, data }).execute();
  }

  async getChunk(jobId: string, seq: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('job_chunks').select('data').where('job_id', '=', jobId).where('seq', '=', seq).executeTakeFirst();
    return row?.data;
  }

  async deleteChunks(jobId: string): Promise<void> {
    await this.db.deleteFrom('job_chunks').where('job_id', '=', jobId).execute();
  }

  async addErrors(jobId: string, errors: Array<{ seq: number; data: string }>): Promise<void> {
    for (let i = 0; i < errors.length; i += 1000) {
      await this.db
        .insertInto('job_errors')
        .values(errors.slice(i, i + 1000).map((e) => ({ job_id: jobId, ...e })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  async listErrors(jobId: string, limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom('job_errors').select('data').where('job_id', '=', jobId).orderBy('seq').limit(limit).execute();
    return rows.map((r) => r.data);
  }

  async putFilePart(jobId: string, seq: number, data: Buffer): Promise<void> {
    await this.db.insertInto('job_file_parts').values({ job_id: jobId, seq, data }).execute();
  }

  async getFilePart(jobId: string, seq: number): Promise<Buffer | undefined> {
    const row = await this.db
      .selectFrom('job_file_parts')
      .select('data')
      .where((eb) => eb.and({ job_id: jobId, seq }))
      .executeTakeFirst();
    return row ? Buffer.from(row.data) : undefined;
  }

  async delete(jobId: string): Promise<void> {
    await atomically(this.db, async (trx) => {
      for (const table of ['job_chunks', 'job_errors', 'job_file_parts'] as const)
        await trx.deleteFrom(table).where('job_id', '=', jobId).execute();
      await trx.deleteFrom('jobs').where('id', '=', jobId).execute();
    });
  }

  async analyzeUsers(): Promise<void> {
    if (this.dialect === 'postgres') await sql`analyze users, user_search_terms`.execute(this.db);
  }

  async deleteExpired(now: string): Promise<number> {
    // Expired jobs, and uploads whose node stopped renewing them (it died mid-upload).
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where((eb) => eb.or([eb('expires_at', '<', now), eb.and([eb('status', '=', 'uploading'), eb('lease_until', '<', now)])]))
      .limit(1000)
      .execute();
    for (const { id } of rows) await this.delete(id);
    return rows.length;
  }
}
