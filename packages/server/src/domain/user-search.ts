import type { Page, PageRequest, User } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { invalidField } from './errors.js';

/**
 * The part of Auth0's user search (`q`, Lucene syntax, search engine v3) that latchkey answers:
 * `field:value`, `field:"quoted value"` and `field:prefix*` terms, joined by AND or by OR (not both),
 * with an optional leading NOT per term. Anything else is refused with 400, never half-answered.
 * The query is parsed here into a `UserSearchQuery`, which storage compiles to SQL
 * (storage/kysely/user-query.ts); `userMatches` is the same meaning in JavaScript, kept as the
 * reference the SQL is tested against.
 */
export type UserPredicate = (user: User) => boolean;

/** One `[NOT] field:value` or `[NOT] field:prefix*` term; `text` is unescaped and not yet case-folded. */
export interface UserSearchTerm {
  field: string;
  text: string;
  prefix: boolean;
  negated: boolean;
}

export interface UserSearchQuery {
  any: boolean;
  terms: UserSearchTerm[];
}

export const SORTABLE = [
  'user_id',
  'email',
  'name',
  'nickname',
  'username',
  'created_at',
  'updated_at',
  'last_login',
  'logins_count',
] as const;
export type SortField = (typeof SORTABLE)[number];
export interface UserSort {
  field: SortField;
  descending: boolean;
}

/** What `GET /api/v2/users` asks storage for: all optional; none of them is the plain list. */
export interface UserSearch {
  query?: UserSearchQuery;
  sort?: UserSort;
  connection?: string;
}

/**
 * Auth0 answers at most the first 1000 results of a search (page through the rest with an export
 * job). latchkey pages within those 1000 too, and counts no further: `total` is the number of
 * matches up to 1000, so that include_totals costs at most 1000 index entries, whatever the tenant's size.
 */
export const SEARCH_RESULT_LIMIT = 1000;

const invalidQuery = (message: string) => invalidField('q', message, 'invalid_query_string');

/** Fields that can be searched, and how a user's values for each are read. */
const FIELDS: Record<string, (user: User) => unknown[]> = {
  user_id: (u) => [u.user_id],
  email: (u) => [u.email],
  email_verified: (u) => [u.email_verified],
  username: (u) => [u.username],
  name: (u) => [u.name],
  nickname: (u) => [u.nickname],
  given_name: (u) => [u.given_name],
  family_name: (u) => [u.family_name],
  phone_number: (u) => [u.phone_number],
  blocked: (u) => [u.blocked],
  'identities.connection': (u) => u.identities.map((i) => i.connection),
  'identities.provider': (u) => u.identities.map((i) => i.provider),
  'identities.user_id': (u) => u.identities.map((i) => i.user_id),
};

/**
 * Emails and usernames compare case-insensitively, as logins treat them; so do the other fields
 * Auth0's user search normalizes (name, given_name, family_name, nickname). Everything else is exact.
 */
export const FOLDED_FIELDS = new Set(['email', 'username', 'name', 'nickname', 'given_name', 'family_name']);

/** The metadata root of a `app_metadata.a.b` field, or undefined for any other field. */
export function metadataPath(field: string): { root: 'app_metadata' | 'user_metadata'; path: string[] } | undefined {
  const [root, ...path] = field.split('.');
  if ((root === 'app_metadata' || root === 'user_metadata') && path.length > 0 && path.every((key) => key !== '')) return { root, path };
  return undefined;
}

/** How a searchable field's values are read from a user; unknown fields are refused. */
function fieldReader(field: string): (user: User) => unknown[] {
  const direct = FIELDS[field];
  if (direct) return direct;
  const metadata = metadataPath(field);
  if (metadata) {
    return (user) => {
      let value: unknown = user[metadata.root];
      for (const key of metadata.path)
        value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      return Array.isArray(value) ? value : [value];
    };
  }
  throw invalidQuery(`field ${field} cannot be searched`);
}

// field:"quoted \" value" | field:value | field:prefix* ; a field is letters, digits, _ and dots.
// Lucene's other operators (~ ^ ? [ ] { } ! \) stop a bare value, so a query using them is refused.
const TERM = /^(NOT\s+)?([A-Za-z_][\w.]*):(?:"((?:[^"\\]|\\.)*)"|([^\s"*()~^?[\]{}!\\]+)(\*)?)/;

