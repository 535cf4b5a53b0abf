import { randomBytes } from 'node:crypto';
import type { Storage } from '../../storage/types.js';
import { DomainError, invalid, invalidField, notFound } from '../errors.js';
import type { ExportField, JobRecord, JobType } from './types.js';
import { storeUsersFile } from './user-import-file.js';

/** Auth0 lets a tenant have two import jobs (and two exports) pending or running at once. */
export const MAX_ACTIVE_JOBS_PER_TYPE = 2;
/**
 * Per-user errors kept for one job, and listed by `GET /jobs/{id}/errors`. The summary still counts
 * every failure; the list stops here, or a file of millions of tiny bad users (`[1,1,1,...]`) would
 * store fifty times its size in errors.
 */
export const MAX_JOB_ERRORS = 10_000;
/** How long a job, its errors and its export file are kept. */
export const JOB_RETENTION_MS = 24 * 3600 * 1000;

export const newJobId = () => `job_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16)}`;

const tooMany = (type: JobType) =>
  new DomainError(
    'limit',
    'too_many_requests',
    `There are already ${MAX_ACTIVE_JOBS_PER_TYPE} ${type === 'users_import' ? 'import' : 'export'} jobs pending or running; ` +
      'wait for one to finish.',
  );

async function databaseConnection(storage: Pick<Storage, 'connections'>, connectionId: string) {
  const connection = await storage.connections.get(connectionId);
  if (!connection) throw notFound('The connection does not exist', 'inexistent_connection');
  if (connection.strategy !== 'auth0') throw invalidField('connection_id', 'The connection must be a database connection (strategy auth0)');
  return connection;
}

export interface ImportRequest {
  connection_id: string;
  upsert: boolean;
  external_id?: string;
  send_completion_email: boolean;
}

/**
 * Takes an upload: a job is created first (it holds a place against the limit while the file
 * streams in), the file is stored as chunks under it, and only then is it handed to the runners.
 * `fields` resolves the form fields, which multipart clients (Auth0's SDK) send after the file.
 * Anything wrong with the upload deletes the job and all it stored: nothing half-received is run.
 */
export async function receiveImport(
  storage: Pick<Storage, 'jobs' | 'connections'>,
  owner: string,
  file: AsyncIterable<Buffer>,
  fields: () => Promise<ImportRequest>,
  now: number,
  uploadLeaseMs: number,
): Promise<JobRecord> {
  const created = new Date(now).toISOString();
  let job: JobRecord = {
    id: newJobId(),
    type: 'users_import',
    status: 'uploading',
    data: { connection_id: '', connection: '' },
    cursor: 0,
    owner,
    leaseUntil: new Date(now + uploadLeaseMs).toISOString(),
    created_at: created,
    expires_at: new Date(now + JOB_RETENTION_MS).toISOString(),
  };
  if (!(await storage.jobs.create(job, MAX_ACTIVE_JOBS_PER_TYPE))) throw tooMany('users_import');
  try {
    const { chunks, records } = await storeUsersFile(storage.jobs, job.id, file);
    const request = await fields();
    const connection = await databaseConnection(storage, request.connection_id);
    job = {
      ...job,
      status: 'pending',
      owner: null,
      leaseUntil: null,
      data: {
        connection_id: connection.id,
        connection: connection.name,
        upsert: request.upsert,
        send_completion_email: request.send_completion_email,
        ...(request.external_id !== undefined ? { external_id: request.external_id } : {}),
        chunks,
        records,
      },
    };
    if (!(await storage.jobs.save(job, owner))) throw invalid('The upload took too long.', 'invalid_body');
    return job;
  } catch (err) {
    await storage.jobs.delete(job.id);
    throw err;
  }
}

export interface ExportRequest {
  /** Absent: every user of the tenant, of every connection (Auth0). */
  connection_id?: string;
  format?: 'json' | 'csv';
  fields?: ExportField[];
  limit?: number;
}

export async function createExport(
  storage: Pick<Storage, 'jobs' | 'connections'>,
  request: ExportRequest,
  now: number,
): Promise<JobRecord> {
  // Any connection's users can be exported (social and enterprise ones too), or, without one, all users.
  const connection = request.connection_id === undefined ? undefined : await storage.connections.get(request.connection_id);
  if (request.connection_id !== undefined && !connection) throw notFound('The connection does not exist', 'inexistent_connection');
  const job: JobRecord = {
    id: newJobId(),
    type: 'users_export',
    status: 'pending',
    data: {
      // Empty for an export of the whole tenant (the job shows no connection then).
      connection_id: connection?.id ?? '',
      connection: connection?.name ?? '',
      format: request.format ?? 'json',
      ...(request.fields ? { fields: request.fields } : {}),
      ...(request.limit !== undefined ? { limit: request.limit } : {}),
    },
    cursor: 0,
    owner: null,
    leaseUntil: null,
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + JOB_RETENTION_MS).toISOString(),
  };
  if (!(await storage.jobs.create(job, MAX_ACTIVE_JOBS_PER_TYPE))) throw tooMany('users_export');
  return job;
}

/** Whether the job is past its retention: it is gone from then on, whenever the sweep deletes its rows. */
export const jobExpired = (job: JobRecord, now: number) => Date.parse(job.expires_at) <= now;

export async function getJob(storage: Pick<Storage, 'jobs'>, id: string, now: number): Promise<JobRecord> {
  const job = await storage.jobs.get(id);
  // An upload still arriving has no id anyone was told: it does not exist yet.
  if (!job || job.status === 'uploading' || jobExpired(job, now)) throw notFound('The job does not exist.', 'inexistent_job');
  return job;
}

/**
 * Auth0's job shape. Progress is estimated from the units done, and time left from the pace so far.
 * `location` (a completed export's file) is added by the caller, which knows how links are signed.
 */
export function presentJob(job: JobRecord, now: number): Record<string, unknown> {
  const { data } = job;
  const base: Record<string, unknown> = {
    type: job.type,
    status: job.status,
    ...(data.connection_id !== '' ? { connection_id: data.connection_id, connection: data.connection } : {}),
    created_at: job.created_at,
    id: job.id,
    ...(data.external_id !== undefined ? { external_id: data.external_id } : {}),
  };
  if (job.type === 'users_export') {
    base.format = data.format;
    if (data.fields) base.fields = data.fields;
    if (data.limit !== undefined) base.limit = data.limit;
  } else {
    base.upsert = data.upsert ?? false;
  }
  if (job.status === 'processing') {
    const units = job.type === 'users_import' ? (data.chunks ?? 1) : undefined;
    const done = units ? Math.min(99, Math.floor((job.cursor / units) * 100)) : 0;
    base.percentage_done = done;
    const started = data.started_at ? Date.parse(data.started_at) : now;
    base.time_left_seconds = done > 0 ? Math.round((((now - started) / done) * (100 - done)) / 1000) : 0;
  }
  if (job.status === 'completed') base.percentage_done = 100;
  if (job.type === 'users_import' && (job.status === 'completed' || job.status === 'failed' || job.status === 'processing')) {
    base.summary = data.summary ?? { failed: 0, updated: 0, inserted: 0, total: 0 };
  }
  if (job.status === 'failed' && data.status_details) base.status_details = data.status_details;
  return base;
}

/** Per-user errors as stored, at most `limit` of them (Auth0 answers a bounded list). */
export async function jobErrors(storage: Pick<Storage, 'jobs'>, job: JobRecord, limit: number): Promise<unknown[]> {
  return (await storage.jobs.listErrors(job.id, limit)).map((text) => JSON.parse(text) as unknown);
}
