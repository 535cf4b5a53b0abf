import type { SecretDigester } from '../crypto/secrets.js';
import { DomainError } from '../domain/errors.js';
import type { Storage } from '../storage/types.js';
import { addressKey } from './address.js';

/**
 * Every request that makes latchkey send a mail (a reset, a verification, a resend) is counted per
 * address (IPv6: per /64) and per recipient, in windows of an hour shared by every node (the
 * rate-limit repository): nobody can flood an inbox, or the outbox, from one address or many.
 */
export const MAIL_LIMITS = {
  windowMs: 60 * 60_000,
  perAddress: 30,
  perRecipient: 5,
} as const;

/**
 * Counts one mail-sending request; throws a `limit` DomainError (429 with Retry-After) past either
 * limit. Counted whether or not the address belongs to a user, so the answer reveals nothing. The
 * recipient is counted under a keyed digest: strangers' addresses typed into the form are not stored.
 */
export async function countMailRequest(
  ctx: { storage: Pick<Storage, 'rateLimits'>; digester: SecretDigester },
  input: { ip?: string | undefined; email: string },
  now: number,
): Promise<void> {
  const { storage } = ctx;
  const start = now - (now % MAIL_LIMITS.windowMs);
  const windowStartedAt = new Date(start).toISOString();
  const counters: Array<[string, number]> = [];
  if (input.ip !== undefined) counters.push([`mail:ip:${addressKey(input.ip)}`, MAIL_LIMITS.perAddress]);
  counters.push([`mail:to:${ctx.digester.digest(`mail limit ${input.email.trim().toLowerCase()}`)}`, MAIL_LIMITS.perRecipient]);
  for (const [key, limit] of counters) {
    const hits = await storage.rateLimits.hit(key, windowStartedAt);
    if (hits > limit) {
      const until = new Date(start + MAIL_LIMITS.windowMs);
      throw new DomainError('limit', 'too_many_emails', `Too many requests. Try again after ${until.toUTCString()}.`, {
        lock: { until, limit },
      });
    }
  }
}
