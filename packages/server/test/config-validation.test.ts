import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

test('defaults: port 3000, embedded SQLite under ./data, issuer with a trailing slash', () => {
  const config = loadConfig({});
  assert.equal(config.port, 3000);
  assert.equal(config.databaseUrl, 'sqlite:./data/latchkey.db');
  assert.equal(config.issuer, 'http://localhost:3000/');
});

test('the issuer always ends in exactly one slash', () => {
  assert.equal(loadConfig({ LATCHKEY_ISSUER: 'https://id.example.com' }).issuer, 'https://id.example.com/');
  assert.equal(loadConfig({ LATCHKEY_ISSUER: 'https://id.example.com/' }).issuer, 'https://id.example.com/');
  assert.equal(loadConfig({ LATCHKEY_PORT: '8443', LATCHKEY_TLS_CERT: 'c', LATCHKEY_TLS_KEY: 'k' }).issuer, 'https://localhost:8443/');
});

test('LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS takes true or false; unset leaves the tenant flag alone', () => {
  assert.equal(loadConfig({ LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS: 'true' }).auth0CompatibleDefaults, true);
  assert.equal(loadConfig({ LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS: 'false' }).auth0CompatibleDefaults, false);
  assert.equal(loadConfig({}).auth0CompatibleDefaults, undefined);
});

test('bad settings fail at start with the variable named', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ LATCHKEY_PORT: 'eighty' }, /LATCHKEY_PORT/],
    [{ LATCHKEY_PORT: '70000' }, /LATCHKEY_PORT/],
    [{ LATCHKEY_DATABASE_URL: 'mysql://x' }, /LATCHKEY_DATABASE_URL/],
    [{ LATCHKEY_ISSUER: 'ftp://x' }, /LATCHKEY_ISSUER/],
    [{ LATCHKEY_ISSUER: 'https://x/?a=b' }, /LATCHKEY_ISSUER/],
    [{ LATCHKEY_TLS_CERT: 'cert.pem' }, /LATCHKEY_TLS_KEY must be set together/],
    [{ LATCHKEY_ADMIN_CLIENT_ID: 'adminclient' }, /must be set together/],
    [{ LATCHKEY_ADMIN_CLIENT_ID: 'adminclient', LATCHKEY_ADMIN_CLIENT_SECRET: 'short' }, /LATCHKEY_ADMIN_CLIENT_SECRET/],
    [{ LATCHKEY_LOG_LEVEL: 'loud' }, /LATCHKEY_LOG_LEVEL/],
    [{ LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS: 'yes' }, /LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS/],
    [{ LATCHKEY_LOGIN_TRANSACTIONS_PER_IP: '0' }, /LATCHKEY_LOGIN_TRANSACTIONS_PER_IP/],
    [{ LATCHKEY_SIGNUP_LIMIT_PER_IP: 'lots' }, /LATCHKEY_SIGNUP_LIMIT_PER_IP/],
    [{ LATCHKEY_SIGNUP_LIMIT_PER_TENANT: '-1' }, /LATCHKEY_SIGNUP_LIMIT_PER_TENANT/],
    [{ LATCHKEY_DEFAULT_PICTURE: 'robohash' }, /LATCHKEY_DEFAULT_PICTURE/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
      JSON.stringify(env),
    );
  }
});

test('the CLI refuses a bad configuration with a clear message and a non-zero exit', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...process.env, LATCHKEY_PORT: 'nope' },
    encoding: 'utf8',
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /Invalid configuration:\n {2}LATCHKEY_PORT/);
});

test('`latchkey migrate` creates the schema and a master key file readable only by its owner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  try {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate'], {
      env: { ...process.env, LATCHKEY_DATA_DIR: dir, LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_MASTER_KEY: '' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /database is up to date/);
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
    assert.ok(statSync(join(dir, 'db.sqlite')).size > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
