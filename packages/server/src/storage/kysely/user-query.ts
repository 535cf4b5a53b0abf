import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Page, PageRequest, User } from '../../domain/types.js';
import { FOLDED_FIELDS, SEARCH_RESULT_LIMIT, type UserSearch, type UserSearchTerm, type UserSort } from '../../domain/user-search.js';
import type { Database } from '../schema.js';
import { TERM_VALUE_LENGTH, termValue } from './user-columns.js';

type Dialect = 'sqlite' | 'postgres';
type Condition = RawBuilder<unknown>;

/** Searched fields held in a column of `users`; the others (identities.*, *_metadata.*) are rows of user_search_terms. */
const TEXT_COLUMNS: Record<string, string> = {
  user_id: 'user_id',
  email: 'email_lc',
  username: 'username_lc',
  name: 'name',
  nickname: 'nickname',
  given_name: 'given_name',
  family_name: 'family_name',
  phone_number: 'phone_number',
};
const BOOLEAN_COLUMNS: Record<string, string> = { email_verified: 'email_verified', blocked: 'blocked' };

/** Sort columns; the nullable ones put users without the field last in both directions. */
const SORT_COLUMNS: Record<UserSort['field'], { column: string; nullable: boolean }> = {
  user_id: { column: 'user_id', nullable: false },
  email: { column: 'email_lc', nullable: true },
  name: { column: 'name', nullable: true },
  nickname: { column: 'nickname', nullable: true },
  username: { column: 'username_lc', nullable: true },
  created_at: { column: 'created_at', nullable: false },
  updated_at: { column: 'updated_at', nullable: false },
  last_login: { column: 'last_login', nullable: true },
  logins_count: { column: 'logins_count', nullable: false },
};

/**
 * The least string greater than every string that starts with `prefix`, in code-point order (which
 * is UTF-8 byte order: SQLite's BINARY and PostgreSQL's "C"), or undefined when there is none.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const chars = [...prefix];
  while (chars.length > 0) {
    const last = chars.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return chars.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** `column` starts with `prefix`, as a range an index answers. */
function startsWith(column: RawBuilder<unknown>, prefix: string): Condition {
  const upper = prefixUpperBound(prefix);
  return upper === undefined ? sql`${column} >= ${prefix}` : sql`(${column} >= ${prefix} and ${column} < ${upper})`;
}

const FALSE = sql`1 = 0`;

function columnCondition(dialect: Dialect, term: UserSearchTerm, walk = false): Condition | undefined {
  const bool = BOOLEAN_COLUMNS[term.field];
  if (bool) {
    // Stored 0/1; the text is compared with String(true) / String(false), as the JavaScript reading does.
    const wanted = [1, 0].filter((v) => (term.prefix ? String(v === 1).startsWith(term.text) : String(v === 1) === term.text));
    return wanted.length === 0 ? FALSE : sql`${sql.ref(`u.${bool}`)} in (${sql.join(wanted)})`;
  }
  const name = TEXT_COLUMNS[term.field];
  if (!name) return undefined;
  const text = FOLDED_FIELDS.has(term.field) ? term.text.toLowerCase() : term.text;
  // user_id keeps the database's collation (it is the primary key); ranges on it compare in "C".
  const ref = name === 'user_id' && dialect === 'postgres' ? sql`u.user_id collate "C"` : sql.ref(`u.${name}`);
  // SQLite's unary plus keeps the value and makes the term unusable by an index (see walkOrder).
  const column = walk ? sql`+${ref}` : ref;
  return term.prefix ? startsWith(column, text) : sql`${column} = ${text}`;
}

/** The condition on a user_search_terms row (alias `alias`) for this term's text. */
function termRowCondition(alias: string, term: UserSearchTerm): Condition {
  const value = sql.ref(`${alias}.value`);
  const full = sql.ref(`${alias}.full_value`);
  const field = sql`${sql.ref(`${alias}.field`)} = ${term.field}`;
  const cut = termValue(term.text);
  if (!term.prefix) {
    return cut.full_value === null
      ? sql`${field} and ${value} = ${cut.value} and ${full} is null`
      : sql`${field} and ${value} = ${cut.value} and ${full} = ${cut.full_value}`;
  }
  if ([...term.text].length <= TERM_VALUE_LENGTH) return sql`${field} and ${startsWith(value, term.text)}`;
  return sql`${field} and ${value} = ${cut.value} and substr(${full}, 1, ${[...term.text].length}) = ${term.text}`;
}

function termCondition(dialect: Dialect, term: UserSearchTerm, walk = false): Condition {
  const column = columnCondition(dialect, term, walk);
  // NOT matches users without the field too: the positive condition is made never-null first.
  if (column) return term.negated ? sql`not coalesce(${column}, ${FALSE})` : column;
  const exists = sql`exists (select 1 from user_search_terms t where t.user_id = u.user_id and ${termRowCondition('t', term)})`;
  return term.negated ? sql`not ${exists}` : exists;
}

/**
 * A term that can drive the query: a positive exact term on user_search_terms, when the query is a
 * conjunction and the order is creation order. Its index (field, value, created_at, user_id) then
 * yields the matches already sorted, and the page is its first rows.
 */
