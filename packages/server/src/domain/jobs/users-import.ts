import { encodeCustomPasswordHash } from '../../crypto/imported-hashes.js';
import { BCRYPT_HASH, isImportableHash } from '../../crypto/passwords.js';
import type { Repositories } from '../../storage/types.js';
import type { User, UserRecord } from '../types.js';
import type { JobRecord } from './types.js';
import type { StoredImportUser } from './user-import-file.js';

/** One of Auth0's per-user import errors (codes from its bulk import docs and JSON-schema validator). */
export interface ImportError {
  code: string;
  message: string;
  path?: string;
}

/** What `GET /jobs/{id}/errors` lists per failed user. */
export interface ImportFailure {
  user: Record<string, unknown>;
  errors: ImportError[];
}

const STRING_FIELDS = ['email', 'user_id', 'username', 'given_name', 'family_name', 'name', 'nickname', 'picture', 'password_hash'];
const BOOLEAN_FIELDS = ['email_verified', 'blocked'];
const OBJECT_FIELDS = ['app_metadata', 'user_metadata', 'custom_password_hash'];
const KNOWN = new Set([...STRING_FIELDS, ...BOOLEAN_FIELDS, ...OBJECT_FIELDS]);
const MAX_LENGTH: Record<string, number> = { email: 254, user_id: 255, username: 128, picture: 2048, password_hash: 100 };
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Fields Auth0 overwrites when upserting an existing user (its "Upsert during import?" column). */
const UPSERTABLE = ['email_verified', 'given_name', 'family_name', 'name', 'nickname', 'picture'] as const;

/** Unknown properties of one user named in its errors, at most. */
const MAX_UNKNOWN_PROPERTIES_REPORTED = 10;

const typeOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/** The user as the errors endpoint shows it: never a password hash. */
export function echoUser(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const { password_hash: _hash, custom_password_hash: _custom, ...rest } = value as Record<string, unknown>;
  return rest;
}

/** The Management API's bounds on metadata (schemas.ts Metadata, and its request body limit). */
const METADATA_MAX_KEYS = 100;
const METADATA_MAX_KEY_LENGTH = 255;
const METADATA_MAX_BYTES = 256 * 1024;

/**
 * A key that would become an object's prototype when the metadata is assigned or merged into another
 * object. Recursive: the upload refused users nesting deeper than MAX_USER_DEPTH.
 */
function hasPrototypeKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  for (const [key, inner] of Object.entries(value)) {
    if (key === '__proto__') return true;
    if (key === 'constructor' && inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype')) return true;
    if (hasPrototypeKey(inner)) return true;
  }
  return false;
}

/**
 * Metadata held to what POST /users takes (the Management API refuses `__proto__` and
 * `constructor.prototype` keys, and bounds keys and size), so an import is no way around those bounds.
 */
function metadataProblem(metadata: Record<string, unknown>): Omit<ImportError, 'path'> | undefined {
  const keys = Object.keys(metadata);
  if (keys.length > METADATA_MAX_KEYS) {
    return { code: 'OBJECT_MAX_PROPERTIES', message: `Too many properties defined (${keys.length}), maximum ${METADATA_MAX_KEYS}` };
  }
  const long = keys.find((key) => key.length > METADATA_MAX_KEY_LENGTH);
  if (long !== undefined) {
    return { code: 'MAX_LENGTH', message: `Property name is too long (${long.length} chars), maximum ${METADATA_MAX_KEY_LENGTH}` };
  }
  if (hasPrototypeKey(metadata)) return { code: 'PATTERN', message: 'Property names must not be __proto__ or constructor.prototype' };
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > METADATA_MAX_BYTES)
    return { code: 'MAX_LENGTH', message: `Object is too large (${bytes} bytes), maximum ${METADATA_MAX_BYTES}` };
  return undefined;
}

interface Checked {
  input: Record<string, unknown>;
  passwordHash: string | null;
}

