/**
 * Anonymous-storage benchmark: what an anonymous `/authorize` makes latchkey store. Sends N
 * `/authorize` requests per kind (no cookies, no sign-in: what a script can send) and prints, per
 * kind, how many were kept as login transactions, the bytes of each stored row, the growth of the
 * table on disk (indexes and TOAST included) per request, and how long the rows are kept. Then a
 * flood from one address, to show how many pending transactions one address can hold.
 *
 * Usage: npm run bench:anonymous-storage [-- -- --sqlite-only | --postgres-only, --requests 500,
 * --flood 3000, --concurrency 8] (two `--`: the root script runs this one through a second `npm run`).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { positiveInteger, printTable, runBenchmark, serverDir } from './lib/harness.js';
import { createNativeApp, expectBuiltServer, type Latchkey, type StorageKind, startLatchkey, storageLabel } from './lib/latchkey.js';

const REGISTERED_CALLBACK = 'http://127.0.0.1/callback';
const REDIRECT_URI = 'http://127.0.0.1:8400/callback';

const { values: args } = parseArgs({
  options: {
    'sqlite-only': { type: 'boolean', default: false },
    'postgres-only': { type: 'boolean', default: false },
    requests: { type: 'string', default: '500' },
    flood: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '8' },
  },
});
if (args['sqlite-only'] && args['postgres-only']) throw new Error('--sqlite-only and --postgres-only exclude each other');
const storages: StorageKind[] = args['sqlite-only'] ? ['sqlite'] : args['postgres-only'] ? ['postgres'] : ['sqlite', 'postgres'];
const requestsPerKind = positiveInteger(args.requests, '--requests');
const floodRequests = positiveInteger(args.flood, '--flood');
const concurrency = positiveInteger(args.concurrency, '--concurrency');

/** Random text: PostgreSQL compresses long values, and a repeated letter would hide their size. */
const random = (length: number) => randomBytes(length).toString('base64url').slice(0, length);

/** What each kind of request adds to a native app's PKCE request. */
const KINDS: Array<{ label: string; params: () => Record<string, string> }> = [
  // What @auth0/auth0-spa-js and openid-client send: 43-character state and nonce.
  { label: 'typical (SDK-sized state, nonce)', params: () => ({ state: random(43), nonce: random(43) }) },
  // The outside review's request: every free-text parameter as long as the server took it.
  {
    label: 'oversized (screen_hint 4 KB, state 2 KB, nonce 2 KB, login_hint 4 KB)',
    params: () => ({ screen_hint: random(4096), state: random(2048), nonce: random(2048), login_hint: random(4096) }),
  },
  // The largest request latchkey accepts since the limits (state 1024, nonce 512, login_hint 254).
  {
    label: 'largest accepted (state 1 KB, nonce 512, login_hint 254, screen_hint=signup)',
    params: () => ({ screen_hint: 'signup', state: random(1024), nonce: random(512), login_hint: random(254) }),
  },
];

interface TableFigures {
  rows: number;
  /** Bytes of the stored values (id, data, expiry...), summed over the rows. */
  rowBytes: number;
  /** The table, its indexes (and TOAST) on disk. */
  diskBytes: number;
  /** Seconds until the last row expires. */
  keptSeconds: number;
}

interface Inspector {
  figures(): Promise<TableFigures>;
  close(): Promise<void>;
}

const requireFromServer = createRequire(join(serverDir, 'package.json'));

