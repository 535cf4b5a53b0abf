import type { Encrypter } from '../crypto/encryption.js';
import { MAX_BCRYPT_COST } from '../crypto/imported-hashes.js';
import { hashPassword, isImportableHash } from '../crypto/passwords.js';
import type { User, UserRecord } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import { signOutEverywhere } from '../login/sessions.js';
import type { Repositories, Storage } from '../storage/types.js';
import { conflict, invalid, invalidField, notFound } from './errors.js';
import { newDatabaseUserId } from './ids.js';
import { assertPasswordAllowed } from './password-policy.js';
import { voidTicketsAfterChange } from './tickets.js';

type Profile = Partial<
  Pick<
    User,
    | 'email'
    | 'email_verified'
    | 'username'
    | 'phone_number'
    | 'name'
    | 'nickname'
    | 'picture'
    | 'given_name'
    | 'family_name'
    | 'blocked'
    | 'app_metadata'
    | 'user_metadata'
  >
>;

export type UserCreateInput = Profile & {
  connection: string;
  password?: string;
  /** An imported bcrypt hash instead of a password; rehashed with argon2id at the first login. */
  password_hash?: string;
  user_id?: string;
  verify_email?: boolean;
};
export type UserUpdateInput = Omit<Profile, 'app_metadata' | 'user_metadata'> & {
  password?: string;
  connection?: string;
  verify_email?: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const userExists = () => conflict('The user already exists.', 'user_exists');

/** Auth0 merges metadata one level deep on PATCH; a null value removes the key. */
function mergeMetadata(existing: Record<string, unknown>, patch: Record<string, unknown> | undefined) {
  if (!patch) return existing;
  const merged: Record<string, unknown> = { ...existing };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export async function createUser(storage: Pick<Storage, 'connections' | 'users'>, input: UserCreateInput, now: Date): Promise<User> {
  const connection = await storage.connections.getByName(input.connection);
  if (!connection) throw invalid('The connection does not exist.', 'inexistent_connection');
  if (input.email !== undefined && !EMAIL.test(input.email)) throw invalidField('email', "'email' is not a valid email address");
  const requiresUsername = connection.options.requires_username === true;
  if (!input.email) throw invalidField('email', "Missing required property: 'email'");
  if (requiresUsername && !input.username) throw invalidField('username', "Missing required property: 'username'");
  if (input.password !== undefined && input.password_hash !== undefined) {
    throw invalidField('password_hash', "send either 'password' or 'password_hash', not both");
  }
  if (input.password_hash !== undefined) {
    if (!isImportableHash(input.password_hash))
      throw invalidField('password_hash', `'password_hash' must be a bcrypt hash ($2a$, $2b$ or $2y$) of cost 04 to ${MAX_BCRYPT_COST}`);
  } else {
    if (input.password === undefined) throw invalidField('password', "Missing required property: 'password'");
    assertPasswordAllowed(input.password, connection.options);
  }

  const userId = input.user_id ? `auth0|${input.user_id}` : newDatabaseUserId();
  const timestamp = now.toISOString();
  const user: User = {
    user_id: userId,
    email: input.email,
    email_verified: input.email_verified ?? false,
    ...(input.username !== undefined ? { username: input.username } : {}),
    ...(input.phone_number !== undefined ? { phone_number: input.phone_number } : {}),
    // Auth0 fills name and nickname from the email when they are not given.
    name: input.name ?? input.email,
    nickname: input.nickname ?? input.email.split('@')[0]!,
    ...(input.picture !== undefined ? { picture: input.picture } : {}),
    ...(input.given_name !== undefined ? { given_name: input.given_name } : {}),
    ...(input.family_name !== undefined ? { family_name: input.family_name } : {}),
    identities: [{ connection: connection.name, user_id: userId.slice('auth0|'.length), provider: 'auth0', isSocial: false }],
    app_metadata: input.app_metadata ?? {},
    user_metadata: input.user_metadata ?? {},
    created_at: timestamp,
    updated_at: timestamp,
    logins_count: 0,
    blocked: input.blocked ?? false,
  };
  const passwordHash = input.password_hash ?? (await hashPassword(input.password!));
  const record: UserRecord = { user, connection: connection.name, passwordHash };
  if (!(await storage.users.insert(record))) throw userExists();
  return user;
}

export async function getUser(storage: Pick<Storage, 'users'>, userId: string): Promise<UserRecord> {
  const record = await storage.users.get(userId);
  if (!record) throw notFound('The user does not exist.', 'inexistent_user');
  return record;
}

/** getUser's 404, holding the user until the transaction ends (`tx` only): a deletion meanwhile sees what it is granted. */
export async function lockUser(tx: Pick<Storage, 'users'>, userId: string): Promise<void> {
  if ((await tx.users.lockIds([userId])).length === 0) throw notFound('The user does not exist.', 'inexistent_user');
}

export async function updateUser(storage: Storage, userId: string, patch: UserUpdateInput, now: Date): Promise<User> {
  const { password, connection: _connection, verify_email: _verify, app_metadata, user_metadata, ...profile } = patch;
  if (profile.email !== undefined && !EMAIL.test(profile.email)) {
    throw invalidField('email', "'email' is not a valid email address");
  }
  let newPasswordHash: string | undefined;
  if (password !== undefined) {
    const record = await getUser(storage, userId);
    const connection = await storage.connections.getByName(record.connection);
    assertPasswordAllowed(password, connection?.options ?? {});
    newPasswordHash = await hashPassword(password);
  }
  // The merge reads the user as stored under a lock: two sign-ins whose Actions each set their own
  // metadata key, or a sign-in next to an admin's PATCH, both land (read outside, one was lost).
  const { user, emailChanged, connection } = await storage.transaction(async (tx) => {
    const record = await tx.users.lock(userId);
    if (!record) throw notFound('The user does not exist.', 'inexistent_user');
    // A new address is not verified (Auth0), unless the same request says it is.
    const emailChanged = profile.email !== undefined && profile.email.toLowerCase() !== record.user.email?.toLowerCase();
    const user: User = {
      ...record.user,
      ...profile,
      ...(emailChanged && profile.email_verified === undefined ? { email_verified: false } : {}),
      app_metadata: mergeMetadata(record.user.app_metadata, app_metadata),
      user_metadata: mergeMetadata(record.user.user_metadata, user_metadata),
      updated_at: now.toISOString(),
      ...(password !== undefined ? { last_password_reset: now.toISOString() } : {}),
    };
    const result = await tx.users.update({ ...record, user, passwordHash: newPasswordHash ?? record.passwordHash });
    if (result === 'conflict') throw userExists();
    if (!result) throw notFound('The user does not exist.', 'inexistent_user');
    return { user, emailChanged, connection: record.connection };
  });
  // Links mailed for the old password or address must not outlive the change.
  if (password !== undefined || emailChanged) {
    await voidTicketsAfterChange(storage, userId, { password: password !== undefined, email: emailChanged }, now.getTime());
  }
  // After the new hash is stored, so a sign-in with the old password that slipped in is ended too.
  if (password !== undefined) {
    await signOutEverywhere(storage, userId, now.getTime());
    recordEvent({ type: 'scp', user_id: userId, user_name: user.email ?? user.username ?? userId, connection });
  }
  return user;
}

/**
 * A user as the Management API shows it. Upstream tokens in identities are encrypted at rest and
 * shown (decrypted) only to tokens with `read:user_idp_tokens`, as Auth0 does.
 */
export function presentUser(user: User, secrets: Encrypter, withIdpTokens: boolean): User {
  if (!user.identities.some((i) => i.access_token || i.refresh_token)) return user;
  const identities = user.identities.map(({ access_token, refresh_token, ...identity }) => {
    if (!withIdpTokens) return identity;
    const open = (sealed: string | undefined) => (sealed ? secrets.decrypt(sealed, `identity ${user.user_id}`) : undefined);
    const accessToken = open(access_token);
    const refreshToken = open(refresh_token);
    return { ...identity, ...(accessToken ? { access_token: accessToken } : {}), ...(refreshToken ? { refresh_token: refreshToken } : {}) };
  });
  return { ...user, identities };
}

/**
 * Deleting a user takes everything that acts for it along, in one transaction, as Auth0 does: its SSO
 * sessions end, its refresh tokens are revoked, its opaque access tokens, consents, permissions and role assignments go.
 * Absent is fine (Auth0 answers 204).
 */
export async function deleteUser(storage: Pick<Storage, 'transaction'>, userId: string, now: Date): Promise<void> {
  await storage.transaction((tx) => deleteUserWith(tx, userId, now));
  recordEvent({ type: 'sdu', user_id: userId });
}

type CascadeRepositories = Pick<
  Repositories,
  'users' | 'sessions' | 'refreshTokens' | 'accessTokens' | 'consents' | 'permissions' | 'roles' | 'tickets'
>;

/** The user cascade inside a caller's transaction. */
export async function deleteUserWith(tx: CascadeRepositories, userId: string, now: Date): Promise<void> {
  await deleteUsersWith(tx, [userId], now);
}

/**
 * The cascade of many users inside a caller's transaction (deleting a connection deletes its users),
 * set-based: a constant number of statements however many users.
 */
export async function deleteUsersWith(tx: CascadeRepositories, userIds: string[], now: Date): Promise<void> {
  if (userIds.length === 0) return;
  const iso = now.toISOString();
  // The users first: that waits for any transaction granting them roles or permissions (lockIds), whose
  // grants the deletes below then see.
  await tx.users.deleteMany(userIds);
  await tx.sessions.endAllOfMany(userIds, iso);
  await tx.refreshTokens.revokeAllOfMany(userIds, iso);
  await tx.accessTokens.deleteAllOfMany(userIds);
  await tx.consents.deleteAllOfMany(userIds);
  await tx.permissions.removeAllOfMany(userIds);
  await tx.roles.removeAllRolesOfMany(userIds);
  await tx.tickets.deleteAllOf(userIds);
}
