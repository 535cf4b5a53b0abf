import type { Storage } from '../storage/types.js';
import type { Page, PageRequest, User } from '../domain/types.js';
import { ManagementApiError } from './errors.js';
import { scanPage } from './paging.js';

/**
 * The part of Auth0's user search (`q`, Lucene syntax, search engine v3) that latchkey answers:
 * `field:value`, `field:"quoted value"` and `field:prefix*` terms, joined by AND or by OR (not both),
 * with an optional leading NOT per term. Anything else is refused with 400, never half-answered.
 */
export type UserPredicate = (user: User) => boolean;

const invalidQuery = (message: string) => new ManagementApiError(400, 'invalid_query_string', `Query validation error: ${message}`);

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

/** How a searchable field's values are read from a user; unknown fields are refused. */
function fieldReader(field: string): (user: User) => unknown[] {
  const direct = FIELDS[field];
  if (direct) return direct;
  const [root, ...path] = field.split('.');
  if ((root === 'app_metadata' || root === 'user_metadata') && path.length > 0) {
    return (user) => {
      let value: unknown = user[root];
      for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      return Array.isArray(value) ? value : [value];
    };
  }
  throw invalidQuery(`field ${field} cannot be searched`);
}

// field:"quoted \" value" | field:value | field:prefix* ; a field is letters, digits, _ and dots.
// Lucene's other operators (~ ^ ? [ ] { } ! \) stop a bare value, so a query using them is refused.
const TERM = /^(NOT\s+)?([A-Za-z_][\w.]*):(?:"((?:[^"\\]|\\.)*)"|([^\s"*()~^?[\]{}!\\]+)(\*)?)/;

/** A term matches when any of the user's values for the field equals (or starts with) the text. */
function termPredicate(field: string, text: string, prefix: boolean, negated: boolean): UserPredicate {
  const read = fieldReader(field);
  if (prefix && text.length < 3) throw invalidQuery('a wildcard needs at least three characters before it');
  // Emails and usernames compare case-insensitively, as logins treat them.
  const fold = field === 'email' || field === 'username';
  const wanted = fold ? text.toLowerCase() : text;
  const matches = (value: unknown) => {
    if (value === undefined || value === null) return false;
    const actual = fold ? String(value).toLowerCase() : String(value);
    return prefix ? actual.startsWith(wanted) : actual === wanted;
  };
  return (user) => read(user).some(matches) !== negated;
}

export function parseUserQuery(q: string): UserPredicate {
  const terms: UserPredicate[] = [];
  const operators = new Set<string>();
  let rest = q.trim();
  if (!rest) throw invalidQuery('the query is empty');
  for (;;) {
    const term = TERM.exec(rest);
    if (!term) throw invalidQuery(`cannot read "${rest.slice(0, 40)}" (supported: field:value, field:"value", field:prefix*, AND, OR, NOT)`);
    const [whole, not, field, quoted, bare, star] = term;
    const text = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
    terms.push(termPredicate(field!, text, star !== undefined, not !== undefined));
    rest = rest.slice(whole.length).trim();
    if (!rest) break;
    const operator = /^(AND|OR)\s+/.exec(rest);
    if (!operator) throw invalidQuery('terms must be joined by AND or OR');
    operators.add(operator[1]!);
    rest = rest.slice(operator[0].length);
  }
  if (operators.size > 1) throw invalidQuery('AND and OR cannot be mixed without parentheses, which are not supported');
  const any = operators.has('OR');
  return (user) => (any ? terms.some((t) => t(user)) : terms.every((t) => t(user)));
}

const SORTABLE = ['user_id', 'email', 'name', 'nickname', 'username', 'created_at', 'updated_at', 'last_login', 'logins_count'] as const;

/** `sort=field:1` (ascending) or `field:-1`; users without the field come last. */
export function userComparator(sort: string): (a: User, b: User) => number {
  const match = /^([a-z_]+):(1|-1)$/.exec(sort);
  const field = match?.[1] as (typeof SORTABLE)[number] | undefined;
  if (!match || !field || !SORTABLE.includes(field)) {
    throw invalidQuery(`sort must be field:1 or field:-1 with a field among ${SORTABLE.join(', ')}`);
  }
  const direction = match[2] === '1' ? 1 : -1;
  return (a, b) => {
    const x = a[field];
    const y = b[field];
    if (x === undefined || x === null) return y === undefined || y === null ? 0 : 1;
    if (y === undefined || y === null) return -1;
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return order * direction || a.user_id.localeCompare(b.user_id);
  };
}

/**
 * `GET /api/v2/users` with `q`, `sort` or `connection`: every user is read and filtered, a full scan
 * (fine for the tenants latchkey is run for; an index-backed search would replace it).
 */
export function searchUsers(storage: Pick<Storage, 'users'>, search: { q?: string; sort?: string; connection?: string }, page: PageRequest): Promise<Page<User>> {
  const matches = search.q !== undefined ? parseUserQuery(search.q) : () => true;
  const { connection } = search;
  return scanPage((p) => storage.users.list(p), {
    keep: (user) => (connection === undefined || user.identities.some((i) => i.connection === connection)) && matches(user),
    ...(search.sort !== undefined ? { compare: userComparator(search.sort) } : {}),
  }, page);
}
