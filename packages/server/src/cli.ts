#!/usr/bin/env node
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './app.js';
import { openContext } from './context.js';
import { maxTokenLifetimeSeconds } from './model/bootstrap.js';
import { packageVersion } from './version.js';

const USAGE = `Usage: latchkey <command>

Commands:
  start          Start the server (runs migrations, creates the tenant on first start)
  migrate        Apply database migrations and exit
  keys rotate    Make a new signing key current; earlier keys stay published until their tokens expire
  --version, -v  Print the version

Configuration comes from LATCHKEY_* environment variables (see README).`;

async function start(): Promise<void> {
  const config = loadConfig();
  const startedAt = performance.now();
  const server = await startServer(config);
  const log = server.app.log;
  if (server.masterKeyCreatedAt) {
    log.warn({ path: server.masterKeyCreatedAt }, 'generated a master key; keep it safe, and set LATCHKEY_MASTER_KEY when running several nodes');
  }
  if (server.bootstrap.generatedAdmin) {
    const { clientId, clientSecret } = server.bootstrap.generatedAdmin;
    // Printed once, on the console rather than the structured log, so it is not shipped to a log store.
    process.stdout.write(
      [
        '',
        '  latchkey: a new tenant was created. Admin (Management API) credentials, shown only this once:',
        `    LATCHKEY_ADMIN_CLIENT_ID=${clientId}`,
        `    LATCHKEY_ADMIN_CLIENT_SECRET=${clientSecret}`,
        `  Get a token:  curl -s ${config.issuer}oauth/token -d grant_type=client_credentials \\`,
        `                  -d client_id=${clientId} -d client_secret=... -d audience=${config.issuer}api/v2/`,
        '',
      ].join('\n') + '\n',
    );
  }
  log.info({ version: packageVersion(), url: server.url, issuer: config.issuer, startupMs: Math.round(performance.now() - startedAt) }, 'latchkey started');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function migrate(): Promise<void> {
  const { ctx } = await openContext(loadConfig());
  await ctx.storage.close();
  console.log('latchkey: database is up to date');
}

async function rotateKeys(): Promise<void> {
  const { ctx } = await openContext(loadConfig());
  try {
    // A key sealed with another master key would become current yet no server could decrypt it, so
    // every token request would fail: prove this master key opens the current key first.
    if ((await ctx.storage.listSigningKeys()).some((k) => k.retiredAt === null)) await ctx.keys.current();
    const lifetime = await maxTokenLifetimeSeconds(ctx.storage);
    const key = await ctx.keys.rotate(lifetime);
    console.log(`latchkey: new signing key ${key.kid} is current; earlier keys stay published for ${lifetime} s`);
  } finally {
    await ctx.storage.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, sub] = argv;
  if (command === 'start') return start();
  if (command === 'migrate') return migrate();
  if (command === 'keys' && sub === 'rotate') return rotateKeys();
  if (command === '--version' || command === '-v') {
    console.log(packageVersion());
    return;
  }
  console.error(USAGE);
  process.exitCode = command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `latchkey: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
