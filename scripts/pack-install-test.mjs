#!/usr/bin/env node
// Pack-and-install test: what someone who installs latchkey from npm gets. Packs @latchkey/server
// and @latchkey/desktop, checks what the tarballs hold, installs each into its own empty directory
// with a plain `npm install` (no workspace, no repository around it, and neither package's
// dependencies there to cover for the other's), starts the server from its directory as the README
// says (`npx latchkey start`, SQLite under ./data), creates an app and users through the Management
// API, and signs users in with the installed SDK from the other (scripts/pack-install/sign-in.mjs).
// A broken `files`, `exports`, `bin` or a missing dependency fails it. Prints one PASS or FAIL line.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';

const repo = new URL('..', import.meta.url).pathname;
const here = new URL('./pack-install/', import.meta.url).pathname;
const started = Date.now();
const DEADLINE_MS = 10 * 60_000;
const PACKAGES = ['@latchkey/server', '@latchkey/desktop'];
const EMAIL = 'ada@example.com';
const PASSWORD = 'Pack-and-install-42';
const UPSTREAM_EMAIL = 'grace@example.com';

const work = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
/** Where the server is installed and run, as an operator would. */
const serverDir = join(work, 'server');
/** Where the SDK is installed and used, as an app developer would. */
const app = join(work, 'app');
const cleanUps = [];
let serverOutput = '';

const log = (line) => console.log(`pack-install-test: ${line}`);

/**
 * The environment of a user's shell: nothing from an npm script or from latchkey's own test settings.
 * npm_config_nodedir stays: it is the machine's choice of headers for native addons (.ci/run points it at Node 24's).
 */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|LATCHKEY_|INIT_CWD$|NODE_OPTIONS$)/i.test(key) || /^npm_config_nodedir$/i.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

