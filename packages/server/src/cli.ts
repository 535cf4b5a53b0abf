#!/usr/bin/env node
import { once } from 'node:events';
import { createWriteStream, existsSync, fchmodSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { startServer } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { openContext } from './context.js';
import { AdminRecoveryError, maxTokenLifetimeSeconds, rotateAdminSecret } from './domain/bootstrap.js';
import { DomainError } from './domain/errors.js';
import { exportUsers } from './domain/user-export.js';
import { errorText, StartupError } from './startup-checks.js';
import { packageVersion } from './version.js';

const USAGE = `Usage: latchkey <command>

Commands:
  start          Start the server (runs migrations, creates the tenant on first start)
  migrate        Apply database migrations and exit
  keys rotate    Make a new signing key current; earlier keys stay published until their tokens expire
  admin rotate-secret [CLIENT_ID]
                 Give the admin (Management API) client a new secret and print it once; the way
                 back in when the first start's credentials are lost
  users export [--with-password-hashes] [--connection NAME] [--out FILE]
                 Write the database connections' users as Auth0's bulk user import file (a JSON array),
                 with their password hashes only when asked; import takes one connection at a time
  backup FILE    Write a consistent copy of the SQLite database to FILE while the server runs
                 (PostgreSQL: use pg_dump)
  --version, -v  Print the version
  --help, -h     Print this help (also after a command: latchkey start --help)

Configuration comes from LATCHKEY_* environment variables (see README); an unknown LATCHKEY_*
variable stops the start, naming the closest known one.`;

/** Printed on the console rather than the structured log, so the secret is not shipped to a log store. */
function printAdminCredentials(admin: { clientId: string; clientSecret: string }, issuer: string, heading: string): void {
  process.stdout.write(
    `${[
      '',
      `  latchkey: ${heading}`,
      `    LATCHKEY_ADMIN_CLIENT_ID=${admin.clientId}`,
      `    LATCHKEY_ADMIN_CLIENT_SECRET=${admin.clientSecret}`,
      `  Get a token:  curl -s ${issuer}oauth/token -d grant_type=client_credentials \\`,
      `                  -d client_id=${admin.clientId} -d client_secret=... -d audience=${issuer}api/v2/`,
      '',
    ].join('\n')}\n`,
  );
}

async function start(): Promise<void> {
  const config = loadConfig();
  const startedAt = performance.now();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config);
  } catch (err) {
    // The tenant was created but the start failed after all: these credentials exist nowhere else.
    if (err instanceof StartupError && err.generatedAdmin) {
      printAdminCredentials(
        err.generatedAdmin,
        config.issuer,
        'a new tenant was created, but the server could not start. Admin (Management API) credentials, shown only this once:',
      );
    }
    throw err;
  }
  const log = server.app.log;
  if (server.masterKeyCreatedAt) {
    log.warn(
      { path: server.masterKeyCreatedAt },
      'generated a master key; keep it safe, and set LATCHKEY_MASTER_KEY when running several nodes',
    );
  }
  if (server.bootstrap.generatedAdmin) {
    printAdminCredentials(
      server.bootstrap.generatedAdmin,
      config.issuer,
      'a new tenant was created. Admin (Management API) credentials, shown only this once:',
    );
  }
  log.info(
    { version: packageVersion(), url: server.url, issuer: config.issuer, startupMs: Math.round(performance.now() - startedAt) },
    'latchkey started',
  );

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
    if ((await ctx.storage.signingKeys.list()).some((k) => k.retiredAt === null)) await ctx.keys.current();
    const lifetime = await maxTokenLifetimeSeconds(ctx.storage);
    const key = await ctx.keys.rotate(lifetime);
    console.log(`latchkey: new signing key ${key.kid} is current; earlier keys stay published for ${lifetime} s`);
  } finally {
    await ctx.storage.close();
  }
}

async function rotateAdmin(clientId: string | undefined): Promise<void> {
  const config = loadConfig();
  const { ctx } = await openContext(config);
  try {
    const admin = await rotateAdminSecret(ctx.storage, ctx.digester, {
      ...(clientId ? { clientId } : {}),
      ...(config.adminClientId ? { configuredAdminId: config.adminClientId } : {}),
    });
    printAdminCredentials(admin, config.issuer, 'new admin secret, shown only this once (the old one no longer works):');
  } finally {
    await ctx.storage.close();
  }
}

/**
 * An online backup of the SQLite database (SQLite's backup API, page by page, while the server keeps
 * serving): the copy is consistent, unlike `cp` of a database in WAL mode. PostgreSQL has pg_dump.
 */
