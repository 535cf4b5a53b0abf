import { type ActionRequestInfo, type ActionsRuntime, runPostUserRegistration, runPreUserRegistration } from '../actions/flows.js';
import type { BackgroundTasks } from '../background.js';
import type { Config } from '../config.js';
import { databaseConnectionFor } from '../connections/database.js';
import { DomainError } from '../domain/errors.js';
import type { Client, Connection, User } from '../domain/types.js';
import { createUser, type UserCreateInput } from '../domain/users.js';
import { recordEvent } from '../events/emit.js';
import type { Lookups } from '../storage/cache.js';
import type { Storage } from '../storage/types.js';
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

export interface SignupInput {
  connection: Connection;
  profile: Omit<UserCreateInput, 'connection'>;
  ip: string;
  now: number;
  limits: SignupLimits;
  /** Runs after the limits counted the sign-up, before the user is stored (pre-user-registration): metadata to add. */
  beforeCreate?: () => Promise<Pick<UserCreateInput, 'app_metadata' | 'user_metadata'>>;
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
      const message = `Too many sign-ups. Try again after ${until.toUTCString()}.`;
      throw new DomainError('limit', 'too_many_signups', message, { lock: { until, limit } });
    }
  }
  // createUser hashes the password before it inserts: a taken email costs the same argon2id hash
  // as a new one, so the time taken tells no more than the answer does. Its DomainErrors (user_exists,
  // password_policy, invalid) go to the caller as they are.
  const added = input.beforeCreate ? await input.beforeCreate() : {};
  const profile = {
    ...input.profile,
    ...(added.app_metadata ? { app_metadata: { ...input.profile.app_metadata, ...added.app_metadata } } : {}),
    ...(added.user_metadata ? { user_metadata: { ...input.profile.user_metadata, ...added.user_metadata } } : {}),
  };
  return createUser(storage, { ...profile, connection: input.connection.name }, new Date(now));
}

/** What a sign-up may set: the user's own profile, never ids, app_metadata or verification flags. */
export type SignupProfile = Partial<
  Pick<
    UserCreateInput,
    'email' | 'password' | 'username' | 'name' | 'given_name' | 'family_name' | 'nickname' | 'picture' | 'user_metadata'
  >
>;

export interface SignupContext {
  storage: Storage;
  lookups: Lookups;
  config: Pick<Config, 'signupLimitPerIp' | 'signupLimitPerTenant'>;
  now: () => number;
  /** pre- and post-user-registration Actions. */
  actions?: ActionsRuntime;
  background?: BackgroundTasks;
}

export interface SignupRequest {
  client: Client;
  /** The connection the app named; the tenant's default directory when none. */
  connection: string | undefined;
  profile: SignupProfile;
  ip: string;
  /** For the Actions' `event.request`. */
  request?: ActionRequestInfo;
  /** The hosted page signs the new user in: counted as the first login, as Auth0 does. */
  signsIn?: boolean;
}

/**
 * The one sign-up behind both `/u/signup` and `/dbconnections/signup`: the database connection the
 * client may use, its disable_signup switch, email and password present, then the limits, the
 * password policy and the duplicate check of signUpDatabaseUser. Each surface only reads its input
 * and words the answer its own way.
 */
export async function signUp(ctx: SignupContext, request: SignupRequest): Promise<{ user: User; connection: Connection }> {
  const event = {
    client_id: request.client.client_id,
    client_name: request.client.name,
    strategy: 'auth0',
    strategy_type: 'database',
    ...(request.profile.email ? { user_name: request.profile.email.slice(0, 254) } : {}),
  };
  try {
    const { user, connection } = await signUpUnrecorded(ctx, request);
    recordEvent({ ...event, type: 'ss', user_id: user.user_id, connection: connection.name, connection_id: connection.id });
    return { user, connection };
  } catch (err) {
    if (err instanceof DomainError) {
      recordEvent({ ...event, type: 'fs', description: err.message, details: { error: err.code } });
    }
    throw err;
  }
}

async function signUpUnrecorded(ctx: SignupContext, request: SignupRequest): Promise<{ user: User; connection: Connection }> {
  const connection = await databaseConnectionFor(ctx.lookups, request.client, request.connection);
  if (!connection)
    throw new DomainError('invalid', 'invalid_connection', 'The connection does not exist or is not enabled for this client', {
      field: 'connection',
    });
  if (connection.options.disable_signup === true) throw new DomainError('forbidden', 'signup_disabled', 'Public signup is disabled');
  const { email, password } = request.profile;
  if (!email || !password) throw new DomainError('invalid', 'missing_credentials', 'An email address and a password are required');
  const now = ctx.now();
  let user = await signUpDatabaseUser(ctx.storage, {
    connection,
    profile: { ...request.profile, email, password },
    ip: request.ip,
    now,
    limits: signupLimits(ctx.config),
    beforeCreate: async () => {
      const { password: _p, ...attributes } = request.profile;
      const metadata = { app_metadata: {}, user_metadata: attributes.user_metadata ?? {} };
      // A denial throws Auth0's answer to a denied sign-up: the Action's message for the user.
      return runPreUserRegistration(ctx, {
        user: { ...attributes, ...metadata, email },
        connection: { id: connection.id, name: connection.name, strategy: connection.strategy },
        client: request.client,
        request: { ip: request.ip, ...request.request },
      });
    },
  });
  runPostUserRegistration(ctx, {
    user: { ...user },
    connection: { id: connection.id, name: connection.name, strategy: connection.strategy },
    client: request.client,
    request: { ip: request.ip, ...request.request },
  });
  if (request.signsIn) {
    const record = await ctx.storage.users.get(user.user_id);
    if (record) {
      user = { ...user, logins_count: 1, last_login: new Date(now).toISOString() };
      await ctx.storage.users.update({ ...record, user });
    }
  }
  return { user, connection };
}
