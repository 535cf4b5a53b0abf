import { isFastImportedHash } from '../crypto/imported-hashes.js';
import { type Argon2Verify, hashPassword, needsRehash, verifyArgon2, verifyPassword } from '../crypto/passwords.js';
import { DEFAULT_DATABASE_CONNECTION } from '../domain/connections.js';
import { DomainError } from '../domain/errors.js';
import type { Client, Connection, User } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import { beginLoginAttempt, loginFailed, loginSucceeded, throttleKeys } from '../login/throttle.js';
import { countSignIn } from '../metrics.js';
import type { Lookups } from '../storage/cache.js';
import type { Storage } from '../storage/types.js';

/**
 * A refused sign-in throws a DomainError with one of these codes: `wrong_credentials` (unauthorized),
 * `blocked` (forbidden), `too_many_attempts` (limit, with `details.lock`).
 */
const wrongCredentials = () => new DomainError('unauthorized', 'wrong_credentials', 'Wrong email or password.');

/** A lock's 429 headers: when to come back (RFC 9110 Retry-After) and Auth0's X-RateLimit-* trio. */
export function lockHeaders(lock: { until: Date; limit: number }, now: number): Record<string, string> {
  return {
    'Retry-After': String(Math.max(1, Math.ceil((lock.until.getTime() - now) / 1000))),
    'X-RateLimit-Limit': String(lock.limit),
    'X-RateLimit-Remaining': '0',
    'X-RateLimit-Reset': String(Math.ceil(lock.until.getTime() / 1000)),
  };
}

/** Checked against when the user does not exist, so a miss costs as much time as a wrong password. */
let decoyHash: Promise<string> | undefined;
const decoy = () => (decoyHash ??= hashPassword('decoy password, never matches'));

/** What a password check runs on; tests pass a counting argon2 verify. */
export interface PasswordCheckHooks {
  argon2: Argon2Verify;
}
const DEFAULT_HOOKS: PasswordCheckHooks = { argon2: verifyArgon2 };

/**
 * Called once per lock of an existing account by the brute-force limits (not per refused attempt),
 * outside the request's answer: it queues the blocked-account mail (login/account-mail.ts).
 */
export type AccountLockedHook = (user: User, connection: Connection, until: Date) => void;

/** What a password sign-in may be given besides the credentials. */
export interface SignInOptions {
  /** The blocked-account mail, once per lock. */
  onAccountLocked?: AccountLockedHook | undefined;
  /** The app signed in to, for the tenant log's failure events. */
  client?: Pick<Client, 'client_id' | 'name'> | undefined;
  /** What the password check runs on (tests). */
  hooks?: PasswordCheckHooks;
}

/**
 * Email (or username) and password against a database connection, behind the brute-force limits.
 * A blocked user is only told so after the right password, so blocking does not reveal accounts.
 */
export async function authenticateDatabaseUser(
  storage: Pick<Storage, 'throttles' | 'users' | 'transaction'>,
  connection: Connection,
  identifier: string,
  password: string,
  ip: string,
  now: number,
  options: SignInOptions = {},
): Promise<User> {
  const { onAccountLocked, client, hooks = DEFAULT_HOOKS } = options;
  const record = identifier.includes('@')
    ? await storage.users.findByEmail(connection.name, identifier.trim())
    : await storage.users.findByUsername(connection.name, identifier.trim());
  // Auth0's failed-login events: who was tried (as typed, bounded), through which connection and app.
  const failed = (type: 'f' | 'fp' | 'fu' | 'limit_wc' | 'limit_mu', description: string) =>
    recordEvent({
      type,
      description,
      connection: connection.name,
      connection_id: connection.id,
      strategy: 'auth0',
      strategy_type: 'database',
      user_name: identifier.trim().slice(0, 254),
      ...(record ? { user_id: record.user.user_id } : {}),
      ...(client ? { client_id: client.client_id, client_name: client.name } : {}),
    });
  const keys = throttleKeys(connection.name, record ? { userId: record.user.user_id } : { identifier }, ip);
  const bruteForceProtection = connection.options.brute_force_protection !== false;
  const attempt = bruteForceProtection ? await beginLoginAttempt(storage, keys, now) : undefined;
  if (attempt?.lockedUntil) {
    if (attempt.accountLockedNow && record) onAccountLocked?.(record.user, connection, attempt.lockedUntil);
    if (attempt.by === 'ip') failed('limit_mu', 'Too many failed logins from this address: it is blocked for a while');
    else failed('limit_wc', 'Too many failed logins for this account: it is blocked for a while');
    countSignIn('too_many_attempts');
    throw new DomainError(
      'limit',
      'too_many_attempts',
      'Your account has been blocked after multiple consecutive login attempts. Try again later.',
      { lock: { until: attempt.lockedUntil, limit: attempt.limit } },
    );
  }
  const hash = record?.passwordHash ?? (await decoy());
  const ok = (await verifyPassword(password, hash, hooks.argon2)) && record !== undefined && record.passwordHash !== null;
  if (!ok || !record) {
    // Every failure pays at least one argon2id verification (the user's own hash, or the decoy). An
    // imported md5/sha/hmac/ldap hash is checked in microseconds: without the decoy on top, a wrong
    // password for such a user would answer measurably faster than an unknown email (user enumeration).
    if (record?.passwordHash && isFastImportedHash(record.passwordHash)) await verifyPassword(password, await decoy(), hooks.argon2);
    const lockedUntil = attempt ? await loginFailed(storage, keys, attempt, now) : undefined;
    if (lockedUntil && record) onAccountLocked?.(record.user, connection, lockedUntil);
    if (record) failed('fp', 'Wrong email or password.');
    else failed('fu', 'Wrong email or password.');
    countSignIn(record ? 'wrong_password' : 'unknown_user');
    throw wrongCredentials();
  }
  if (record.user.blocked) {
    failed('f', 'user is blocked');
    countSignIn('blocked');
    throw blockedUser();
  }
  if (attempt) await loginSucceeded(storage, keys);
  const user = await recordSignIn(storage, record.user.user_id, record.passwordHash!, password, now).catch((err: unknown) => {
    if (err instanceof DomainError && err.code === 'blocked') countSignIn('blocked');
    else if (err instanceof DomainError && err.code === 'wrong_credentials') countSignIn('wrong_password');
    throw err;
  });
  countSignIn('success');
  return user;
}