/** Parses `q`, refusing (400) what latchkey cannot answer exactly. */
export function parseUserSearch(q: string): UserSearchQuery {
  const terms: UserSearchTerm[] = [];
  const operators = new Set<string>();
  let rest = q.trim();
  if (!rest) throw invalidQuery('the query is empty');
  for (;;) {
    const term = TERM.exec(rest);
    if (!term)
      throw invalidQuery(`cannot read "${rest.slice(0, 40)}" (supported: field:value, field:"value", field:prefix*, AND, OR, NOT)`);
    const [whole, not, field, quoted, bare, star] = term;
    const text = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
    fieldReader(field!);
    if (star !== undefined && text.length < 3) throw invalidQuery('a wildcard needs at least three characters before it');
    terms.push({ field: field!, text, prefix: star !== undefined, negated: not !== undefined });
    rest = rest.slice(whole.length).trim();
    if (!rest) break;
    const operator = /^(AND|OR)\s+/.exec(rest);
    if (!operator) throw invalidQuery('terms must be joined by AND or OR');
    operators.add(operator[1]!);
    rest = rest.slice(operator[0].length);
  }
  if (operators.size > 1) throw invalidQuery('AND and OR cannot be mixed without parentheses, which are not supported');
  return { any: operators.has('OR'), terms };
}

/** A term matches when any of the user's values for the field equals (or starts with) the text. */
function termPredicate({ field, text, prefix, negated }: UserSearchTerm): UserPredicate {
  const read = fieldReader(field);
  const fold = FOLDED_FIELDS.has(field);
  const wanted = fold ? text.toLowerCase() : text;
  const matches = (value: unknown) => {
    if (value === undefined || value === null) return false;
    const actual = fold ? String(value).toLowerCase() : String(value);
    return prefix ? actual.startsWith(wanted) : actual === wanted;
  };
  return (user) => read(user).some(matches) !== negated;
}

/** The meaning of a parsed query in JavaScript (the reference for the SQL search). */
export function userMatches(query: UserSearchQuery): UserPredicate {
  const terms = query.terms.map(termPredicate);
  return (user) => (query.any ? terms.some((t) => t(user)) : terms.every((t) => t(user)));
}

export function parseUserQuery(q: string): UserPredicate {
  return userMatches(parseUserSearch(q));
}

/** `sort=field:1` (ascending) or `field:-1`. */
export function parseUserSort(sort: string): UserSort {
  const match = /^([a-z_]+):(1|-1)$/.exec(sort);
  const field = match?.[1] as SortField | undefined;
  if (!match || !field || !SORTABLE.includes(field)) {
    throw invalidQuery(`sort must be field:1 or field:-1 with a field among ${SORTABLE.join(', ')}`);
  }
  return { field, descending: match[2] === '-1' };
}

/**
 * The order the SQL search returns, in JavaScript: users without the field come last; texts compare
 * by code point (emails and usernames case-folded), the same in both databases; ties go by user_id
 * in the same direction, so one index serves the whole order.
 */
export function userComparator(sort: string): (a: User, b: User) => number {
  const { field, descending } = parseUserSort(sort);
  const direction = descending ? -1 : 1;
  const read = (u: User) => {
    const value = u[field];
    return FOLDED_FIELDS.has(field) && typeof value === 'string' ? value.toLowerCase() : value;
  };
  const compare = (x: string | number, y: string | number) => (x < y ? -1 : x > y ? 1 : 0);
  return (a, b) => {
    const x = read(a);
    const y = read(b);
    if (x === undefined || x === null) return y === undefined || y === null ? direction * compare(a.user_id, b.user_id) : 1;
    if (y === undefined || y === null) return -1;
    return direction * (compare(x, y) || compare(a.user_id, b.user_id));
  };
}

/** `GET /api/v2/users` with `q`, `sort` or `connection`: parsed here (400 on what cannot be answered), run as SQL by storage. */
export function searchUsers(
  storage: Pick<Storage, 'users'>,
  search: { q?: string; sort?: string; connection?: string },
  page: PageRequest,
): Promise<Page<User>> {
  if (page.kind !== 'offset') {
    throw invalidField('from', 'from/take cannot be combined with filters; use page and per_page', 'invalid_query_string');
  }
  return storage.users.search(
    {
      ...(search.q !== undefined ? { query: parseUserSearch(search.q) } : {}),
      ...(search.sort !== undefined ? { sort: parseUserSort(search.sort) } : {}),
      ...(search.connection !== undefined ? { connection: search.connection } : {}),
    },
    page,
  );
}
