import { type Kysely, sql, type Transaction } from 'kysely';
import type { Page, PageRequest } from '../../domain/types.js';
import type { Database } from '../schema.js';

/** SQLite and PostgreSQL both report unique violations, each in its own words. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Runs `insert` and answers false on a unique violation. Inside a transaction, PostgreSQL aborts the
 * whole transaction on any error, so the statement runs under a savepoint that the violation rolls back.
 */
export async function insertUnlessTaken(db: Kysely<Database>, insert: () => Promise<unknown>): Promise<boolean> {
  const savepoint = db.isTransaction;
  if (savepoint) await sql`savepoint unless_taken`.execute(db);
  try {
    await insert();
    if (savepoint) await sql`release savepoint unless_taken`.execute(db);
    return true;
  } catch (err) {
    if (savepoint) await sql`rollback to savepoint unless_taken`.execute(db);
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/**
 * Runs `fn` in a transaction of its own, or in the caller's when the handle already is one (Kysely
 * does not nest transactions): either way its statements commit or roll back together.
 */
export function atomically<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute((trx: Transaction<Database>) => fn(trx));
}

export function encodeCheckpoint(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/** Resolves undefined for a checkpoint this server did not hand out, which callers treat as a 400. */
export function decodeCheckpoint(from: string): [string, string] | undefined {
  try {
    const value = JSON.parse(Buffer.from(from, 'base64url').toString('utf8')) as unknown;
    // No NUL: PostgreSQL refuses it in a text comparison, so a crafted checkpoint would be a 500.
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string' && !v.includes('\u0000'))) {
      return value as [string, string];
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Every list is ordered by (created_at, id): creation order, stable across pages, and the same in
 * both databases. `where` narrows the rows; the table's `data` column holds the document.
 */
export async function listPage<T>(
  db: Kysely<Database>,
  table: 'clients' | 'resource_servers' | 'client_grants' | 'connections' | 'users',
  idColumn: 'client_id' | 'id' | 'user_id',
  where: Record<string, string | number | string[] | undefined>,
  page: PageRequest,
): Promise<Page<T>> {
  // Kysely cannot type a query over a table chosen at run time; the shape is fixed by the callers.
  const anyDb = db as unknown as Kysely<Record<string, Record<string, string>>>;
  let query = anyDb.selectFrom(table).select(['data', 'created_at', idColumn]);
  let count = anyDb.selectFrom(table).select(sql<string | number>`count(*)`.as('n'));
  for (const [column, value] of Object.entries(where)) {
    if (value === undefined) continue;
    // An empty list matches nothing (`in ()` is not SQL).
    const list = Array.isArray(value) ? value : [value];
    const condition = list.length > 0 ? sql<boolean>`${sql.ref(column)} in (${sql.join(list)})` : sql<boolean>`1 = 0`;
    query = query.where(condition);
    count = count.where(condition);
  }
  const parse = (rows: Array<Record<string, string>>) => rows.map((r) => JSON.parse(r.data!) as T);

  if (page.kind === 'checkpoint') {
    if (page.from !== undefined) {
      const [createdAt, id] = decodeCheckpoint(page.from) ?? ['', ''];
      query = query.where((eb) =>
        eb.or([eb('created_at', '>', createdAt), eb.and([eb('created_at', '=', createdAt), eb(idColumn, '>', id)])]),
      );
    }
    const rows = await query
      .orderBy('created_at')
      .orderBy(idColumn)
      .limit(page.take + 1)
      .execute();
    const more = rows.length > page.take;
    const kept = rows.slice(0, page.take);
    const last = kept[kept.length - 1];
    return {
      items: parse(kept),
      ...(more && last ? { next: encodeCheckpoint(last.created_at!, last[idColumn]!) } : {}),
    };
  }

  const rows = await query.orderBy('created_at').orderBy(idColumn).limit(page.limit).offset(page.offset).execute();
  if (!page.includeTotal) return { items: parse(rows) };
  const total = await count.executeTakeFirstOrThrow();
  return { items: parse(rows), total: Number(total.n) };
}

export const now = () => new Date().toISOString();