const blockedUser = () => new DomainError('forbidden', 'blocked', 'user is blocked');

/**
 * Writes the sign-in (last_login, logins_count, the argon2id rehash) onto the user as stored now, not as
 * read before the password was checked (which takes seconds for some imported hashes): a change an
 * administrator made meanwhile is kept, a user blocked meanwhile is refused, and a parallel first sign-in
 * that rehashed first is no failure. Each write is conditional on the hash the password was checked
 * against: a password changed meanwhile must neither be overwritten by the old one nor let the old one in.
 */
async function recordSignIn(
  storage: Pick<Storage, 'users' | 'transaction'>,
  userId: string,
  verifiedHash: string,
  password: string,
  now: number,
): Promise<User> {
  let rehashed: string | undefined;
  // A password change between the read and the write below sends it round again; a few rounds at
  // most, since each needs a password change or another sign-in's rehash landing in a window of milliseconds.
  for (let round = 0; round < 3; round++) {
    const current = await storage.users.get(userId);
    if (!current?.passwordHash) throw wrongCredentials();
    if (current.passwordHash !== verifiedHash) {
      // A parallel sign-in's rehash is the same password under argon2id; a new password is not this one.
      if (!(await verifyPassword(password, current.passwordHash))) throw wrongCredentials();
      verifiedHash = current.passwordHash;
    }
    const passwordHash = needsRehash(verifiedHash) ? (rehashed ??= await hashPassword(password)) : verifiedHash;
    // Counted onto the user as stored under a lock, not as read above: parallel sign-ins each count,
    // and metadata a parallel sign-in's Action saved meanwhile is kept (written back from the read, both were lost).
    const user = await storage.transaction(async (tx) => {
      const locked = await tx.users.lock(userId);
      if (!locked || locked.passwordHash !== verifiedHash) return undefined;
      if (locked.user.blocked) throw blockedUser();
      const user: User = { ...locked.user, last_login: new Date(now).toISOString(), logins_count: locked.user.logins_count + 1 };
      return (await tx.users.update({ ...locked, user, passwordHash }, { ifPasswordHash: verifiedHash })) === true ? user : undefined;
    });
    if (user) return user;
  }
  throw wrongCredentials();
}

/**
 * Whether a client may sign users in through a connection. First-party clients need to be listed in
 * its enabled_clients; third-party clients (dynamically registered ones) may only use connections
 * promoted to domain connections, which every third-party client shares (as in Auth0).
 */
export function connectionUsableBy(connection: Connection, client: Client): boolean {
  return client.is_first_party ? connection.enabled_clients.includes(client.client_id) : connection.is_domain_connection;
}

/**
 * The database connection a sign-in uses: the one the request names, else the tenant's default
 * directory, else Username-Password-Authentication; the client must be allowed to use it.
 */
export async function databaseConnectionFor(
  lookups: Lookups,
  client: Client,
  requested: string | undefined,
): Promise<Connection | undefined> {
  const name = requested ?? ((await lookups.tenantSettings()).default_directory || DEFAULT_DATABASE_CONNECTION);
  const connection = await lookups.connection(name);
  if (connection?.strategy !== 'auth0' || !connectionUsableBy(connection, client)) return undefined;
  return connection;
}
