import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Server configuration. Every field can come from the environment (LATCHKEY_*) or from a JSON file
 * named by LATCHKEY_CONFIG; the environment wins. Validated once at start so a typo fails loudly
 * instead of surfacing as a 500 later.
 */
export const ConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
    /** Unset: 127.0.0.1 for the dev server (admin credentials generated), 0.0.0.0 once the admin client is configured. */
    host: Type.Optional(Type.String({ minLength: 1 })),
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
    /** Dynamic client registrations allowed per minute across the tenant: every address and node together. */
    registrationTenantRateLimit: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 100 }),
    /** Dynamically registered clients the tenant may hold; deleting one frees its place. */
    registrationMaxClients: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 10_000 }),
    /** When set, /oidc/register requires it as a Bearer initial access token (RFC 7591 §3). */
    registrationInitialAccessToken: Type.Optional(Type.String({ minLength: 32, maxLength: 512 })),
    /** Prefix of dynamically registered client ids, so they stand out in logs and lists. */
    registrationClientIdPrefix: Type.String({ pattern: '^[A-Za-z0-9_-]{0,16}$', default: 'tpc_' }),
    /** When given, tenant flag auth0_compatible_defaults is set to it at every start (Auth0's defaults). */
    auth0CompatibleDefaults: Type.Optional(Type.Boolean()),
    /**
     * Which peers may set X-Forwarded-For/-Proto/-Host: a hop count, or a comma-separated list of
     * addresses and CIDR ranges (also `loopback`, `linklocal`, `uniquelocal`). Off by default: the
     * socket peer is the client, and a forged X-Forwarded-For cannot dodge a per-address limit.
     */
    trustProxy: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 32 }), Type.String({ minLength: 1, maxLength: 2000 })])),
    /** Time to receive a whole request, headers and body (slow-body attacks); also the socket idle limit. */
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
    /** How long an idle keep-alive connection stays open; behind a load balancer, above its idle timeout. */
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
    /** Pending sign-ins (login transactions) one address (IPv6: one /64) may hold at once. */
    loginTransactionsPerIp: Type.Integer({ minimum: 1, maximum: 100000, default: 500 }),
    /** Sign-ups (hosted page and /dbconnections/signup) per address and hour. */
    signupLimitPerIp: Type.Integer({ minimum: 1, maximum: 1000000, default: 20 }),
    /** Sign-ups per hour on the whole tenant, whatever the address. */
    signupLimitPerTenant: Type.Integer({ minimum: 1, maximum: 10000000, default: 1000 }),
    /**
     * Prometheus metrics (off by default). With metricsPort, /metrics is served on a separate listener at
     * metricsHost:metricsPort (127.0.0.1 unless set), not on the public port; with metricsToken, /metrics
     * asks for it as a Bearer token (on the public port when metricsPort is not set, on both otherwise).
     */
    metricsPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    metricsHost: Type.String({ minLength: 1, default: '127.0.0.1' }),
    metricsToken: Type.Optional(Type.String({ minLength: 32, maxLength: 512 })),
    /** The `picture` of users without one: an initials avatar served here, or Gravatar falling back to it. */
    defaultPicture: Type.Union([Type.Literal('initials'), Type.Literal('gravatar')], { default: 'initials' }),
    /**
     * Largest users file a bulk import accepts (bytes). Auth0 takes 500 KB a file; latchkey streams
     * the file into the database, so a larger one costs disk, not memory: 64 MiB is ~250,000 users.
     */
    jobsImportMaxBytes: Type.Integer({ minimum: 1024, maximum: 2 * 1024 * 1024 * 1024, default: 64 * 1024 * 1024 }),
    /** How long a node's claim on a running job lasts unrenewed: after it, another node resumes the job. */
    jobsLeaseSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
    /** CPU time one Action run may use (its script's execution, summed over the run). */
    actionsCpuTimeMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1_000 }),
    /** One flow (every Action bound to the trigger) from start to end, waiting for their fetch calls included. */
    actionsWallTimeMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
    /** The QuickJS heap of one Action (the worker's 64 MiB WebAssembly memory bounds any value). */
    actionsMemoryMb: Type.Integer({ minimum: 1, maximum: 48, default: 16 }),
    /** Actions the tenant may have (Management API `POST /actions/actions` answers 429 past it). */
    actionsMax: Type.Integer({ minimum: 0, maximum: 100_000, default: 1000 }),
    /** After a busy period, this many idle seconds trigger one full garbage collection that returns memory (0: never). */
    memoryTrimIdleSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 10 }),
    /** Mails queued to one address per hour; more are refused (a backstop behind the endpoints' throttles). */
    mailPerRecipientPerHour: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
    /** Undelivered mails the outbox holds at most; more are refused until some are delivered or expire. */
    mailMaxPending: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000 }),
    /** Delivery attempts before a mail fails for good (status `failed`, the last error kept). */
    mailMaxAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 8 }),
    /** Delay before the first retry; each further one doubles, up to mailRetryMaxSeconds. */
    mailRetrySeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 30 }),
    mailRetryMaxSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 3600 }),
    /** How long a node's claim on a mail it is sending lasts (above the SMTP timeouts: 10 s connect, 10 s greeting, 30 s idle). */
    mailLeaseSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 120 }),
    /** Sent mails are deleted this long after sending (they carry one-time links). */
    mailRetentionHours: Type.Integer({ minimum: 1, maximum: 8760, default: 24 }),
    /** A mail not delivered this long after it was queued fails ("expired"). */
    mailExpireHours: Type.Integer({ minimum: 1, maximum: 8760, default: 72 }),
    /** Days tenant log events (`GET /api/v2/logs`) are kept; older ones are swept. 0: none are recorded. */
    logsRetentionDays: Type.Integer({ minimum: 0, maximum: 3650, default: 30 }),
    /** Most tenant log events kept, whatever their age: failed requests anyone can send must not fill the disk. */
    logsMaxEvents: Type.Integer({ minimum: 1000, maximum: 1_000_000_000, default: 10_000_000 }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema> & {
  host: string;
  issuer: string;
  /** LATCHKEY_ISSUER was not given: the issuer is http(s)://localhost:PORT. */
  issuerFromPort?: boolean;
};

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
  registrationTenantRateLimit: 'LATCHKEY_REGISTRATION_TENANT_RATE_LIMIT',
  registrationMaxClients: 'LATCHKEY_REGISTRATION_MAX_CLIENTS',
  registrationInitialAccessToken: 'LATCHKEY_REGISTRATION_INITIAL_ACCESS_TOKEN',
  registrationClientIdPrefix: 'LATCHKEY_REGISTRATION_CLIENT_ID_PREFIX',
  auth0CompatibleDefaults: 'LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS',
  trustProxy: 'LATCHKEY_TRUST_PROXY',
  requestTimeoutMs: 'LATCHKEY_REQUEST_TIMEOUT_MS',
  keepAliveTimeoutMs: 'LATCHKEY_KEEP_ALIVE_TIMEOUT_MS',
  loginTransactionsPerIp: 'LATCHKEY_LOGIN_TRANSACTIONS_PER_IP',
  signupLimitPerIp: 'LATCHKEY_SIGNUP_LIMIT_PER_IP',
  signupLimitPerTenant: 'LATCHKEY_SIGNUP_LIMIT_PER_TENANT',
  defaultPicture: 'LATCHKEY_DEFAULT_PICTURE',
  metricsPort: 'LATCHKEY_METRICS_PORT',
  metricsHost: 'LATCHKEY_METRICS_HOST',
  metricsToken: 'LATCHKEY_METRICS_TOKEN',
  jobsImportMaxBytes: 'LATCHKEY_JOBS_IMPORT_MAX_BYTES',
  jobsLeaseSeconds: 'LATCHKEY_JOBS_LEASE_SECONDS',
  actionsCpuTimeMs: 'LATCHKEY_ACTIONS_CPU_TIME_MS',
  actionsWallTimeMs: 'LATCHKEY_ACTIONS_WALL_TIME_MS',
  actionsMemoryMb: 'LATCHKEY_ACTIONS_MEMORY_MB',
  actionsMax: 'LATCHKEY_ACTIONS_MAX',
  memoryTrimIdleSeconds: 'LATCHKEY_MEMORY_TRIM_IDLE_SECONDS',
  mailPerRecipientPerHour: 'LATCHKEY_MAIL_PER_RECIPIENT_PER_HOUR',
  mailMaxPending: 'LATCHKEY_MAIL_MAX_PENDING',
  mailMaxAttempts: 'LATCHKEY_MAIL_MAX_ATTEMPTS',
  mailRetrySeconds: 'LATCHKEY_MAIL_RETRY_SECONDS',
  mailRetryMaxSeconds: 'LATCHKEY_MAIL_RETRY_MAX_SECONDS',
  mailLeaseSeconds: 'LATCHKEY_MAIL_LEASE_SECONDS',
  mailRetentionHours: 'LATCHKEY_MAIL_RETENTION_HOURS',
  mailExpireHours: 'LATCHKEY_MAIL_EXPIRE_HOURS',
  logsRetentionDays: 'LATCHKEY_LOGS_RETENTION_DAYS',
  logsMaxEvents: 'LATCHKEY_LOGS_MAX_EVENTS',
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const NUMERIC = new Set([
  'port',
  'cacheTtlSeconds',
  'registrationRateLimit',
  'registrationTenantRateLimit',
  'registrationMaxClients',
  'trustProxy',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'loginTransactionsPerIp',
  'signupLimitPerIp',
  'signupLimitPerTenant',
  'jobsImportMaxBytes',
  'jobsLeaseSeconds',
  'actionsCpuTimeMs',
  'actionsWallTimeMs',
  'actionsMemoryMb',
  'actionsMax',
  'memoryTrimIdleSeconds',
  'mailPerRecipientPerHour',
  'mailMaxPending',
  'mailMaxAttempts',
  'mailRetrySeconds',
  'mailRetryMaxSeconds',
  'mailLeaseSeconds',
  'mailRetentionHours',
  'mailExpireHours',
  'logsRetentionDays',
  'logsMaxEvents',
  'metricsPort',
]);
const BOOLEAN = new Set(['auth0CompatibleDefaults']);

/** LATCHKEY_* names that belong to other tools (the desktop SDK's examples, tests, benchmarks), not the server. */
const OTHER_TOOLS = /^LATCHKEY_(CLI_|TEST_|BENCH_|PACK_|CHROMIUM$|FETCH_TRACE$|NODE_CACHE$)/;
const KNOWN_NAMES = new Set<string>([...Object.values(ENV_NAMES), 'LATCHKEY_CONFIG']);

/** Levenshtein distance, for "did you mean" on a mistyped variable. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * A mistyped variable (LATCHKEY_DATABSE_URL) would otherwise be ignored and the default used, e.g. a
 * fresh SQLite tenant instead of the PostgreSQL one: an unknown LATCHKEY_* name stops the start.
 */
function assertKnownVariables(env: NodeJS.ProcessEnv): void {
  const unknown = Object.keys(env).filter((name) => name.startsWith('LATCHKEY_') && !KNOWN_NAMES.has(name) && !OTHER_TOOLS.test(name));
  if (unknown.length === 0) return;
  const lines = unknown.sort().map((name) => {
    const closest = [...KNOWN_NAMES].sort((x, y) => distance(name, x) - distance(name, y))[0]!;
    return `  ${name}: not a latchkey setting; did you mean ${closest}?`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  assertKnownVariables(env);
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
    raw[key] =
      NUMERIC.has(key) && /^\d+$/.test(value) ? Number(value) : BOOLEAN.has(key) && /^(true|false)$/.test(value) ? value === 'true' : value;
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
    throw new ConfigError('Invalid configuration:\n  LATCHKEY_ADMIN_CLIENT_ID and LATCHKEY_ADMIN_CLIENT_SECRET must be set together');
  }
  if (typeof withDefaults.trustProxy === 'string') {
    const bad = trustedProxyList(withDefaults.trustProxy).find((entry) => !isProxyAddress(entry));
    if (bad !== undefined) {
      throw new ConfigError(
        `Invalid configuration:\n  LATCHKEY_TRUST_PROXY: '${bad}' ` +
          'is neither a hop count, an IP address, a CIDR range nor loopback/linklocal/uniquelocal',
      );
    }
  }
  const scheme = withDefaults.tlsCert ? 'https' : 'http';
  const issuerBase = withDefaults.issuer ?? `${scheme}://localhost:${withDefaults.port}`;
  // Auth0 issuers end in a slash and SDKs compare them as exact strings.
  const issuer = issuerBase.endsWith('/') ? issuerBase : `${issuerBase}/`;
  // The dev server prints an admin secret that holds every Management scope: loopback only, unless asked.
  const host = withDefaults.host ?? (withDefaults.adminClientId ? '0.0.0.0' : '127.0.0.1');
  return { ...withDefaults, host, issuer, ...(withDefaults.issuer === undefined ? { issuerFromPort: true } : {}) };
}

/**
 * `LATCHKEY_TRUST_PROXY` as Fastify's `trustProxy` option. Fastify treats a bare number as "trust
 * nothing" (a hop count cannot tell the proxy from a client that connects directly), so a hop count
 * becomes Express's rule, trust the nearest N hops, for deployments where only the proxy can reach
 * latchkey; an address list is the safer form and is recommended in the README.
 */
export function trustProxyOption(config: Pick<Config, 'trustProxy'>): ((address: string, hop: number) => boolean) | string[] | false {
  const setting = config.trustProxy;
  if (setting === undefined || setting === 0) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return trustedProxyList(setting);
}

const trustedProxyList = (text: string) => text.split(',').map((entry) => entry.trim());

const PROXY_ADDRESS_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** What proxy-addr (behind Fastify's trustProxy) accepts, checked here so a typo fails at start. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_ADDRESS_KEYWORDS.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