function run(command, args, { cwd, env = cleanEnv(), timeoutMs = 120_000 } = {}) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${result.status}`;
    throw new Error(`${command} ${args.join(' ')} failed (${why}):\n${result.stdout}\n${result.stderr}`.trim());
  }
  return result.stdout;
}

/** As run(), without blocking this process: the stand-in upstream provider lives in it. */
function runAsync(command, args, { cwd, env = cleanEnv(), timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(
          new Error(
            (
              `${command} ${args.join(' ')} failed (${signal ? `killed after ${timeoutMs / 1000} s` : `exit ${code}`}):\n` +
              `${stdout}\n${stderr}`
            ).trim(),
          ),
        );
    });
  });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** The tarball holds built output and what it needs at run time: no tests, fixtures or sources. */
function checkContents(pack) {
  const files = pack.files.map((f) => f.path);
  const stray = files.filter(
    (f) =>
      !/^(dist\/.+|package\.json|README\.md|LICENSE)$/.test(f) ||
      /(^|\/)(test|tests|fixtures)\//.test(f) ||
      (/\.(ts|tsx|mts)$/.test(f) && !f.endsWith('.d.ts')),
  );
  check(stray.length === 0, `${pack.name}: the tarball holds files it should not: ${stray.join(', ')}`);
  check(files.includes('LICENSE'), `${pack.name}: the tarball has no LICENSE`);
  const manifest = JSON.parse(
    readFileSync(join(repo, pack.name === '@latchkey/server' ? 'packages/server' : 'packages/desktop', 'package.json'), 'utf8'),
  );
  check(manifest.license === 'Apache-2.0', `${pack.name}: license is ${manifest.license}`);
  const targets = [...Object.values(manifest.bin ?? {}), manifest.main, manifest.types];
  for (const entry of Object.values(manifest.exports ?? {})) {
    // latchkey-source points the repository's tests and examples at src/; it is not published.
    for (const [condition, target] of Object.entries(entry)) if (condition !== 'latchkey-source') targets.push(target);
  }
  for (const target of targets.filter(Boolean)) {
    check(files.includes(target.replace(/^\.\//, '')), `${pack.name}: ${target} (named in package.json) is not in the tarball`);
  }
  return files.length;
}

/**
 * better-sqlite3 downloads a prebuilt binary from GitHub when it installs, else compiles SQLite for
 * minutes. Where GitHub is out of reach (CI behind a registry mirror) the binary the workspace built
 * moments ago, for the same version and Node ABI, is put where that download would be cached, so
 * the install takes seconds either way. Nothing else about the install changes.
 */
function seedBetterSqlitePrebuild() {
  const pkgDir = join(repo, 'node_modules/better-sqlite3');
  const binary = join(pkgDir, 'build/Release/better_sqlite3.node');
  if (!existsSync(binary)) return;
  const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const url =
    'https://github.com/WiseLibs/better-sqlite3/releases/download/' +
    `v${version}/better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const cache = run('npm', ['config', 'get', 'cache']).trim();
  const digest = createHash('sha512').update(url).digest('hex').slice(0, 6);
  const cached = join(cache, '_prebuilds', `${digest}-${basename(url).replace(/[^a-zA-Z0-9.]+/g, '-')}`);
  if (existsSync(cached)) return;
  mkdirSync(join(cache, '_prebuilds'), { recursive: true });
  run('tar', ['-czf', cached, '-C', pkgDir, 'build/Release/better_sqlite3.node']);
  log(`better-sqlite3 ${version}: cached the workspace's build as its prebuilt binary`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** `npx latchkey start` in the installed project, with the defaults of the quick start (./data). */
async function startServer(port) {
  const child = spawn('npx', ['--no', 'latchkey', 'start'], {
    cwd: serverDir,
    env: cleanEnv({ LATCHKEY_PORT: String(port), LATCHKEY_HOST: '127.0.0.1', LATCHKEY_ISSUER: `http://127.0.0.1:${port}` }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // Should this script die first, the server must not outlive it.
  process.on('exit', () => child.exitCode === null && child.signalCode === null && process.kill(-child.pid, 'SIGKILL'));
  cleanUps.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  child.stderr.on('data', (chunk) => (serverOutput += chunk));
  const credentials = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not log "latchkey started" within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before starting`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      serverOutput += `${line}\n`;
      const printed = /^\s*(LATCHKEY_ADMIN_CLIENT_(?:ID|SECRET))=(\S+)$/.exec(line);
      if (printed) credentials[printed[1]] = printed[2];
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line);
      if (entry.msg !== 'latchkey started') return;
      clearTimeout(timer);
      resolve({
        startedLine: entry,
        clientId: credentials.LATCHKEY_ADMIN_CLIENT_ID,
        clientSecret: credentials.LATCHKEY_ADMIN_CLIENT_SECRET,
      });
    });
  });
}

/** A stand-in upstream OAuth 2.0 provider: approves at once, answers the token request. */
async function startUpstream() {
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    if (url.pathname === '/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri'));
      back.searchParams.set('code', 'upstream-code');
      back.searchParams.set('state', url.searchParams.get('state'));
      response.writeHead(302, { location: back.href }).end();
    } else if (url.pathname === '/token' && request.method === 'POST') {
      request.resume().on('end', () => {
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: 'upstream-token', token_type: 'Bearer', expires_in: 300 }));
      });
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanUps.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

async function management(issuer, token, method, path, body) {
  const response = await fetch(`${issuer}api/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const answer = await response.json();
  check(response.ok, `${method} /api/v2${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

async function main() {
  // 1. Build and pack both packages, and look inside.
  run('npm', ['run', 'build', ...PACKAGES.flatMap((p) => ['-w', p])], { cwd: repo, env: process.env, timeoutMs: 300_000 });
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const packs = JSON.parse(
    run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...PACKAGES.flatMap((p) => ['-w', p])], {
      cwd: repo,
      env: process.env,
    }),
  );
  for (const pack of packs) log(`${pack.filename}: ${checkContents(pack)} files, ${(pack.size / 1024).toFixed(0)} kB`);
  const version = packs.find((p) => p.name === '@latchkey/server').version;

  // 2. A plain `npm install` of each tarball in an empty directory outside the repository.
  seedBetterSqlitePrebuild();
  const tarball = (name) => join(tarballs, packs.find((p) => p.name === name).filename);
  for (const [dir, name] of [
    [serverDir, '@latchkey/server'],
    [app, '@latchkey/desktop'],
  ]) {
    mkdirSync(dir);
    // As the README says for projects: better-sqlite3's install script may run (npm 12 asks).
    const manifest = {
      name: `latchkey-pack-check-${basename(dir)}`,
      private: true,
      type: 'module',
      allowScripts: { 'better-sqlite3': true },
    };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const installStarted = Date.now();
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball(name)], { cwd: dir, timeoutMs: 6 * 60_000 });
    log(`npm install ${basename(tarball(name))}: ${((Date.now() - installStarted) / 1000).toFixed(0)} s`);
  }

  // 3. The installed CLI and the server's main module.
  const printed = run('npx', ['--no', '--', 'latchkey', '--version'], { cwd: serverDir }).trim();
  check(printed === version, `npx latchkey --version printed ${JSON.stringify(printed)}, not ${version}`);
  const main = run(
    'node',
    ['--input-type=module', '-e', "const m = await import('@latchkey/server'); console.log(typeof m.startServer);"],
    { cwd: serverDir },
  );
  check(main.trim() === 'function', "import('@latchkey/server') does not export startServer");

  // 4. The server from the installed package, on SQLite under ./data.
  const port = await freePort();
  const { startedLine, clientId, clientSecret } = await startServer(port);
  check(startedLine.version === version, `the "latchkey started" line says version ${startedLine.version}, not ${version}`);
  check(clientId && clientSecret, 'the first start did not print the admin credentials');
  check(
    existsSync(join(serverDir, 'data/latchkey.db')) && existsSync(join(serverDir, 'data/master.key')),
    'the first start did not create ./data/latchkey.db and ./data/master.key',
  );
  const issuer = `http://127.0.0.1:${port}/`;
  log(`latchkey ${version} started from the installed package on ${issuer}`);

  // 5. An app, an API and a user through the Management API; an upstream provider with a profile script.
  const tokenResponse = await fetch(`${issuer}oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      audience: `${issuer}api/v2/`,
    }),
  });
  check(tokenResponse.ok, `the admin client_credentials grant answered ${tokenResponse.status}`);
  const token = (await tokenResponse.json()).access_token;
  const audience = 'https://api.example.test/';
  await management(issuer, token, 'POST', '/resource-servers', {
    name: 'Example API',
    identifier: audience,
    allow_offline_access: true,
    skip_consent_for_verifiable_first_party_clients: true,
  });
  const client = await management(issuer, token, 'POST', '/clients', {
    name: 'CLI',
    app_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    callbacks: ['http://127.0.0.1/callback'],
  });
  const [database] = await management(issuer, token, 'GET', '/connections?name=Username-Password-Authentication');
  await management(issuer, token, 'PATCH', `/connections/${database.id}`, {
    enabled_clients: [...database.enabled_clients, client.client_id],
  });
  await management(issuer, token, 'POST', '/users', { connection: database.name, email: EMAIL, password: PASSWORD, name: 'Ada Lovelace' });
  const upstream = await startUpstream();
  await management(issuer, token, 'POST', '/connections', {
    name: 'pack-upstream',
    strategy: 'oauth2',
    enabled_clients: [client.client_id],
    options: {
      authorizationURL: `${upstream}/authorize`,
      tokenURL: `${upstream}/token`,
      client_id: 'latchkey',
      client_secret: 'upstream-secret',
      scope: 'profile',
      scripts: {
        fetchUserProfile:
          `function fetchUserProfile(accessToken, context, callback) { ` +
          `callback(null, { user_id: 'grace', email: '${UPSTREAM_EMAIL}', name: 'Grace Hopper' }); }`,
      },
    },
  });

  // 6. The installed SDK: types, then the CLI example's sign-in, restore, logout, and an upstream sign-in.
  copyFileSync(join(here, 'types.ts'), join(app, 'types.ts'));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        skipLibCheck: false,
        typeRoots: [join(repo, 'node_modules/@types')],
        types: ['node'],
      },
      files: ['types.ts'],
    }),
  );
  run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app });
  copyFileSync(join(here, 'sign-in.mjs'), join(app, 'sign-in.mjs'));
  const signedIn = await runAsync(process.execPath, ['sign-in.mjs'], {
    cwd: app,
    timeoutMs: 120_000,
    env: cleanEnv({
      ISSUER: issuer,
      CLIENT_ID: client.client_id,
      AUDIENCE: audience,
      EMAIL,
      PASSWORD,
      UPSTREAM_CONNECTION: 'pack-upstream',
      UPSTREAM_EMAIL,
      STORE_PATH: join(work, 'session.bin'),
    }),
  });
  log(signedIn.trim());
}

const deadline = setTimeout(() => {
  console.error(`pack-install-test: FAIL: not done within ${DEADLINE_MS / 60_000} min`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

let failure;
try {
  await main();
} catch (err) {
  failure = err;
}
for (const cleanUp of cleanUps.reverse()) await cleanUp().catch(() => {});
if (process.env.LATCHKEY_PACK_KEEP) log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(0);
if (failure) {
  if (serverOutput) console.error(`--- server output ---\n${serverOutput.slice(-4000)}`);
  console.error(`pack-install-test: FAIL (${seconds} s): ${failure.stack ?? failure}`);
  process.exit(1);
}
console.log(
  `pack-install-test: PASS (${seconds} s): both tarballs install outside the repository, ` +
    `the server starts from one, the SDK from the other signs users in`,
);
