import { randomBytes } from 'node:crypto';
import type { Session, TenantSettings, User } from '../domain/types.js';
import { digestToken } from '../oauth/user-tokens.js';
import type { Storage } from '../storage/types.js';

export const SESSION_COOKIE = 'latchkey_session';

const HOUR_MS = 3600 * 1000;

export interface NewSession {
  userId: string;
  settings: TenantSettings;
  now: number;
  /** The connection signed in through: the session serves only clients that may use it. */
  connection: string;
  /** An upstream provider's id_token, sealed by the caller, for a federated logout. */
  upstreamIdToken?: string;
}

/**
 * The SSO session behind the cookie. The cookie carries a 256-bit secret; the database keeps its
 * digest, and the public `sid` (for id_tokens) is a separate random value.
 */
export async function createSession(
  storage: Pick<Storage, 'sessions'>,
  input: NewSession,
): Promise<{ cookieValue: string; session: Session }> {
  const cookieValue = randomBytes(32).toString('base64url');
  const iso = new Date(input.now).toISOString();
  const session: Session = {
    sid: randomBytes(16).toString('base64url'),
    userId: input.userId,
    authTime: iso,
    lastSeenAt: iso,
    expiresAt: new Date(input.now + input.settings.session_lifetime * HOUR_MS).toISOString(),
    endedAt: null,
    connection: input.connection,
    ...(input.upstreamIdToken ? { upstreamIdToken: input.upstreamIdToken } : {}),
  };
  await storage.sessions.create(digestToken(cookieValue), session);
  return { cookieValue, session };
}

/** The live session for a cookie value: not ended, within its absolute and idle lifetimes. */
export async function readSession(
  storage: Pick<Storage, 'sessions'>,
  cookieValue: string | undefined,
  settings: TenantSettings,
  now: number,
): Promise<Session | undefined> {
  if (!cookieValue || cookieValue.length > 100) return undefined;
  const idHash = digestToken(cookieValue);
  const session = await storage.sessions.get(idHash);
  if (!session || session.endedAt !== null) return undefined;
  if (Date.parse(session.expiresAt) <= now) return undefined;
  if (Date.parse(session.lastSeenAt) + settings.idle_session_lifetime * HOUR_MS <= now) return undefined;
  // Writing on every request would make each /authorize a write; a minute of precision is plenty.
  if (now - Date.parse(session.lastSeenAt) > 60_000) await storage.sessions.touch(idHash, new Date(now).toISOString());
  return session;
}

export async function endSession(storage: Pick<Storage, 'sessions'>, cookieValue: string | undefined, now: number): Promise<void> {
  if (!cookieValue || cookieValue.length > 100) return;
  await storage.sessions.end(digestToken(cookieValue), new Date(now).toISOString());
}

/**
 * Signs the user out everywhere: every SSO session ends, every refresh token is revoked and every
 * opaque /userinfo token deleted. A password change calls this (and so must a password reset):
 * whoever knew the old password may hold any of them. JWT access tokens are self-contained and
 * live until they expire.
 */
export async function signOutEverywhere(
  storage: Pick<Storage, 'sessions' | 'refreshTokens' | 'accessTokens'>,
  userId: string,
  now: number,
): Promise<void> {
  const iso = new Date(now).toISOString();
  await storage.sessions.endAllOf(userId, iso);
  await storage.refreshTokens.revokeAllOf(userId, undefined, iso);
  await storage.accessTokens.deleteAllOf(userId);
}

/**
 * Whether a sign-in predates the user's last password change. signOutEverywhere ends what exists
 * then; this also refuses what such a sign-in still had pending: an authorization code not yet
 * redeemed, or a device approval whose device has not polled yet (up to 15 minutes later).
 */
export function signedInBeforePasswordChange(user: Pick<User, 'last_password_reset'>, authTime: string): boolean {
  return user.last_password_reset !== undefined && Date.parse(authTime) < Date.parse(user.last_password_reset);
}

/**
 * Whether the user's password changed (or the user went) since `user` was read for a sign-in. A
 * change landing between the password check and the new session's insert runs signOutEverywhere
 * before there is a session to end, so the sign-in checks once more after its insert: one of the
 * two always sees the other.
 */
export async function passwordChangedSince(
  storage: Pick<Storage, 'users'>,
  user: Pick<User, 'user_id' | 'last_password_reset'>,
): Promise<boolean> {
  const current = (await storage.users.get(user.user_id))?.user;
  return !current || current.last_password_reset !== user.last_password_reset;
}
