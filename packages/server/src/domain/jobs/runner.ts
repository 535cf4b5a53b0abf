import { randomUUID } from 'node:crypto';
import { PollingLoop } from '../../background.js';
import type { Storage } from '../../storage/types.js';
import { conflict, DomainError } from '../errors.js';
import { newDatabaseUserId } from '../ids.js';
import { MAX_JOB_ERRORS } from './jobs.js';
import type { JobRecord } from './types.js';
import type { StoredImportUser } from './user-import-file.js';
import { exportPage, USERS_PER_PAGE } from './users-export.js';
import { importChunk } from './users-import.js';

export interface JobRunnerOptions {
  /** How long a claim lasts without renewal; each committed chunk or page renews it. */
  leaseMs?: number;
  /** How often an idle node looks for work (it is also woken when a job is created here). */
  pollMs?: number;
  now: () => number;
}

export interface JobLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A job that failed this many runs (its node died, or the database failed it) fails visibly instead of looping. */
const MAX_ATTEMPTS = 5;

/** Another node took the job over (this one was too slow to renew its lease): this node's transaction rolls back. */
const leaseLost = () => conflict('Another node holds the job now.', 'job_lease_lost');
const isLeaseLost = (err: unknown) => err instanceof DomainError && err.code === 'job_lease_lost';

/**
 * Runs jobs in the background on every node. A node claims a job with a compare-and-set on its
 * lease (storage/kysely/jobs.ts); each unit of work (an import chunk, an export page) commits in
 * one transaction together with the job's cursor and a renewed lease, written only while this node
 * still holds the claim. So a unit is done exactly once: if the node dies, the lease runs out and
 * another node (or this one restarted) resumes at the committed cursor; if it was merely slow and
 * lost the lease, its transaction rolls back.
 */
export class JobRunner {
  readonly nodeId = randomUUID();
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly loop = new PollingLoop(
    () => this.drain(),
    (err) => this.log.error({ err }, 'job runner failed'),
  );
  /** Set to the server's logger once it exists. */
  log: JobLog = { warn: () => {}, error: () => {} };

  constructor(
    private readonly storage: Storage,
    private readonly options: JobRunnerOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollMs = options.pollMs ?? 2_000;
  }

  start(): void {
    this.loop.start(this.pollMs);
  }

  /** Looks for work now (a job was just created on this node). */
  wake(): void {
    this.loop.wake();
  }

  /** Stops taking work and waits for the unit in progress; the job's lease then lets another node resume it. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private iso(offsetMs = 0): string {
    return new Date(this.options.now() + offsetMs).toISOString();
  }

  private async drain(): Promise<void> {
    while (!this.loop.stopped) {
      const job = await this.storage.jobs.claim(this.nodeId, this.iso(), this.iso(this.leaseMs));
      if (!job) return;
      await this.run(job);
    }
  }

  private async run(claimed: JobRecord): Promise<void> {
    let job: JobRecord = { ...claimed, data: { ...claimed.data, started_at: claimed.data.started_at ?? this.iso() } };
    const attempts = job.data.attempts ?? 0;
    if (attempts >= MAX_ATTEMPTS) {
      await this.finish(job, 'failed', `The job was interrupted ${attempts} times and was stopped.`);
      return;
    }
    job = { ...job, data: { ...job.data, attempts: attempts + 1 } };
    if (!(await this.storage.jobs.save(job, this.nodeId))) return;
    try {
      while (!this.loop.stopped) {
        const next = job.type === 'users_import' ? await this.importStep(job) : await this.exportStep(job);
        if (next === 'done') return;
        job = next;
      }
      // Stopping (a graceful shutdown): hand the job back at once rather than when the lease runs out.
      // A handover is no failure: the run it began is not counted against the job.
      const handedBack = { ...job, owner: null, leaseUntil: null, data: { ...job.data, attempts } };
      await this.storage.jobs.save(handedBack, this.nodeId);
    } catch (err) {
      if (isLeaseLost(err)) return;
      // Left claimed: the lease runs out and the job is retried from its cursor, up to MAX_ATTEMPTS runs.
      this.log.warn({ err, job: job.id }, 'job step failed; it will be retried');
    }
  }

  /** Ends the job; import chunks (which hold password hashes) go at once, the rest when the job expires. */
  private async finish(job: JobRecord, status: 'completed' | 'failed', details?: string): Promise<'done'> {
    const done: JobRecord = {
      ...job,
      status,
      owner: null,
      leaseUntil: null,
      data: { ...job.data, ...(details ? { status_details: details } : {}) },
    };
    await this.storage.transaction(async (tx) => {
      if (!(await tx.jobs.save(done, this.nodeId))) throw leaseLost();
      await tx.jobs.deleteChunks(job.id);
    });
    return 'done';
  }

