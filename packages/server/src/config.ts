import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Server configuration. Every field can come from the environment (LATCHKEY_*) or from a JSON file
 * named by LATCHKEY_CONFIG; the environment wins. Validated once at start so a typo fails loudly
 * instead of surfacing as a 500 later.
 */
export const ConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
    host: Type.String({ minLength: 1, default: '0.0.0.0' }),
    issuer: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*)?$' })),
    databaseUrl: Type.String({ pattern: '^(sqlite:|postgres(ql)?://)', default: 'sqlite:./data/latchkey.db' }),
    dataDir: Type.String({ minLength: 1, default: './data' }),
    tlsCert: Type.Optional(Type.String({ minLength: 1 })),
    tlsKey: Type.Optional(Type.String({ minLength: 1 })),
    adminClientId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' })),
    adminClientSecret: Type.Optional(Type.String({ minLength: 43, maxLength: 256 })),
    masterKey: Type.Optional(Type.String({ minLength: 1 })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    /** Upper bound on how long a cached lookup may be served if a change notification is lost. */
    cacheTtlSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 300 }),
    /** Dynamic client registrations allowed per IP and second, per node (RFC 7591 endpoint). */
    registrationRateLimit: Type.Integer({ minimum: 1, maximum: 10000, default: 5 }),
    /** When set, /oidc/register requires it as a Bearer initial access token (RFC 7591 §3). */
    registrationInitialAccessToken: Type.Optional(Type.String({ minLength: 32, maxLength: 512 })),
    /** Prefix of dynamically registered client ids, so they stand out in logs and lists. */
    registrationClientIdPrefix: Type.String({ pattern: '^[A-Za-z0-9_-]{0,16}$', default: 'tpc_' }),
    /** Pending sign-ins (login transactions) one address (IPv6: one /64) may hold at once. */
    loginTransactionsPerIp: Type.Integer({ minimum: 1, maximum: 100000, default: 500 }),
    /** Sign-ups (hosted page and /dbconnections/signup) per address and hour. */
    signupLimitPerIp: Type.Integer({ minimum: 1, maximum: 1000000, default: 20 }),
    /** Sign-ups per hour on the whole tenant, whatever the address. */
    signupLimitPerTenant: Type.Integer({ minimum: 1, maximum: 10000000, default: 1000 }),
    /** The `picture` of users without one: an initials avatar served here, or Gravatar falling back to it. */
    defaultPicture: Type.Union([Type.Literal('initials'), Type.Literal('gravatar')], { default: 'initials' }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema> & { issuer: string };

const ENV_NAMES: Record<keyof Static<typeof ConfigSchema>, string> = {
  port: 'LATCHKEY_PORT',
  host: 'LATCHKEY_HOST',
  issuer: 'LATCHKEY_ISSUER',
  databaseUrl: 'LATCHKEY_DATABASE_URL',
  dataDir: 'LATCHKEY_DATA_DIR',
  tlsCert: 'LATCHKEY_TLS_CERT',
  tlsKey: 'LATCHKEY_TLS_KEY',
  adminClientId: 'LATCHKEY_ADMIN_CLIENT_ID',
  adminClientSecret: 'LATCHKEY_ADMIN_CLIENT_SECRET',
  masterKey: 'LATCHKEY_MASTER_KEY',
  logLevel: 'LATCHKEY_LOG_LEVEL',
  cacheTtlSeconds: 'LATCHKEY_CACHE_TTL_SECONDS',
  registrationRateLimit: 'LATCHKEY_REGISTRATION_RATE_LIMIT',
  registrationInitialAccessToken: 'LATCHKEY_REGISTRATION_INITIAL_ACCESS_TOKEN',
  registrationClientIdPrefix: 'LATCHKEY_REGISTRATION_CLIENT_ID_PREFIX',
  loginTransactionsPerIp: 'LATCHKEY_LOGIN_TRANSACTIONS_PER_IP',
  signupLimitPerIp: 'LATCHKEY_SIGNUP_LIMIT_PER_IP',
  signupLimitPerTenant: 'LATCHKEY_SIGNUP_LIMIT_PER_TENANT',
  defaultPicture: 'LATCHKEY_DEFAULT_PICTURE',
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const NUMERIC = new Set(['port', 'cacheTtlSeconds', 'registrationRateLimit', 'loginTransactionsPerIp', 'signupLimitPerIp', 'signupLimitPerTenant']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  let fromFile: Record<string, unknown> = {};
  if (env.LATCHKEY_CONFIG) {
    try {
      fromFile = JSON.parse(readFileSync(resolve(env.LATCHKEY_CONFIG), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`Cannot read LATCHKEY_CONFIG (${env.LATCHKEY_CONFIG}): ${(err as Error).message}`);
    }
  }
  const raw: Record<string, unknown> = { ...fromFile };
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    raw[key] = NUMERIC.has(key) && /^\d+$/.test(value) ? Number(value) : value;
  }
  Object.assign(raw, overrides);
  const withDefaults = Value.Default(ConfigSchema, raw) as Static<typeof ConfigSchema>;
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const key = e.path.replace(/^\//, '') as keyof typeof ENV_NAMES;
      return `  ${ENV_NAMES[key] ?? key}: ${e.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  if (Boolean(withDefaults.tlsCert) !== Boolean(withDefaults.tlsKey)) {
    throw new ConfigError('Invalid configuration:\n  LATCHKEY_TLS_CERT and LATCHKEY_TLS_KEY must be set together');
  }
  if (Boolean(withDefaults.adminClientId) !== Boolean(withDefaults.adminClientSecret)) {
    throw new ConfigError(
      'Invalid configuration:\n  LATCHKEY_ADMIN_CLIENT_ID and LATCHKEY_ADMIN_CLIENT_SECRET must be set together',
    );
  }
  const scheme = withDefaults.tlsCert ? 'https' : 'http';
  const issuerBase = withDefaults.issuer ?? `${scheme}://localhost:${withDefaults.port}`;
  // Auth0 issuers end in a slash and SDKs compare them as exact strings.
  const issuer = issuerBase.endsWith('/') ? issuerBase : `${issuerBase}/`;
  return { ...withDefaults, issuer };
}
