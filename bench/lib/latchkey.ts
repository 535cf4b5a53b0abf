/**
 * latchkey as a benchmark runs it: the built server (`packages/server/dist/cli.js start`, plain
 * node, no loader) on a fresh temporary SQLite file or PostgreSQL schema, with a master key and an
 * admin client for the Management API. Everything it creates is removed on clean-up.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  baseEnv,
  dropSchema,
  expectStatus,
  freePort,
  makeTempDir,
  onCleanUp,
  requestJson,
  type ServerProcess,
  serverDir,
  startPinned,
  waitForOk,
} from './harness.js';

export const latchkeyCli = join(serverDir, 'dist/cli.js');

/** Where PostgreSQL runs are made; each gets its own schema, dropped afterwards. */
export const postgresBaseUrl = process.env.LATCHKEY_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type StorageKind = 'sqlite' | 'postgres';

export const storageLabel = (storage: StorageKind): string => (storage === 'sqlite' ? 'SQLite' : 'PostgreSQL');

export function expectBuiltServer(): void {
  if (!existsSync(latchkeyCli)) throw new Error(`${latchkeyCli} is missing: run \`npm run build -w @latchkey/server\` first`);
}

export interface ManagementApi {
  /** An access token for the Management API audience, from the admin client's credentials. */
  managementToken: string;
  /** A Management API call: `path` is under /api/v2 (e.g. `/clients`); JSON in, JSON out. */
  management(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface Latchkey {
  /** "latchkey (SQLite)" or "latchkey (PostgreSQL)". */
  name: string;
  storage: StorageKind;
  /** `sqlite:<file>` or `postgres://…?schema=<schema>`: for benchmarks that fill the database directly. */
  databaseUrl: string;
  /** `http://127.0.0.1:<port>/`, with the trailing slash, as latchkey (and Auth0) spell it. */
  issuer: string;
  server: ServerProcess;
  /** From spawn to the first 200 from /healthz; includes migrating the empty database and generating the first signing key. */
  startupMs: number;
  /** Starts the server again on the same data, port and settings (stop `server` first). */
  relaunch(): Promise<{ server: ServerProcess; startupMs: number }>;
  /** Gets an admin token; separate from start-up so a caller can read the idle server first. */
  managementApi(): Promise<ManagementApi>;
}

/**
 * Starts latchkey on `storage`, pinned to the taskset CPU list `core` (undefined: every core).
 * `LATCHKEY_LOG_LEVEL=silent`, so logging costs nothing under load; `extraEnv` adds or overrides settings.
 * On PostgreSQL, the schema is made in the database `postgresUrl` names.
 */
export async function startLatchkey(
  storage: StorageKind,
  core?: string,
  extraEnv: NodeJS.ProcessEnv = {},
  postgresUrl = postgresBaseUrl,
): Promise<Latchkey> {
  const name = `latchkey (${storageLabel(storage)})`;
  const dataDir = makeTempDir('latchkey-bench-');
  let databaseUrl = `sqlite:${join(dataDir, 'latchkey.db')}`;
  if (storage === 'postgres') {
    const schema = `bench_${randomBytes(6).toString('hex')}`;
    databaseUrl = `${postgresUrl}?schema=${schema}`;
    // Registered before the server starts (clean-up runs in reverse), so it runs after the stop.
    onCleanUp(`drop schema ${schema}`, () => dropSchema(postgresUrl, schema));
  }
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/`;
  const admin = { clientId: `bench${randomBytes(8).toString('hex')}`, clientSecret: randomBytes(32).toString('base64url') };

  const env = {
    ...baseEnv(),
    LATCHKEY_PORT: String(port),
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_DATABASE_URL: databaseUrl,
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_MASTER_KEY: randomBytes(32).toString('base64'),
    LATCHKEY_ADMIN_CLIENT_ID: admin.clientId,
    LATCHKEY_ADMIN_CLIENT_SECRET: admin.clientSecret,
    LATCHKEY_LOG_LEVEL: 'silent',
    ...extraEnv,
  };
  const launch = async () => {
    const spawnedAt = performance.now();
    const server = startPinned(name, latchkeyCli, ['start'], env, core);
    return { server, startupMs: await waitForOk(server, `${issuer}healthz`, spawnedAt) };
  };
  const { server, startupMs } = await launch();

  return {
    name,
    storage,
    databaseUrl,
    issuer,
    server,
    startupMs,
    relaunch: launch,
    async managementApi() {
      const managementToken = expectStatus(
        'admin token',
        await requestJson('POST', `${issuer}oauth/token`, {
          grant_type: 'client_credentials',
          client_id: admin.clientId,
          client_secret: admin.clientSecret,
          audience: `${issuer}api/v2/`,
        }),
        200,
      ).access_token as string;
      return {
        managementToken,
        management: (method, path, body) => requestJson(method, `${issuer}api/v2${path}`, body, managementToken),
      };
    },
  };
}

/** The database connection every new tenant has; the benchmarks sign users in through it. */
export const DATABASE_CONNECTION = 'Username-Password-Authentication';

/** A public native app (PKCE, loopback callback) enabled on the database connection; answers its client_id. */
/** A machine-to-machine client allowed `scope` on `audience`: client_credentials with a secret in the body. */
export async function createMachineClient(
  management: ManagementApi['management'],
  audience: string,
  scope: string,
): Promise<{ client_id: string; client_secret: string }> {
  const client = expectStatus(
    'create M2M client',
    await management('POST', '/clients', {
      name: 'Benchmark M2M',
      app_type: 'non_interactive',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
    }),
    201,
  ) as { client_id: string; client_secret: string };
  expectStatus(
    'create client grant',
    await management('POST', '/client-grants', { client_id: client.client_id, audience, scope: [scope] }),
    201,
  );
  return client;
}

export async function createNativeApp(management: ManagementApi['management'], callback: string): Promise<string> {
  const client = expectStatus(
    'create client',
    await management('POST', '/clients', {
      name: 'Benchmark desktop app',
      app_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      callbacks: [callback],
    }),
    201,
  ) as { client_id: string };
  const found = expectStatus(
    'find the database connection',
    await management('GET', `/connections?name=${encodeURIComponent(DATABASE_CONNECTION)}`),
    200,
  ) as Array<{ id: string; enabled_clients: string[] }>;
  const connection = found[0];
  if (!connection) throw new Error(`no ${DATABASE_CONNECTION} connection in a new tenant`);
  expectStatus(
    'enable the client on the database connection',
    await management('PATCH', `/connections/${connection.id}`, { enabled_clients: [...connection.enabled_clients, client.client_id] }),
    200,
  );
  return client.client_id;
}
