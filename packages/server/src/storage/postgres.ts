import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { LocalChangeFeed } from './change-feed.js';
import { KyselyStorage } from './kysely/index.js';
import type { Database } from './schema.js';
import type { ChangeKind } from './types.js';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * Several server nodes may share one PostgreSQL database. Each write is announced with NOTIFY on a
 * channel per schema; every node LISTENs and drops what it cached. If the listening connection
 * drops, notifications may have been missed, so the node drops everything and reconnects.
 */
class PostgresChangeFeed extends LocalChangeFeed {
  private listener: pg.Client | undefined;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
    private readonly channel: string,
  ) {
    super();
  }

  override async publish(kind: ChangeKind, key: string): Promise<void> {
    this.emit(kind, key);
    await this.pool.query('select pg_notify($1, $2)', [this.channel, `${kind}\n${key}`]);
  }

  async start(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    client.on('notification', (msg) => {
      const [kind, key = ''] = (msg.payload ?? '').split('\n');
      this.emit((kind as ChangeKind) || '*', key);
    });
    const reconnect = () => {
      if (this.closed || this.listener !== client) return;
      this.listener = undefined;
      this.emit('*', '');
      setTimeout(() => void this.start().catch(reconnect), 1000).unref();
    };
    client.on('error', reconnect);
    client.on('end', reconnect);
    this.listener = client;
    await client.connect();
    await client.query(`LISTEN "${this.channel}"`);
  }

  async stop(): Promise<void> {
    this.closed = true;
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => {});
  }
}

export async function openPostgres(url: string): Promise<KyselyStorage> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid schema name in LATCHKEY_DATABASE_URL: ${schema}`);
  }
  const clientConfig: pg.ClientConfig = {
    connectionString: parsed.toString(),
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  if (schema) {
    const admin = new pg.Client({ connectionString: parsed.toString() });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({ ...clientConfig, max: 10 });
  const feed = new PostgresChangeFeed(pool, clientConfig, schema ? `latchkey_changes_${schema}` : 'latchkey_changes');
  await feed.start();
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  const storage = new KyselyStorage(db, 'postgres', feed, () => feed.stop(), rows[0]!.schema);
  storage.poolStatsReader = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
  return storage;
}