async function inspectorFor(latchkey: Latchkey): Promise<Inspector> {
  if (latchkey.storage === 'sqlite') {
    const Database = requireFromServer('better-sqlite3') as new (
      path: string,
      options: { readonly: boolean },
    ) => {
      prepare(sql: string): { get(): any; all(): any[] };
      close(): void;
    };
    const db = new Database(latchkey.databaseUrl.slice('sqlite:'.length), { readonly: true });
    return {
      async figures() {
        const stored = db
          .prepare(
            'select count(*) as n, ' +
              'coalesce(sum(length(cast(id as blob)) + length(cast(data as blob)) + length(expires_at)), 0) as bytes, ' +
              'max(expires_at) as last from login_transactions',
          )
          .get();
        const names = db
          .prepare(`select name from sqlite_master where tbl_name = 'login_transactions'`)
          .all()
          .map((r) => `'${r.name}'`);
        const disk = db.prepare(`select coalesce(sum(pgsize), 0) as bytes from dbstat where name in (${names.join(', ')})`).get();
        return { rows: stored.n, rowBytes: stored.bytes, diskBytes: disk.bytes, keptSeconds: keptFor(stored.last) };
      },
      async close() {
        db.close();
      },
    };
  }
  const pg = requireFromServer('pg') as { Client: new (config: { connectionString: string }) => any };
  const url = new URL(latchkey.databaseUrl);
  const schema = url.searchParams.get('schema')!;
  url.search = '';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return {
    async figures() {
      const table = `"${schema}".login_transactions`;
      const stored = (
        await client.query(
          `select count(*)::int as n, coalesce(sum(pg_column_size(t.*)), 0)::int as bytes, max(expires_at) as last from ${table} t`,
        )
      ).rows[0];
      const disk = (await client.query(`select pg_total_relation_size('${table}')::int as bytes`)).rows[0];
      return { rows: stored.n, rowBytes: stored.bytes, diskBytes: disk.bytes, keptSeconds: keptFor(stored.last) };
    },
    close: () => client.end(),
  };
}

const keptFor = (lastExpiry: string | null) => (lastExpiry ? Math.round((Date.parse(lastExpiry) - Date.now()) / 1000) : 0);

async function setUpClient(latchkey: Latchkey): Promise<string> {
  const { management } = await latchkey.managementApi();
  return createNativeApp(management, REGISTERED_CALLBACK);
}

/** Sends `count` anonymous /authorize requests, `concurrency` at a time; answers how many went on to a hosted page. */
async function sendAuthorizeRequests(
  issuer: string,
  clientId: string,
  count: number,
  params: () => Record<string, string>,
): Promise<number> {
  let next = 0;
  let toLoginPage = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const url = new URL(`${issuer}authorize`);
      const query = {
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid profile email',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        ...params(),
      };
      for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
      const response = await fetch(url, { redirect: 'manual' });
      await response.arrayBuffer();
      if (response.status === 302 && response.headers.get('location')?.startsWith('/u/')) toLoginPage += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return toLoginPage;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(2);

/** A fresh server with one native app, and a look into its database. */
async function freshServer(storage: StorageKind) {
  const latchkey = await startLatchkey(storage);
  const clientId = await setUpClient(latchkey);
  const inspector = await inspectorFor(latchkey);
  return {
    latchkey,
    clientId,
    inspector,
    async stop() {
      await inspector.close();
      await latchkey.server.stop();
    },
  };
}

async function measure(storage: StorageKind): Promise<void> {
  console.log(
    `\n${storageLabel(storage)}: ${requestsPerKind} anonymous /authorize requests per kind ` +
      `(each on a fresh server), ${concurrency} at a time`,
  );
  const rows: string[][] = [];
  for (const kind of KINDS) {
    const server = await freshServer(storage);
    try {
      const before = await server.inspector.figures();
      const accepted = await sendAuthorizeRequests(server.latchkey.issuer, server.clientId, requestsPerKind, kind.params);
      const after = await server.inspector.figures();
      const stored = after.rows - before.rows;
      rows.push([
        kind.label,
        `${accepted}/${requestsPerKind}`,
        String(stored),
        stored > 0 ? String(Math.round((after.rowBytes - before.rowBytes) / stored)) : '0',
        kb((after.diskBytes - before.diskBytes) / requestsPerKind),
        String(after.keptSeconds),
      ]);
    } finally {
      await server.stop();
    }
  }
  printTable(['request', 'to login page', 'rows added', 'bytes/row', 'disk KB/request', 'kept (s)'], rows, '  ');

  const server = await freshServer(storage);
  try {
    await sendAuthorizeRequests(server.latchkey.issuer, server.clientId, floodRequests, KINDS[0]!.params);
    const after = await server.inspector.figures();
    console.log(
      `  flood: ${floodRequests} typical requests from one address leave ${after.rows} pending transactions, ` +
        `table ${kb(after.diskBytes)} KB on disk`,
    );
  } finally {
    await server.stop();
  }
}

await runBenchmark(async () => {
  expectBuiltServer();
  for (const storage of storages) await measure(storage);
  return 0;
});
