import type { Storage } from '../storage/types.js';

/**
 * Brute-force limits on password logins, per account (Auth0's default: 10 consecutive failures lock
 * the account for that IP... here for every IP, which also stops distributed guessing) and per IP
 * (many failures across accounts: credential stuffing). Locks expire by themselves.
 */
export const THROTTLE = {
  account: { maxFailures: 10, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  ip: { maxFailures: 100, windowMs: 60 * 60_000, lockMs: 60 * 60_000 },
} as const;

export interface ThrottleKeys {
  account: string;
  ip: string;
}

/**
 * The account key names the account itself when it exists, so its email and its username share one
 * counter; a name that matches no account is counted by the name.
 */
export const throttleKeys = (connection: string, account: { userId: string } | { identifier: string }, ip: string): ThrottleKeys => ({
  account: 'userId' in account ? `user:${account.userId}` : `account:${connection}:${account.identifier.trim().toLowerCase()}`,
  ip: `ip:${ip}`,
});

/** The address first: an attempt refused by its address's lock does not count against the account. */
const limitsOf = (keys: ThrottleKeys) =>
  [
    ['ip', keys.ip, THROTTLE.ip],
    ['account', keys.account, THROTTLE.account],
  ] as const;

export type LoginAttempt =
  /** Refused: locked until then, by the limit (failures per window) of the account or the address. */
  | { lockedUntil: Date; limit: number }
  | { lockedUntil?: undefined; failuresSoFar: Record<keyof ThrottleKeys, number> };

/**
 * Counts an attempt as a failure before its password is checked, in one atomic statement per key:
 * guesses sent all at once would otherwise all pass the lock check while the first ones are still
 * hashing. An attempt past the limit locks and is refused; a good password takes its count back.
 */
export async function beginLoginAttempt(storage: Storage, keys: ThrottleKeys, now: number): Promise<LoginAttempt> {
  const iso = new Date(now).toISOString();
  const failuresSoFar = { ip: 0, account: 0 };
  for (const [kind, key, limits] of limitsOf(keys)) {
    const counted = await storage.recordLoginFailure(key, iso, new Date(now - limits.windowMs).toISOString());
    if (counted.lockedUntil && Date.parse(counted.lockedUntil) > now) return { lockedUntil: new Date(counted.lockedUntil), limit: limits.maxFailures };
    if (counted.failures > limits.maxFailures) {
      const until = new Date(now + limits.lockMs);
      await storage.lockLogin(key, until.toISOString());
      return { lockedUntil: until, limit: limits.maxFailures };
    }
    failuresSoFar[kind] = counted.failures;
  }
  return { failuresSoFar };
}

/** A wrong password: the attempt stays counted, and the one that reaches a limit locks now. */
export async function loginFailed(storage: Storage, keys: ThrottleKeys, attempt: LoginAttempt, now: number): Promise<void> {
  if (attempt.lockedUntil) return;
  for (const [kind, key, limits] of limitsOf(keys)) {
    if (attempt.failuresSoFar[kind] >= limits.maxFailures) await storage.lockLogin(key, new Date(now + limits.lockMs).toISOString());
  }
}

/** The right password: the account starts afresh, and the address gets this attempt back. */
export async function loginSucceeded(storage: Storage, keys: ThrottleKeys): Promise<void> {
  await storage.clearLoginThrottle(keys.account);
  await storage.forgiveLoginFailure(keys.ip);
}
