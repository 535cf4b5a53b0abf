/**
 * The backups the deployment guide (docs/deployment.md) tells operators to take, restored and signed
 * in to: `latchkey backup FILE` for SQLite, taken while the server runs, and pg_dump/pg_restore for
 * PostgreSQL. A user made after the backup is not in it; one made before signs in on the restored copy.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { tokenRequest } from './helpers/protocol.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';
import { createPasswordGrantApp, createUser, TEST_PASSWORD } from './helpers/tenant.js';

const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let server: TestServer;
let dir: string;

before(async () => {
  server = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'latchkey-backup-'));
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      LATCHKEY_DATABASE_URL: server.databaseUrl,
      LATCHKEY_DATA_DIR: server.ctx.config.dataDir,
      LATCHKEY_MASTER_KEY: server.ctx.config.masterKey ?? '',
      LATCHKEY_ISSUER: server.issuer,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

const signIn = (node: TestServer, app: { client_id: string; client_secret?: string }, email: string) =>
  tokenRequest(node, {
    grant_type: 'password',
    client_id: app.client_id,
    client_secret: app.client_secret!,
    username: email,
    password: TEST_PASSWORD,
    scope: 'openid',
  });

/** The copy served by a fresh server with the same master key (the signing keys are sealed with it). */
function restoredServer(databaseUrl: string) {
  return startTestServer({ config: { databaseUrl, masterKey: server.ctx.config.masterKey! } });
}

test(`a backup taken while the server runs restores, and its users sign in (${backend})`, async () => {
  const app = await createPasswordGrantApp(server);
  await createUser(server, 'before@example.test');
  assert.equal((await signIn(server, app, 'before@example.test')).status, 200);

  let restoredUrl: string;
  let cleanup = async () => {};
  if (backend === 'sqlite') {
    const file = join(dir, 'latchkey-backup.db');
    const result = await cli(['backup', file]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^latchkey: backed up .* to .*latchkey-backup\.db \(\d+ pages\)\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'as secret as the database');

    // Never over an existing file (yesterday's backup), and PostgreSQL is pointed at pg_dump.
    const again = await cli(['backup', file]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^latchkey: cannot create .*latchkey-backup\.db: .*EEXIST/);
    restoredUrl = `sqlite:${file}`;
  } else {
    const refused = await cli(['backup', join(dir, 'x.db')]);
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, 'latchkey: backup copies SQLite databases; for PostgreSQL (LATCHKEY_DATABASE_URL) use pg_dump\n');
    assert.equal(existsSync(join(dir, 'x.db')), false);

    // As docs/deployment.md says: pg_dump of the schema, pg_restore into an empty database.
    const url = new URL(server.databaseUrl);
    const schema = url.searchParams.get('schema')!;
    url.search = '';
    const dump = join(dir, 'latchkey.dump');
    const dumped = spawnSync('pg_dump', ['--format=custom', `--schema=${schema}`, `--file=${dump}`, url.href], { encoding: 'utf8' });
    assert.equal(dumped.status, 0, dumped.stderr);
    const database = `lk_restore_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    cleanup = async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    };
    const target = new URL(postgresUrl);
    target.pathname = `/${database}`;
    const restored = spawnSync('pg_restore', ['--no-owner', `--dbname=${target.href}`, dump], { encoding: 'utf8' });
    assert.equal(restored.status, 0, restored.stderr);
    restoredUrl = `${target.href}?schema=${schema}`;
  }

  // Made after the backup: not in it.
  await createUser(server, 'after@example.test');

  const copy = await restoredServer(restoredUrl);
  try {
    const restoredSignIn = await signIn(copy, app, 'before@example.test');
    assert.equal(restoredSignIn.status, 200, JSON.stringify(restoredSignIn.body));
    assert.ok(restoredSignIn.body.id_token);
    const missing = await signIn(copy, app, 'after@example.test');
    assert.equal(missing.status, 403, JSON.stringify(missing.body));
    assert.equal(missing.body.error, 'invalid_grant');
  } finally {
    await copy.close(); // drops only what the helper made (a data directory), not the restored copy
    await cleanup();
  }
});
