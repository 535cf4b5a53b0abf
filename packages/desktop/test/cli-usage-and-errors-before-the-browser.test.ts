import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { createNativeApp } from '../../server/test/helpers/tenant.js';
import { CLI_BIN, runCli } from './helpers/cli-process.js';

let server: TestServer;
let clientId: string;
let dir: string;

before(async () => {
  server = await startTestServer();
  // No Device Code grant: the default for a native application.
  clientId = (await createNativeApp(server, ['http://127.0.0.1/callback'])).client_id;
  dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-usage-'));
});

after(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { LATCHKEY_CLI_ISSUER: server.issuer, LATCHKEY_CLI_CLIENT_ID: clientId, ...env }).exit;
const fileStore = (passphrase = 'a long enough passphrase') => ({
  LATCHKEY_CLI_STORE: 'file',
  LATCHKEY_CLI_STORE_PATH: join(dir, 'session.bin'),
  LATCHKEY_CLI_STORE_PASSPHRASE: passphrase,
});
/** What a user must never see from a CLI: a stack, a TypeError, npm's failure block. */
const noInternals = (stderr: string) => {
  assert.doesNotMatch(stderr, /TypeError|ERR_[A-Z_]+|^\s+at |npm error|Lifecycle script/m, stderr);
};

test('--help prints the usage and exits 0; an unknown flag prints what is wrong and the usage, exit 2', async () => {
  const help = await runCli(['--help'], {}).exit;
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: latchkey-cli <login\|whoami\|call-api\|logout>/);
  assert.equal(help.stderr, '');
  assert.match((await runCli(['-h'], {}).exit).stdout, /^Usage: latchkey-cli/);

  const unknown = await run(['login', '--bogus']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^Unknown option '--bogus'\.\n\nUsage: latchkey-cli/);
  noInternals(unknown.stderr);
  const missing = await run(['login', '--store']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--store <value>' argument missing/);
  noInternals(missing.stderr);
});

test('a short passphrase is a sentence, not a TypeError; so is a missing one', async () => {
  const short = await run(['whoami'], fileStore('short'));
  assert.equal(short.code, 2);
  assert.match(short.stderr, /LATCHKEY_CLI_STORE_PASSPHRASE is too short: use at least 8 characters/);
  noInternals(short.stderr);
  const none = await run(['whoami'], { LATCHKEY_CLI_STORE: 'file' });
  assert.match(none.stderr, /--store file needs a passphrase in LATCHKEY_CLI_STORE_PASSPHRASE/);
});

test('the command it tells users to run exists: `latchkey-cli`, the package bin, and errors exit non-zero cleanly', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../examples/cli/package.json', import.meta.url), 'utf8')) as {
    bin: Record<string, string>;
  };
  assert.equal(new URL(pkg.bin['latchkey-cli']!, new URL('../../../examples/cli/', import.meta.url)).pathname, CLI_BIN);
  const who = await run(['whoami'], fileStore());
  assert.equal(who.code, 1);
  assert.match(who.stdout, /^Not signed in\. Run: latchkey-cli login$/m);
  const offline = await runCli(['whoami'], { LATCHKEY_CLI_ISSUER: 'http://127.0.0.1:9/', LATCHKEY_CLI_CLIENT_ID: clientId, ...fileStore() })
    .exit;
  assert.equal(offline.code, 1, 'nothing stored: not signed in, without touching the network');
  const unreachable = await runCli(['login', '--no-browser'], {
    LATCHKEY_CLI_ISSUER: 'http://127.0.0.1:9/',
    LATCHKEY_CLI_CLIENT_ID: clientId,
    ...fileStore(),
  }).exit;
  assert.equal(unreachable.code, 1);
  assert.match(
    unreachable.stderr,
    /^Cannot use the issuer http:\/\/127\.0\.0\.1:9\/: .*\nCheck --issuer \/ --domain \(LATCHKEY_CLI_ISSUER/,
  );
  assert.doesNotMatch(unreachable.stdout, /Open this URL/);
  noInternals(unreachable.stderr);
});

test("no keychain (headless, no session bus): login fails before any URL is shown, naming the CLI's own --store file", async () => {
  const result = await run(['login', '--no-browser'], { LATCHKEY_CLI_STORE: 'keychain' });
  assert.equal(result.code, 1);
  assert.doesNotMatch(result.stdout, /Open this URL/, 'the browser is never sent anywhere');
  assert.match(
    result.stderr,
    /^The OS keychain cannot be used here: No Secret Service \(OS keychain\) is reachable: DBUS_SESSION_BUS_ADDRESS is not set\./,
  );
  assert.match(result.stderr, /set LATCHKEY_CLI_STORE_PASSPHRASE and run `latchkey-cli login --store file`/);
  assert.doesNotMatch(result.stderr, /encryptedFileStore/, 'not the SDK function: the CLI has a flag for it');
  noInternals(result.stderr);
  const device = await run(['login', '--device'], { LATCHKEY_CLI_STORE: 'secret-tool' });
  assert.doesNotMatch(device.stdout, /To sign in, visit/, 'no device code is requested either');
  assert.match(device.stderr, /--store file/);
});

test('login --device against an application without the device grant says which grant to enable', async () => {
  const result = await run(['login', '--device'], fileStore());
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^This application does not allow the device flow\.\nEnable the Device Code grant \(urn:ietf:params:oauth:grant-type:device_code\)/,
  );
  noInternals(result.stderr);
});

test("the CLI reads its own LATCHKEY_CLI_* variables, never the server's LATCHKEY_ISSUER", async () => {
  const result = await runCli(['whoami'], {
    LATCHKEY_ISSUER: server.issuer,
    CLIENT_ID: clientId,
    LATCHKEY_CLI_CLIENT_ID: clientId,
    ...fileStore(),
  }).exit;
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^Missing --issuer or --domain \(LATCHKEY_CLI_ISSUER \/ LATCHKEY_CLI_DOMAIN\)\./);
});