function drivingTerm(search: UserSearch): UserSearchTerm | undefined {
  if (search.sort && search.sort.field !== 'created_at') return undefined;
  if (search.connection !== undefined) return { field: 'identities.connection', text: search.connection, prefix: false, negated: false };
  if (!search.query || (search.query.any && search.query.terms.length > 1)) return undefined;
  return search.query.terms.find((t) => !t.negated && !t.prefix && !TEXT_COLUMNS[t.field] && !BOOLEAN_COLUMNS[t.field]);
}

/**
 * The one prefix term of a search SQLite may answer in two ways, when it is the whole query and
 * the order is creation order: `q=email:ali*` either reads the email range and sorts it, or walks
 * users_created and keeps the rows that match.
 */
function walkablePrefix(dialect: Dialect, search: UserSearch): UserSearchTerm | undefined {
  if (dialect !== 'sqlite' || search.connection !== undefined || (search.sort && search.sort.field !== 'created_at')) return undefined;
  const only = search.query?.terms.length === 1 ? search.query.terms[0]! : undefined;
  return only?.prefix && !only.negated && TEXT_COLUMNS[only.field] ? only : undefined;
}

/**
 * Whether to walk creation order for a prefix search. Sorting reads every match (M); walking reads
 * about (offset + limit) * N / M rows to fill the page. SQLite has no statistics to weigh the two
 * (PostgreSQL's planner does this itself), so count the matches up to the break-even point
 * M = sqrt((offset + limit) * N), which costs at most that many index entries.
 */
async function walkOrder(db: Kysely<Database>, term: UserSearchTerm, page: { offset: number; limit: number }): Promise<boolean> {
  // max(rowid) is one index step; deleted users make it an overestimate, which only favours sorting less.
  const size = await sql<{ n: number | null }>`select max(rowid) as n from users`.execute(db);
  const users = Number(size.rows[0]?.n ?? 0);
  const breakEven = Math.ceil(Math.sqrt((page.offset + page.limit) * users));
  if (breakEven >= users) return false;
  const probe = await sql<{ n: number }>`select count(*) as n from (
      select 1 from users u where ${columnCondition('sqlite', term)!} limit ${breakEven}
    ) s`.execute(db);
  return Number(probe.rows[0]!.n) >= breakEven;
}

/** The page query and the bounded count query of a search, unexecuted (tests EXPLAIN them). */
export function compileUserSearch(dialect: Dialect, search: UserSearch, page: { offset: number; limit: number }, walk = false) {
  const driver = drivingTerm(search);
  const conditions: Condition[] = [];
  if (search.connection !== undefined && driver?.field !== 'identities.connection') {
    conditions.push(termCondition(dialect, { field: 'identities.connection', text: search.connection, prefix: false, negated: false }));
  }
  const query = search.query;
  if (query) {
    const terms = query.terms.filter((t) => t !== driver).map((t) => termCondition(dialect, t, walk));
    if (terms.length > 0) conditions.push(query.any ? sql`(${sql.join(terms, sql` or `)})` : sql.join(terms, sql` and `));
  }
  const from = driver ? sql`user_search_terms d join users u on u.user_id = d.user_id` : sql`users u`;
  if (driver) conditions.unshift(termRowCondition('d', driver));
  const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;

  const direction = search.sort?.descending ? sql.raw('desc') : sql.raw('asc');
  let order: RawBuilder<unknown>;
  if (driver) {
    order = sql`d.created_at ${direction}, d.user_id ${direction}`;
  } else {
    const { column, nullable } = SORT_COLUMNS[search.sort?.field ?? 'created_at'];
    const ref = sql.ref(`u.${column}`);
    order = nullable ? sql`${ref} is null, ${ref} ${direction}, u.user_id ${direction}` : sql`${ref} ${direction}, u.user_id ${direction}`;
  }
  // Without a driving term, the page's ids are chosen first and only their documents read: sorting
  // every match with its document would cost a read per match (q=email:ali* matches a tenth of them).
  const items = driver
    ? sql<{ data: string }>`select u.data from ${from} ${where} order by ${order} limit ${page.limit} offset ${page.offset}`
    : sql<{ data: string }>`select u.data from users u where u.user_id in (
        select u.user_id from ${from} ${where} order by ${order} limit ${page.limit} offset ${page.offset}
      ) order by ${order}`;
  return {
    items,
    count: sql<{ n: number | string }>`select count(*) as n from (select 1 from ${from} ${where} limit ${SEARCH_RESULT_LIMIT}) s`,
  };
}

/**
 * `GET /api/v2/users` with q/sort/connection, as one SQL query over indexes (and one bounded count).
 * Results stop at SEARCH_RESULT_LIMIT, as Auth0's do; pages past it are empty.
 */
export async function searchUsers(
  db: Kysely<Database>,
  dialect: Dialect,
  search: UserSearch,
  page: PageRequest & { kind: 'offset' },
): Promise<Page<User>> {
  const limit = Math.min(page.limit, SEARCH_RESULT_LIMIT - page.offset);
  const bounds = { offset: page.offset, limit: Math.max(limit, 0) };
  const prefix = limit > 0 ? walkablePrefix(dialect, search) : undefined;
  const walk = prefix !== undefined && (await walkOrder(db, prefix, bounds));
  const compiled = compileUserSearch(dialect, search, bounds, walk);
  const items = limit <= 0 ? [] : (await compiled.items.execute(db)).rows.map((row) => JSON.parse(row.data) as User);
  if (!page.includeTotal) return { items };
  const counted = await compiled.count.execute(db);
  return { items, total: Number(counted.rows[0]!.n) };
}