/** Auth0's schema checks of one user, in its validator's codes and messages; an empty list when the user is fine. */
function check(stored: StoredImportUser, requiresUsername: boolean): { errors: ImportError[] } | { ok: Checked } {
  const value = stored.user;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { errors: [{ code: 'INVALID_TYPE', message: `Expected type object but found type ${typeOf(value)}`, path: '' }] };
  }
  const input = value as Record<string, unknown>;
  const errors: ImportError[] = [];
  // The first few unknown properties only: one error per key would make each key of a file of
  // millions of them a ~100-byte error, ten times the upload in memory and in the stored errors.
  const unknown = Object.keys(input).filter((key) => !KNOWN.has(key));
  for (const key of unknown.slice(0, MAX_UNKNOWN_PROPERTIES_REPORTED)) {
    errors.push({ code: 'OBJECT_ADDITIONAL_PROPERTIES', message: `Additional properties not allowed: ${key}`, path: key });
  }
  for (const field of STRING_FIELDS) {
    const v = input[field];
    if (v === undefined) continue;
    if (typeof v !== 'string')
      errors.push({ code: 'INVALID_TYPE', message: `Expected type string but found type ${typeOf(v)}`, path: field });
    else if (v.length === 0) errors.push({ code: 'MIN_LENGTH', message: `String is too short (0 chars), minimum 1`, path: field });
    else if (v.length > (MAX_LENGTH[field] ?? 300)) {
      errors.push({
        code: 'MAX_LENGTH',
        message: `String is too long (${v.length} chars), maximum ${MAX_LENGTH[field] ?? 300}`,
        path: field,
      });
    } else if (v.includes('\u0000')) errors.push({ code: 'PATTERN', message: 'String must not contain NUL characters', path: field });
  }
  for (const field of BOOLEAN_FIELDS) {
    const v = input[field];
    if (v !== undefined && typeof v !== 'boolean') {
      errors.push({ code: 'INVALID_TYPE', message: `Expected type boolean but found type ${typeOf(v)}`, path: field });
    }
  }
  for (const field of OBJECT_FIELDS) {
    const v = input[field];
    if (v !== undefined && typeOf(v) !== 'object') {
      errors.push({ code: 'INVALID_TYPE', message: `Expected type object but found type ${typeOf(v)}`, path: field });
    } else if (v !== undefined && field !== 'custom_password_hash') {
      const problem = metadataProblem(v as Record<string, unknown>);
      if (problem) errors.push({ ...problem, path: field });
    }
  }
  if (input.email === undefined) errors.push({ code: 'OBJECT_REQUIRED', message: 'Missing required property: email', path: 'email' });
  if (requiresUsername && input.username === undefined) {
    errors.push({ code: 'OBJECT_REQUIRED', message: 'Missing required property: username', path: 'username' });
  } else if (typeof input.email === 'string' && input.email.length > 0 && !EMAIL.test(input.email)) {
    errors.push({ code: 'FORMAT', message: `Object didn't pass validation for format email: ${input.email}`, path: 'email' });
  }
  let passwordHash: string | null = null;
  if (input.password_hash !== undefined && input.custom_password_hash !== undefined) {
    errors.push({
      code: 'NOT_PASSED',
      message: 'password_hash and custom_password_hash are mutually exclusive',
      path: 'custom_password_hash',
    });
  } else if (typeof input.password_hash === 'string') {
    // The hash itself is never repeated in a message: errors are shown to whoever reads the job.
    if (isImportableHash(input.password_hash)) passwordHash = input.password_hash;
    else
      errors.push({
        code: 'PATTERN',
        message: `String does not match pattern ${BCRYPT_HASH.source}`,
        path: 'password_hash',
      });
  } else if (typeOf(input.custom_password_hash) === 'object') {
    const result = encodeCustomPasswordHash(input.custom_password_hash);
    if ('error' in result) errors.push(result.error);
    else passwordHash = result.encoded;
  }
  if (stored.duplicate) {
    errors.push({ code: 'DUPLICATED_USER', message: `A user with this ${stored.duplicate} was already provided.`, path: stored.duplicate });
  }
  return errors.length > 0 ? { errors } : { ok: { input, passwordHash } };
}