  private async importStep(job: JobRecord): Promise<JobRecord | 'done'> {
    const connection = await this.storage.connections.get(job.data.connection_id);
    if (!connection || connection.name !== job.data.connection) return this.finish(job, 'failed', 'The connection was deleted.');
    if (job.cursor >= (job.data.chunks ?? 0)) {
      if ((job.data.summary?.inserted ?? 0) >= 10_000) await this.storage.jobs.analyzeUsers();
      return this.finish(job, 'completed');
    }
    const text = await this.storage.jobs.getChunk(job.id, job.cursor);
    if (text === undefined) return this.finish(job, 'failed', `Chunk ${job.cursor} of the upload is missing.`);
    const stored = JSON.parse(text) as StoredImportUser[];
    return this.storage.transaction(async (tx) => {
      const requiresUsername = connection.options.requires_username === true;
      const result = await importChunk(tx, job, stored, this.iso(), newDatabaseUserId, requiresUsername);
      const summary = job.data.summary ?? { failed: 0, updated: 0, inserted: 0, total: 0 };
      const kept = result.failures.slice(0, Math.max(0, MAX_JOB_ERRORS - summary.failed));
      await tx.jobs.addErrors(
        job.id,
        kept.map((f) => ({ seq: f.seq, data: JSON.stringify(f.failure) })),
      );
      const next = this.advance(job, {
        summary: {
          failed: summary.failed + result.failures.length,
          updated: summary.updated + result.updated,
          inserted: summary.inserted + result.inserted,
          total: summary.total + stored.length,
        },
      });
      if (!(await tx.jobs.save(next, this.nodeId))) throw leaseLost();
      return next;
    });
  }

  /** The job one unit of work further (its cursor past the unit just done), its lease renewed. */
  private advance(job: JobRecord, data: Partial<JobRecord['data']>): JobRecord {
    return { ...job, cursor: job.cursor + 1, leaseUntil: this.iso(this.leaseMs), data: { ...job.data, ...data } };
  }

  private async exportStep(job: JobRecord): Promise<JobRecord | 'done'> {
    const limit = job.data.limit;
    const exported = job.data.exported ?? 0;
    const take = Math.min(USERS_PER_PAGE, limit !== undefined ? limit - exported : USERS_PER_PAGE);
    const after = job.data.after;
    const records =
      take > 0
        ? await this.storage.users.listRecordsAfter(
            { ...(job.data.connection !== '' ? { connection: job.data.connection } : {}), ...(after ? { afterUserId: after } : {}) },
            take,
          )
        : [];
    // Only the users go on: their password hashes stay behind, never reaching an export file.
    const page = { items: records.map((record) => record.user) };
    const first = job.cursor === 0;
    if (page.items.length === 0 && !first) return this.finish(job, 'completed');
    const last = page.items[page.items.length - 1];
    const next = this.advance(job, {
      exported: exported + page.items.length,
      parts: job.cursor + 1,
      ...(last ? { after: last.user_id } : {}),
    });
    const part = exportPage(job, page.items, first);
    await this.storage.transaction(async (tx) => {
      await tx.jobs.putFilePart(job.id, job.cursor, part);
      if (!(await tx.jobs.save(next, this.nodeId))) throw leaseLost();
    });
    return page.items.length < take || take === 0 ? this.finish(next, 'completed') : next;
  }
}
