import { gzipSync } from 'node:zlib';
import type { User } from '../types.js';
import type { ExportField, JobRecord } from './types.js';

/** Users per page: one page is one read, one gzip member and one transaction of the export. */
export const USERS_PER_PAGE = 500;

/** What a CSV export holds when no fields are named (JSON exports the whole user). */
const DEFAULT_CSV_FIELDS: ExportField[] = ['user_id', 'email', 'email_verified', 'name', 'nickname', 'created_at', 'updated_at'].map(
  (name) => ({ name }),
);

/** A field by Auth0's export name: a top-level field, a dotted path (`user_metadata.plan`) or an index (`identities[0].connection`). */
function pick(user: User, name: string): unknown {
  let value: unknown = user;
  for (const part of name.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    // Own fields only: `__proto__` or `constructor` would read the object's prototype and its functions.
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // Quoted when needed; a leading formula character is defused, so a spreadsheet does not run a cell.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * One page of the export as one gzip member. A file of concatenated members is a valid gzip file
 * (RFC 1952 §2.2), so each page is committed on its own and a restarted job appends where it stopped.
 * A User holds no password hash (that is the record's, beside it), so none can reach an export.
 */
export function exportPage(job: JobRecord, stored: User[], first: boolean): Buffer {
  // Nor an upstream provider's tokens (sealed on the identities of social users and linked
  // accounts): GET /users shows them only to read:user_idp_tokens, and an export file has no scopes.
  const users = stored.map((user) => ({
    ...user,
    identities: user.identities.map(({ access_token: _access, refresh_token: _refresh, ...identity }) => identity),
  }));
  const fields = job.data.fields && job.data.fields.length > 0 ? job.data.fields : undefined;
  let text = '';
  if (job.data.format === 'csv') {
    const columns = fields ?? DEFAULT_CSV_FIELDS;
    if (first) text += `${columns.map((f) => csvCell(f.export_as ?? f.name)).join(',')}\n`;
    for (const user of users) text += `${columns.map((f) => csvCell(pick(user, f.name))).join(',')}\n`;
  } else {
    // Auth0's json format is newline-delimited JSON: one user object a line.
    for (const user of users) {
      const line = fields ? Object.fromEntries(fields.map((f) => [f.export_as ?? f.name, pick(user, f.name)])) : user;
      text += `${JSON.stringify(line)}\n`;
    }
  }
  return gzipSync(text);
}
