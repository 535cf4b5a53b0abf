/**
 * A new user's first start: with the port taken or a bad TLS file the CLI must stop before creating
 * the tenant (one line naming the problem, no stack), so the next good start still prints the admin
 * credentials; and `latchkey admin rotate-secret` gets an operator back in without deleting data.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { backend, freePort, testCertificates } from './helpers/server.js';

const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lk_test_${randomBytes(6).toString('hex')}`;
let dir: string;
let port: number;
let env: Record<string, string>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-first-start-'));
  port = await freePort();
  env = {
    PATH: process.env.PATH ?? '',
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_PORT: String(port),
    LATCHKEY_DATA_DIR: join(dir, 'data'),
    LATCHKEY_DATABASE_URL: backend === 'postgres' ? `${postgresUrl}?schema=${schema}` : `sqlite:${join(dir, 'data', 'latchkey.db')}`,
  };
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (backend === 'postgres') {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
});

function cli(args: string[], extraEnv: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

function assertOneLineFailure(result: ReturnType<typeof cli>, problem: RegExp) {
  assert.equal(result.status, 1, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${result.stderr}`);
  assert.match(lines[0]!, problem);
  assert.doesNotMatch(result.stdout, /LATCHKEY_ADMIN_CLIENT_SECRET=/, 'nothing was created, so no credentials either');
}

const credentialsIn = (stdout: string) => {
  const clientId = /LATCHKEY_ADMIN_CLIENT_ID=(\S+)/.exec(stdout)?.[1];
  const clientSecret = /LATCHKEY_ADMIN_CLIENT_SECRET=(\S+)/.exec(stdout)?.[1];
  return clientId && clientSecret ? { clientId, clientSecret } : undefined;
};

/** Runs `start` until it logs that it listens; `stop` ends it. */
async function runServer(): Promise<{ stdout: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('latchkey started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`start exited with ${code}: ${stderr}`)));
  });
  return {
    stdout,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function tokenStatus(admin: { clientId: string; clientSecret: string }): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: admin.clientId,
      client_secret: admin.clientSecret,
      audience: `http://localhost:${port}/api/v2/`,
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

test('a taken port, a bad TLS file, then a good start: the credentials are printed, and rotate-secret replaces them', async () => {
  // 1. The port is taken (another service, or a second latchkey).
  const squatter: Server = createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  try {
    assertOneLineFailure(cli(['start']), /LATCHKEY_PORT.*already in use/);
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }

  // 2. A certificate file that is missing, then one that is not PEM.
  const tls = testCertificates();
  assertOneLineFailure(
    cli(['start'], { LATCHKEY_TLS_CERT: join(dir, 'missing.pem'), LATCHKEY_TLS_KEY: tls.keyPath }),
    /LATCHKEY_TLS_CERT.*missing\.pem/,
  );
  const notPem = join(dir, 'not.pem');
  writeFileSync(notPem, 'not a certificate\n');
  assertOneLineFailure(cli(['start'], { LATCHKEY_TLS_CERT: notPem, LATCHKEY_TLS_KEY: tls.keyPath }), /LATCHKEY_TLS_CERT.*not a usable PEM/);

  // 3. A database that cannot be reached (the password is not repeated).
  assertOneLineFailure(
    cli(['start'], { LATCHKEY_DATABASE_URL: 'postgres://latchkey:hunter2@127.0.0.1:1/latchkey' }),
    /^latchkey: cannot open the database LATCHKEY_DATABASE_URL \(postgres:\/\/latchkey:\*\*\*@127\.0\.0\.1:1\/latchkey\): .*ECONNREFUSED/,
  );

  // 4. The good start creates the tenant and shows its admin credentials, which work.
  const first = await runServer();
  const admin = credentialsIn(first.stdout);
  try {
    assert.ok(admin, `the first good start prints the admin credentials:\n${first.stdout}`);
    assert.equal(await tokenStatus(admin), 200);
  } finally {
    await first.stop();
  }

  // 5. They are lost: the operator rotates the secret without touching the data.
  const rotated = cli(['admin', 'rotate-secret']);
  assert.equal(rotated.status, 0, rotated.stderr);
  const replaced = credentialsIn(rotated.stdout);
  assert.ok(replaced);
  assert.equal(replaced.clientId, admin.clientId);
  assert.notEqual(replaced.clientSecret, admin.clientSecret);

  const second = await runServer();
  try {
    assert.equal(credentialsIn(second.stdout), undefined, 'a later start prints no credentials');
    assert.equal(await tokenStatus(admin), 401, 'the old secret no longer works');
    assert.equal(await tokenStatus(replaced), 200, 'the new secret works');
  } finally {
    await second.stop();
  }

  // 6. Mistakes are one line: an unknown client, or an admin whose secret the environment sets
  // (the next start would set it back).
  const unknown = cli(['admin', 'rotate-secret', 'nosuchclient']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr.trim(), new RegExp(`^latchkey: nosuchclient is not an admin client \\(admin clients: ${admin.clientId}\\)$`));
  const configured = cli(['admin', 'rotate-secret'], {
    LATCHKEY_ADMIN_CLIENT_ID: admin.clientId,
    LATCHKEY_ADMIN_CLIENT_SECRET: 'c'.repeat(43),
  });
  assert.equal(configured.status, 1);
  assert.equal(configured.stderr.trim().split('\n').length, 1, configured.stderr);
  assert.match(configured.stderr, /set by LATCHKEY_ADMIN_CLIENT_SECRET/);
});

test('a master key that cannot open the signing key stops the start before the tenant is created', async () => {
  const otherDir = mkdtempSync(join(tmpdir(), 'latchkey-wrong-key-'));
  const otherSchema = `lk_test_${randomBytes(6).toString('hex')}`;
  const fresh = {
    ...env,
    LATCHKEY_DATA_DIR: otherDir,
    LATCHKEY_DATABASE_URL: backend === 'postgres' ? `${postgresUrl}?schema=${otherSchema}` : `sqlite:${join(otherDir, 'latchkey.db')}`,
  };
  try {
    // A signing key sealed under one master key (`keys rotate` before any start), then a start with another.
    const sealedWith = randomBytes(32).toString('base64');
    const rotated = cli(['keys', 'rotate'], { ...fresh, LATCHKEY_MASTER_KEY: sealedWith });
    assert.equal(rotated.status, 0, rotated.stderr);
    const failed = cli(['start'], { ...fresh, LATCHKEY_MASTER_KEY: randomBytes(32).toString('base64') });
    assertOneLineFailure(failed, /^latchkey: the master key \(LATCHKEY_MASTER_KEY.*cannot decrypt the current signing key/);

    // With the right key, the first real start of the tenant shows the credentials.
    Object.assign(env, fresh, { LATCHKEY_MASTER_KEY: sealedWith });
    const server = await runServer();
    try {
      const admin = credentialsIn(server.stdout);
      assert.ok(admin, `the tenant is created now, and its credentials shown:\n${server.stdout}`);
      assert.equal(await tokenStatus(admin), 200);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(otherDir, { recursive: true, force: true });
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${otherSchema}" CASCADE`);
      await client.end();
    }
  }
});
