import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DestinationStream } from 'pino';
import { Agent, setGlobalDispatcher } from 'undici';
import { type RunningServer, startServer } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { GrantRegistry } from '../../src/oauth/grants/index.js';

/** Which database the suite runs on: `npm run test:sqlite` / `npm run test:postgres` set it. */
export const backend = (process.env.LATCHKEY_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface TestCertificates {
  ca: Buffer;
  certPath: string;
  keyPath: string;
}

let certificates: TestCertificates | undefined;

/** A throwaway CA and a 127.0.0.1/localhost certificate it signs, made with the system's openssl. */
export function testCertificates(): TestCertificates {
  if (certificates) return certificates;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=latchkey test CA',
  ]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  const ext = join(dir, 'ext.cnf');
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`]);
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  certificates = { ca: readFileSync(join(dir, 'ca.pem')), certPath: join(dir, 'server.pem'), keyPath: join(dir, 'server.key') };
  return certificates;
}

/** Makes this process's fetch (and so the auth0 SDK and openid-client) trust the test CA. */
export function trustTestCa(): void {
  setGlobalDispatcher(new Agent({ connect: { ca: testCertificates().ca } }));
}

export interface TestServer extends RunningServer {
  issuer: string;
  admin: { clientId: string; clientSecret: string };
  databaseUrl: string;
  /** A Management API token for the admin client (all scopes) or a narrower one. */
  managementToken(scope?: string): Promise<string>;
  /** Authorised Management API call; JSON in, parsed JSON out with the status. */
  management(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
}

export interface TestServerOptions {
  https?: boolean;
  now?: () => number;
  /** Start another node on the same database (PostgreSQL) or file (SQLite). */
  shareWith?: TestServer;
  config?: Partial<Config>;
  /** Receives the server's log lines (pino JSON), e.g. to check what is logged. */
  logStream?: DestinationStream;
  /** Grants other than the built-in ones, e.g. a test's own. */
  grants?: GrantRegistry;
}

/**
 * Starts a real latchkey on 127.0.0.1 and a random port, on a fresh SQLite file or a fresh
 * PostgreSQL schema, and removes that database again on close.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const port = await freePort();
  const scheme = options.https ? 'https' : 'http';
  let databaseUrl: string;
  let dataDir: string;
  let dropDatabase: () => Promise<void>;
  if (options.shareWith) {
    databaseUrl = options.shareWith.databaseUrl;
    dataDir = options.shareWith.ctx.config.dataDir;
    dropDatabase = async () => {};
  } else if (backend === 'postgres') {
    const schema = `lk_test_${randomBytes(6).toString('hex')}`;
    databaseUrl = `${postgresUrl}?schema=${schema}`;
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
    dropDatabase = async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    };
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
    databaseUrl = `sqlite:${join(dataDir, 'latchkey.db')}`;
    dropDatabase = async () => rmSync(dataDir, { recursive: true, force: true });
  }
  const admin = options.shareWith?.admin ?? {
    clientId: `admin${randomBytes(8).toString('hex')}`,
    clientSecret: randomBytes(32).toString('base64url'),
  };
  const tls = options.https ? testCertificates() : undefined;
  const config = loadConfig(
    {},
    {
      port,
      host: '127.0.0.1',
      issuer: `${scheme}://127.0.0.1:${port}`,
      databaseUrl,
      dataDir,
      masterKey: options.shareWith?.ctx.config.masterKey ?? randomBytes(32).toString('base64'),
      adminClientId: admin.clientId,
      adminClientSecret: admin.clientSecret,
      logLevel: (process.env.LATCHKEY_TEST_LOG as Config['logLevel']) ?? 'silent',
      ...(tls ? { tlsCert: tls.certPath, tlsKey: tls.keyPath } : {}),
      ...options.config,
    },
  );
  const server = await startServer(config, {
    ...(options.now ? { now: options.now } : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
    ...(options.grants ? { grants: options.grants } : {}),
  });
  const issuer = config.issuer;

  const managementToken = async (scope?: string) => {
    const response = await fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: admin.clientId,
        client_secret: admin.clientSecret,
        audience: `${issuer}api/v2/`,
        ...(scope !== undefined ? { scope } : {}),
      }),
    });
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`No management token: ${JSON.stringify(body)}`);
    return body.access_token;
  };
  let cachedToken: string | undefined;
  const management = async (method: string, path: string, body?: unknown, token?: string) => {
    token ??= cachedToken ??= await managementToken();
    const response = await fetch(`${issuer}api/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  return {
    ...server,
    issuer,
    admin,
    databaseUrl,
    managementToken,
    management,
    close: async () => {
      await server.close();
      await dropDatabase();
    },
  };
}
