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

export const throttleKeys = (connection: string, identifier: string, ip: string): ThrottleKeys => ({
  account: `account:${connection}:${identifier.trim().toLowerCase()}`,
  ip: `ip:${ip}`,
});

/** The time until which login is locked for these keys, if it is. */
export async function lockedUntil(storage: Storage, keys: ThrottleKeys, now: number): Promise<Date | undefined> {
  const locks = await Promise.all([storage.getLoginThrottle(keys.account), storage.getLoginThrottle(keys.ip)]);
  const until = locks.map((l) => (l?.lockedUntil ? Date.parse(l.lockedUntil) : 0)).reduce((a, b) => Math.max(a, b), 0);
  return until > now ? new Date(until) : undefined;
}

export async function recordFailure(storage: Storage, keys: ThrottleKeys, now: number): Promise<void> {
  const iso = new Date(now).toISOString();
  for (const [key, limits] of [
    [keys.account, THROTTLE.account],
    [keys.ip, THROTTLE.ip],
  ] as const) {
    const { failures } = await storage.recordLoginFailure(key, iso, new Date(now - limits.windowMs).toISOString());
    if (failures >= limits.maxFailures) await storage.lockLogin(key, new Date(now + limits.lockMs).toISOString());
  }
}

export async function recordSuccess(storage: Storage, keys: ThrottleKeys): Promise<void> {
  await storage.clearLoginThrottle(keys.account);
}