async function backup(file: string | undefined): Promise<void> {
  if (!file) throw new StartupError(`latchkey: backup needs a FILE to write\n\n${USAGE}`);
  const config = loadConfig();
  if (!config.databaseUrl.startsWith('sqlite:')) {
    throw new StartupError('latchkey: backup copies SQLite databases; for PostgreSQL (LATCHKEY_DATABASE_URL) use pg_dump');
  }
  const source = resolve(config.databaseUrl.slice('sqlite:'.length));
  if (!existsSync(source)) throw new StartupError(`latchkey: no database at ${source} (LATCHKEY_DATABASE_URL)`);
  const target = resolve(file);
  try {
    // The copy holds what the database does (password hashes, sealed keys): owner only, as the database.
    // Created empty first (SQLite takes an empty file as an empty database), never over an existing file.
    writeFileSync(target, '', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new StartupError(`latchkey: cannot create ${target}: ${errorText(err)}`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(source, { fileMustExist: true });
    const { totalPages } = await db.backup(target);
    console.error(`latchkey: backed up ${source} to ${target} (${totalPages} pages)`);
  } catch (err) {
    rmSync(target, { force: true });
    throw new StartupError(`latchkey: backup to ${target} failed: ${errorText(err)}`, { cause: err });
  } finally {
    db?.close();
  }
}

async function exportUsersCommand(args: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseExportArgs>;
  try {
    parsed = parseExportArgs(args);
  } catch (err) {
    throw new StartupError(`latchkey: ${errorText(err)}\n\n${USAGE}`);
  }
  const { values } = parsed;
  const { ctx } = await openContext(loadConfig());
  // The file holds secret-equivalents (password hashes) when asked for: readable by its owner only.
  const out = values.out ? createWriteStream(values.out, { mode: 0o600 }) : process.stdout;
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    if (values.out) {
      const [fd] = (await once(out, 'open')) as [number];
      // The mode above only applies to a file created now: one already there (a previous export) keeps
      // its mode unless narrowed before anything is written.
      fchmodSync(fd, 0o600);
    }
    const summary = await exportUsers(
      ctx.storage,
      { ...(values.connection ? { connection: values.connection } : {}), withPasswordHashes: values['with-password-hashes'] === true },
      write,
    );
    if (values.out) {
      out.end();
      await once(out, 'close');
    }
    const { argon2, bcrypt, custom, unexportable } = summary.hashes;
    const hashes = values['with-password-hashes'] ? ` (password hashes: ${argon2} argon2, ${bcrypt} bcrypt, ${custom} imported)` : '';
    console.error(`latchkey: exported ${summary.users} users${hashes}${values.out ? ` to ${values.out}` : ''}`);
    if (unexportable > 0) {
      console.error(`latchkey: ${unexportable} users have a hash in no format the import accepts; they left without it`);
    }
  } catch (err) {
    // No half-written file that looks like an export.
    if (values.out) {
      out.destroy();
      rmSync(values.out, { force: true });
    }
    if (err instanceof DomainError) throw new StartupError(`latchkey: ${err.message}`);
    throw err;
  } finally {
    await ctx.storage.close();
  }
}

function parseExportArgs(args: string[]) {
  return parseArgs({
    args,
    options: { 'with-password-hashes': { type: 'boolean' }, connection: { type: 'string' }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, sub, arg] = argv;
  // `latchkey start --help` must explain, not start a server (and create a tenant) as a side effect.
  if (argv.some((a) => a === '--help' || a === '-h')) {
    console.log(USAGE);
    return;
  }
  if (command === 'start' || command === 'migrate') {
    const extra = argv.slice(1);
    if (extra.length > 0) throw new StartupError(`latchkey: ${command} takes no arguments (got ${extra.join(' ')})\n\n${USAGE}`);
  }
  if (command === 'start') return start();
  if (command === 'migrate') return migrate();
  if (command === 'keys' && sub === 'rotate') return rotateKeys();
  if (command === '--version' || command === '-v') {
    console.log(packageVersion());
    return;
  }
  if (command === 'admin' && sub === 'rotate-secret') return rotateAdmin(arg);
  if (command === 'backup') return backup(sub);
  if (command === 'users' && sub === 'export') return exportUsersCommand(argv.slice(2));
  console.error(USAGE);
  process.exitCode = command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

const verbose = ['debug', 'trace'].includes(process.env.LATCHKEY_LOG_LEVEL ?? '');

main(process.argv.slice(2)).catch((err: unknown) => {
  // What the operator must fix, in one line; the stack only when asked for (LATCHKEY_LOG_LEVEL=debug).
  if (err instanceof ConfigError || err instanceof StartupError || err instanceof AdminRecoveryError) {
    console.error(err.message);
  } else console.error(`latchkey: ${errorText(err)}`);
  if (verbose && err instanceof Error) console.error(err.stack);
  process.exit(1);
});
