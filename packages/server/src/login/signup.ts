import type { Config } from '../config.js';
import { ManagementApiError } from '../domain/errors.js';
import { createUser, type UserCreateInput } from '../domain/users.js';
import type { Storage } from '../storage/types.js';
import type { Connection, User } from '../domain/types.js';
import { addressKey } from './address.js';

/** Sign-ups are counted per address and per tenant in fixed windows of an hour. */
export const SIGNUP_WINDOW_MS = 60 * 60_000;

export interface SignupLimits {
  /** Sign-ups one address (IPv6: one /64) may make per window. */
  perAddress: number;
  /** Sign-ups the whole tenant takes per window, whatever the address. */
  perTenant: number;
}

export const signupLimits = (config: Pick<Config, 'signupLimitPerIp' | 'signupLimitPerTenant'>): SignupLimits => ({
  perAddress: config.signupLimitPerIp,
  perTenant: config.signupLimitPerTenant,
});

export type SignupFailure = 'too_many_signups' | 'user_exists' | 'invalid_password' | 'invalid_signup';

export class SignupError extends Error {
  override name = 'SignupError';
  constructor(
    readonly reason: SignupFailure,
    message: string,
    /** too_many_signups: when the window ends, and the limit that was reached (for lockHeaders). */
    readonly lock?: { until: Date; limit: number },
  ) {
    super(message);
  }
}

export interface SignupInput {
  connection: Connection;
  profile: Omit<UserCreateInput, 'connection'>;
  ip: string;
  now: number;
  limits: SignupLimits;
}

/**
 * A sign-up on a database connection, for the hosted page and /dbconnections/signup alike. Each
 * one costs an argon2id hash and a row that never expires, and anyone may ask for it: it is counted
 * before anything is checked, in one atomic statement per limit (the login throttle's storage), so
 * requests sent all at once cannot slip past the limit. The address is counted first: a sign-up
 * refused by its address's limit does not use up the tenant's.
 */
export async function signUpDatabaseUser(storage: Pick<Storage, 'connections' | 'throttles' | 'users'>, input: SignupInput): Promise<User> {
  const { now, limits } = input;
  const iso = new Date(now).toISOString();
  const windowStartedBefore = new Date(now - SIGNUP_WINDOW_MS).toISOString();
  const counters = [
    [`signup:ip:${addressKey(input.ip)}`, limits.perAddress],
    ['signup:tenant', limits.perTenant],
  ] as const;
  for (const [key, limit] of counters) {
    const counted = await storage.throttles.recordFailure(key, iso, windowStartedBefore);
    if (counted.failures > limit) {
      const until = new Date(Date.parse(counted.windowStartedAt) + SIGNUP_WINDOW_MS);
      throw new SignupError('too_many_signups', `Too many sign-ups. Try again after ${until.toUTCString()}.`, { until, limit });
    }
  }
  try {
    // createUser hashes the password before it inserts: a taken email costs the same argon2id hash
    // as a new one, so the time taken tells no more than the answer does.
    return await createUser(storage, { ...input.profile, connection: input.connection.name }, new Date(now));
  } catch (err) {
    if (!(err instanceof ManagementApiError)) throw err;
    if (err.errorCode === 'auth0_idp_error') throw new SignupError('user_exists', 'The user already exists.');
    if (err.errorCode === 'password_strength_error') throw new SignupError('invalid_password', err.message.replace(/^PasswordStrengthError: /, ''));
    throw new SignupError('invalid_signup', err.message);
  }
}
