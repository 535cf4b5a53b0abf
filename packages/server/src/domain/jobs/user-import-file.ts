import { JSONParser } from '@streamparser/json';
import type { JobRepository } from '../../storage/types.js';
import { invalid } from '../errors.js';

/**
 * Users per stored chunk: one chunk is one transaction of the import, and what a restart redoes at
 * most. Measured on 100,000 bcrypt users (SQLite): 1000 a chunk grew the V8 heap to ~200 MB and RSS
 * to ~320 MB (each insertMany builds statements of 16 columns x rows, which outlive young-generation
 * collections across the transaction's awaits); 250 a chunk kept RSS near 200 MB and was faster.
 */
export const USERS_PER_CHUNK = 250;

/**
 * How deep a user's values may nest. Each user is stored, and later read and written, with
 * JSON.stringify, which recurses: a few thousand levels (a few kilobytes of brackets) overflow the
 * stack. Metadata a person writes nests a handful of levels.
 */
export const MAX_USER_DEPTH = 32;

/** Whether `value` nests deeper than `max` levels; walked without recursion, so any depth is measured safely. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > max) return true;
    for (const inner of Object.values(item)) if (inner !== null && typeof inner === 'object') pending.push([inner, depth + 1]);
  }
  return false;
}

/** A user of the file as stored: its position in the file, the object as sent, and which key an earlier user already had. */
export interface StoredImportUser {
  i: number;
  user: unknown;
  duplicate?: 'email' | 'user_id' | 'username';
}

/**
 * Streams Auth0's user-import file (one JSON array of users) into stored chunks, never holding more
 * than one chunk and one network read. @streamparser/json because it parses incrementally from
 * byte chunks, emits each array element as soon as it closes (paths `$.*`), drops what it emitted
 * (keepStack false), and has no dependencies; stream-json needs a pipeline of several streams for the same.
 *
 * Users repeated inside the file (same email, user_id or username) are marked here, where the
 * whole file goes by in order: Auth0 fails the later ones with DUPLICATED_USER rather than upserting
 * them. The keys seen are kept in memory, which the upload size limit bounds (keys are a part of the file).
 * A file that is not a JSON array is refused (400) before the job exists for its caller.
 */
export async function storeUsersFile(
  jobs: Pick<JobRepository, 'putChunk'>,
  jobId: string,
  file: AsyncIterable<Buffer> | Iterable<Buffer>,
): Promise<{ chunks: number; records: number }> {
  const seen = { email: new Set<string>(), user_id: new Set<string>(), username: new Set<string>() };
  let pending: StoredImportUser[] = [];
  let chunks = 0;
  let records = 0;
  let failure: Error | undefined;
  let started = false;
  let ended = false;

  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  parser.onValue = ({ value, key }) => {
    if (typeof key !== 'number') {
      failure ??= invalid('Users file must be a JSON array of users.', 'invalid_body');
      return;
    }
    if (nestsDeeperThan(value, MAX_USER_DEPTH)) {
      failure ??= invalid(`Users file: user ${records} nests deeper than ${MAX_USER_DEPTH} levels.`, 'invalid_body');
      return;
    }
    const stored: StoredImportUser = { i: records++, user: value };
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const user = value as Record<string, unknown>;
      const keys = [
        ['user_id', typeof user.user_id === 'string' ? user.user_id : undefined],
        ['email', typeof user.email === 'string' ? user.email.toLowerCase() : undefined],
        ['username', typeof user.username === 'string' ? user.username.toLowerCase() : undefined],
      ] as const;
      for (const [kind, text] of keys) {
        if (text === undefined) continue;
        if (seen[kind].has(text)) stored.duplicate ??= kind;
        else seen[kind].add(text);
      }
    }
    pending.push(stored);
  };
  parser.onError = (err) => {
    failure ??= invalid(`Users file is not valid JSON: ${err.message}`, 'invalid_body');
  };
  parser.onEnd = () => {
    ended = true;
  };

  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    await jobs.putChunk(jobId, chunks++, JSON.stringify(batch));
  };

  for await (let bytes of file) {
    if (failure) continue; // drain the rest of the upload so the client reads the answer
    if (!started) {
      // Editors on Windows save JSON with a byte order mark, which JSON itself does not allow.
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      const text = bytes.toString('utf8').trimStart();
      if (text.length === 0) continue;
      if (!text.startsWith('[')) {
        failure = invalid('Users file must be a JSON array of users.', 'invalid_body');
        continue;
      }
      started = true;
    }
    try {
      parser.write(bytes);
    } catch (err) {
      failure ??= invalid(`Users file is not valid JSON: ${(err as Error).message}`, 'invalid_body');
    }
    if (pending.length >= USERS_PER_CHUNK) await flush();
  }
  if (!failure && !started) failure = invalid('Users file is empty.', 'invalid_body');
  if (!failure && !ended) {
    try {
      parser.end();
    } catch (err) {
      failure = invalid(`Users file is not valid JSON: ${(err as Error).message}`, 'invalid_body');
    }
    if (!ended) failure ??= invalid('Users file is not valid JSON: unexpected end of file', 'invalid_body');
  }
  if (failure) throw failure;
  await flush();
  if (records === 0) throw invalid('Users file must contain at least one user.', 'invalid_body');
  return { chunks, records };
}
