/**
 * Issue 16's "tried as a new user would": what someone meets in their first minutes with the CLI and
 * the server. `start --help` explains instead of starting; mistakes in the configuration (a typo in a
 * variable name, a database that is not there, a master key that is not one) are one message naming
 * the variable, never a stack; the dev server keeps its printed admin secret on loopback; `/` in a
 * browser is a page, not JSON; a start on another port does not quietly give the tenant a second issuer.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { assertStrictPage } from './helpers/protocol.js';
import { backend, freePort, startTestServer } from './helpers/server.js';

const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lk_test_${randomBytes(6).toString('hex')}`;
let dir: string;
let env: Record<string, string>;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-new-user-'));
  env = {
    PATH: process.env.PATH ?? '',
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

/** Exit 1, the problem on stderr naming what to fix, and no stack frame. */
function assertRefused(result: ReturnType<typeof cli>, problem: RegExp, maxLines = 1) {
  assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.ok(lines.length <= maxLines, `at most ${maxLines} line(s) expected:\n${result.stderr}`);
  assert.match(result.stderr, problem);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
}

/** Runs `start` until it logs that it listens, answering that log line; `stop` ends it. */
async function runServer(extraEnv: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...env, LATCHKEY_LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.includes('"latchkey started"'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`start exited with ${code}: ${stderr}`)));
  });
  return {
    started,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test('`latchkey start --help` prints the usage and starts nothing', () => {
  for (const args of [['start', '--help'], ['start', '-h'], ['--help']]) {
    const result = cli(args);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Usage: latchkey <command>/, args.join(' '));
    assert.match(result.stdout, /--version, -v/);
  }
  assert.equal(existsSync(join(dir, 'data')), false, 'no data directory, no master key, no tenant');
  assertRefused(cli(['start', 'now']), /start takes no arguments \(got now\)/, 100);
});

test('a mistyped LATCHKEY_* variable stops the start, naming it and the closest known one', () => {
  assertRefused(
    cli(['start'], { LATCHKEY_DATABSE_URL: 'postgres://db.example/prod' }),
    /LATCHKEY_DATABSE_URL.*did you mean LATCHKEY_DATABASE_URL\?/,
    2,
  );
  assertRefused(cli(['migrate'], { LATCHKEY_TRUSTPROXY: 'loopback' }), /LATCHKEY_TRUSTPROXY.*did you mean LATCHKEY_TRUST_PROXY\?/, 2);
  assert.throws(() => loadConfig({ LATCHKEY_PROT: '80' }), /LATCHKEY_PROT: not a latchkey setting; did you mean LATCHKEY_PORT\?/);
  // Variables of latchkey's other tools (the desktop SDK's examples, the test suite) are not the server's business.
  assert.equal(loadConfig({ LATCHKEY_CLI_ISSUER: 'x', LATCHKEY_TEST_DB: 'sqlite', LATCHKEY_CONFIG: '' }).port, 3000);
  assert.equal(existsSync(join(dir, 'data')), false);
});

test('a missing database, an unreachable one, a bad master key or TLS file: one line naming the variable', () => {
  assertRefused(
    cli(['start'], { LATCHKEY_DATABASE_URL: `${postgresUrl.replace(/\/[^/]*$/, '')}/latchkey_no_such_database` }),
    /^latchkey: cannot open the database LATCHKEY_DATABASE_URL \(.*latchkey_no_such_database\): .*does not exist/,
  );
  assertRefused(
    cli(['start'], { LATCHKEY_DATABASE_URL: 'postgres://latchkey@127.0.0.1:1/latchkey' }),
    /LATCHKEY_DATABASE_URL.*ECONNREFUSED/,
  );
  assertRefused(cli(['start'], { LATCHKEY_MASTER_KEY: 'not-a-key' }), /^latchkey: LATCHKEY_MASTER_KEY must be 32 bytes/);
  assertRefused(
    cli(['start'], { LATCHKEY_TLS_CERT: join(dir, 'nope.pem'), LATCHKEY_TLS_KEY: join(dir, 'nope.key') }),
    /^latchkey: cannot read LATCHKEY_TLS_CERT/,
  );
});

test('the dev server listens on 127.0.0.1 unless LATCHKEY_HOST says otherwise', () => {
  assert.equal(loadConfig({}).host, '127.0.0.1', 'generated admin credentials: loopback only');
  assert.equal(loadConfig({ LATCHKEY_HOST: '0.0.0.0' }).host, '0.0.0.0');
  assert.equal(
    loadConfig({ LATCHKEY_ADMIN_CLIENT_ID: 'adminclient', LATCHKEY_ADMIN_CLIENT_SECRET: 's'.repeat(43) }).host,
    '0.0.0.0',
    'an operator who configured the admin client runs a deployment',
  );
});

test('another port without LATCHKEY_ISSUER is refused; a new LATCHKEY_ISSUER moves on', async () => {
  const firstPort = await freePort();
  const first = await runServer({ LATCHKEY_PORT: String(firstPort) });
  try {
    assert.match(String(first.started.url), /^http:\/\/127\.0\.0\.1:\d+$/, 'the dev server binds loopback');
  } finally {
    await first.stop();
  }
  const otherPort = await freePort();
  assertRefused(
    cli(['start'], { LATCHKEY_PORT: String(otherPort) }),
    new RegExp(
      `issuer is http://localhost:${firstPort}/, not http://localhost:${otherPort}/.*LATCHKEY_ISSUER=http://localhost:${firstPort}/`,
    ),
  );
  // Said the operator's way, the same port change is fine, and keeps the tenant.
  const kept = await runServer({ LATCHKEY_PORT: String(otherPort), LATCHKEY_ISSUER: `http://localhost:${firstPort}` });
  try {
    assert.equal(kept.started.issuer, `http://localhost:${firstPort}/`);
  } finally {
    await kept.stop();
  }
});

test('`/` is a small page for a browser and JSON for everyone else', async () => {
  const server = await startTestServer();
  try {
    const browser = await fetch(server.issuer, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    const body = await browser.text();
    assert.equal(browser.status, 200);
    assertStrictPage(browser, body);
    assert.ok(body.includes(`href="${server.issuer}.well-known/openid-configuration"`), body);
    assert.match(body, /Documentation/);

    const api = await fetch(server.issuer, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 200);
    assert.match(api.headers.get('content-type') ?? '', /^application\/json/);
    const json = (await api.json()) as Record<string, string>;
    assert.equal(json.issuer, server.issuer);
    const discovery = await fetch(json.openid_configuration!);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, server.issuer);
    const bare = await fetch(server.issuer);
    assert.match(bare.headers.get('content-type') ?? '', /^application\/json/, 'no Accept: JSON');
  } finally {
    await server.close();
  }
});
