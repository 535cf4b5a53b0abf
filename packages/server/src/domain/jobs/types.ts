/** Auth0's job types, as `type` on the wire. */
export type JobType = 'users_import' | 'users_export';

/**
 * Auth0's statuses, plus `uploading`: the file is still arriving on the node that took the request.
 * Such a job is never shown (nobody has its id yet) and is deleted if that node dies mid-upload.
 */
export type JobStatus = 'uploading' | 'pending' | 'processing' | 'completed' | 'failed';

export interface ImportSummary {
  failed: number;
  updated: number;
  inserted: number;
  total: number;
}

export interface ExportField {
  name: string;
  export_as?: string;
}

/** What a job remembers besides its state: its request, its progress and its outcome. */
export interface JobData {
  /** Both empty for an export of every user of the tenant (one asked without connection_id). */
  connection_id: string;
  connection: string;
  external_id?: string;
  /** Import: update users whose email is taken instead of failing them. */
  upsert?: boolean;
  send_completion_email?: boolean;
  /** Import: how many chunks the upload stored, and how many users they hold. */
  chunks?: number;
  records?: number;
  summary?: ImportSummary;
  /** Export. */
  format?: 'json' | 'csv';
  fields?: ExportField[];
  limit?: number;
  exported?: number;
  /** Export: the last user_id written (users go out in user_id order, a keyset page at a time); file parts written so far. */
  after?: string;
  parts?: number;
  /** Why a job failed as a whole (a malformed file, a connection deleted meanwhile). */
  status_details?: string;
  started_at?: string;
  /** Runs begun: a job whose node keeps dying is failed after a few, rather than retried forever. */
  attempts?: number;
}

export interface JobRecord {
  id: string;
  type: JobType;
  status: JobStatus;
  data: JobData;
  /** The next unit of work: a chunk to import, or a page to export. Committed with that unit's effects. */
  cursor: number;
  /** The node holding the job, until `leaseUntil`; a node that stops renewing loses it to another. */
  owner: string | null;
  leaseUntil: string | null;
  created_at: string;
  /** When the job, its errors and its file are deleted. */
  expires_at: string;
}
