import type { Storage } from '../storage/types.js';
import { addressKey } from './address.js';

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
  // An IPv6 /64 counts as one address, as for sign-ups: rotating within it buys no more guesses.
  ip: `ip:${addressKey(ip)}`,
});

/** The address first: an attempt refused by its address's lock does not count against the account. */
const limitsOf = (keys: ThrottleKeys) =>
  [
    ['ip', keys.ip, THROTTLE.ip],
    ['account', keys.account, THROTTLE.account],
  ] as const;

export type LoginAttempt =
  /** Refused: locked until then, by the limit (failures per window) of the account or the address. */
  | { lockedUntil: Date; limit: number; by: keyof ThrottleKeys; accountLockedNow: boolean }
  | { lockedUntil?: undefined; failuresSoFar: Record<keyof ThrottleKeys, number> };

export interface AttemptLimit {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

/**
 * Counts an attempt as a failure before it is checked, in one atomic statement: guesses sent all at
 * once would otherwise all pass a lock check made before any of them was counted. The attempt past
 * the limit locks the key and is refused, and so is every attempt while the lock lasts; so exactly
 * `maxFailures` guesses per window get checked, however many arrive together.
 */
export async function countAttempt(
  storage: Pick<Storage, 'throttles'>,
  key: string,
  limits: AttemptLimit,
  now: number,
): Promise<{ lockedUntil: Date; failures?: undefined; newLock: boolean } | { lockedUntil?: undefined; failures: number }> {
  const counted = await storage.throttles.recordFailure(key, new Date(now).toISOString(), new Date(now - limits.windowMs).toISOString());
  if (counted.lockedUntil && Date.parse(counted.lockedUntil) > now) return { lockedUntil: new Date(counted.lockedUntil), newLock: false };
  if (counted.failures > limits.maxFailures) {
    const until = new Date(now + limits.lockMs);
    // Conditional: of attempts arriving together, one locks (and announces the lock, once).
    const newLock = await storage.throttles.lockIfOpen(key, until.toISOString(), new Date(now).toISOString());
    return { lockedUntil: until, newLock };
  }
  return { failures: counted.failures };
}

/**
 * A password attempt, counted against its address and its account before the password is checked
 * (see countAttempt). An attempt past either limit locks and is refused; a good password takes its
 * count back.
 */
export async function beginLoginAttempt(storage: Pick<Storage, 'throttles'>, keys: ThrottleKeys, now: number): Promise<LoginAttempt> {
  const failuresSoFar = { ip: 0, account: 0 };
  for (const [kind, key, limits] of limitsOf(keys)) {
    const counted = await countAttempt(storage, key, limits, now);
    if (counted.lockedUntil) {
      return {
        lockedUntil: counted.lockedUntil,
        limit: limits.maxFailures,
        by: kind,
        accountLockedNow: kind === 'account' && counted.newLock,
      };
    }
    failuresSoFar[kind] = counted.failures;
  }
  return { failuresSoFar };
}

/**
 * A wrong password: the attempt stays counted, and the one that reaches a limit locks now. Resolves
 * the account's new lock, if this attempt set it (the blocked-account mail goes out once per lock).
 */
export async function loginFailed(
  storage: Pick<Storage, 'throttles'>,
  keys: ThrottleKeys,
  attempt: LoginAttempt,
  now: number,
): Promise<Date | undefined> {
  if (attempt.lockedUntil) return undefined;
  let accountLock: Date | undefined;
  for (const [kind, key, limits] of limitsOf(keys)) {
    if (attempt.failuresSoFar[kind] < limits.maxFailures) continue;
    const until = new Date(now + limits.lockMs);
    const locked = await storage.throttles.lockIfOpen(key, until.toISOString(), new Date(now).toISOString());
    if (locked && kind === 'account') accountLock = until;
  }
  return accountLock;
}

/** The right password: the account starts afresh, and the address gets this attempt back. */
export async function loginSucceeded(storage: Pick<Storage, 'throttles'>, keys: ThrottleKeys): Promise<void> {
  await storage.throttles.clear(keys.account);
  await storage.throttles.forgiveFailure(keys.ip);
}