/** The stored user an import creates, as POST /users would (same defaults and identity). */
function newUser(input: Record<string, unknown>, connection: string, now: string, newId: () => string): User {
  const email = input.email as string;
  // Auth0 prefixes the file's user_id with the strategy, so tokens' `sub` stays what it was.
  const userId = typeof input.user_id === 'string' ? `auth0|${input.user_id}` : newId();
  const optional = (field: string) => (typeof input[field] === 'string' ? { [field]: input[field] as string } : {});
  return {
    user_id: userId,
    email,
    email_verified: input.email_verified === true,
    ...optional('username'),
    name: typeof input.name === 'string' ? input.name : email,
    nickname: typeof input.nickname === 'string' ? input.nickname : email.split('@')[0]!,
    ...optional('picture'),
    ...optional('given_name'),
    ...optional('family_name'),
    identities: [{ connection, user_id: userId.slice('auth0|'.length), provider: 'auth0', isSocial: false }],
    app_metadata: (input.app_metadata as Record<string, unknown> | undefined) ?? {},
    user_metadata: (input.user_metadata as Record<string, unknown> | undefined) ?? {},
    created_at: now,
    updated_at: now,
    logins_count: 0,
    blocked: input.blocked === true,
  };
}

const TAKEN = {
  user_id: { code: 'CONFLICT', path: 'user_id' },
  email: { code: 'CONFLICT_EMAIL', path: 'email' },
  username: { code: 'CONFLICT_USERNAME', path: 'username' },
} as const;

/**
 * Imports one stored chunk inside the caller's transaction: new users in one `insertMany`, users
 * whose email is taken updated when upserting (Auth0's upsertable fields only; metadata merged one
 * level deep, as PATCH does), every other user reported with why. Resolves the chunk's counts and failures.
 */
export async function importChunk(
  tx: Pick<Repositories, 'users'>,
  job: JobRecord,
  stored: StoredImportUser[],
  now: string,
  newId: () => string,
  /** The connection's `requires_username` option: then every user needs one, as POST /users requires. */
  requiresUsername = false,
): Promise<{ inserted: number; updated: number; failures: Array<{ seq: number; failure: ImportFailure }> }> {
  const failures: Array<{ seq: number; failure: ImportFailure }> = [];
  const fail = (s: StoredImportUser, errors: ImportError[]) => failures.push({ seq: s.i, failure: { user: echoUser(s.user), errors } });
  const candidates: Array<{ stored: StoredImportUser; input: Record<string, unknown>; record: UserRecord }> = [];
  for (const s of stored) {
    const result = check(s, requiresUsername);
    if ('errors' in result) {
      fail(s, result.errors);
      continue;
    }
    const user = newUser(result.ok.input, job.data.connection, now, newId);
    candidates.push({
      stored: s,
      input: result.ok.input,
      record: { user, connection: job.data.connection, passwordHash: result.ok.passwordHash },
    });
  }
  const { inserted, skipped } = await tx.users.insertMany(candidates.map((c) => c.record));
  let updated = 0;
  for (const { index, taken } of skipped) {
    const candidate = candidates[index]!;
    const { input } = candidate;
    if (job.data.upsert && taken !== 'username') {
      const existing = await tx.users.findByEmail(job.data.connection, input.email as string);
      const sameUser = existing && (input.user_id === undefined || existing.user.user_id === `auth0|${input.user_id}`);
      if (existing && sameUser) {
        const user: User = { ...existing.user, updated_at: now };
        for (const field of UPSERTABLE) if (input[field] !== undefined) (user as unknown as Record<string, unknown>)[field] = input[field];
        for (const root of ['app_metadata', 'user_metadata'] as const) {
          const patch = input[root] as Record<string, unknown> | undefined;
          if (!patch) continue;
          const merged: Record<string, unknown> = { ...existing.user[root] };
          for (const [key, value] of Object.entries(patch)) {
            if (value === null) delete merged[key];
            else merged[key] = value;
          }
          user[root] = merged;
        }
        const result = await tx.users.update({ ...existing, user });
        if (result === true) {
          updated++;
          continue;
        }
      }
    }
    fail(candidate.stored, [{ code: TAKEN[taken].code, message: 'The user already exists.', path: TAKEN[taken].path }]);
  }
  return { inserted, updated, failures };
}
