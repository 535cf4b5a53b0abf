import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { DomainError } from '../src/domain/errors.js';
import type { User } from '../src/domain/types.js';
import { parseUserSearch, searchUsers, userComparator, userMatches } from '../src/domain/user-search.js';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import * as foldSearchedNames from '../src/storage/migrations/0016-fold-searched-names.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * User search runs as SQL (storage/kysely/user-query.ts). Its answers must be those of the
 * JavaScript reading of the same query (domain/user-search.ts, what latchkey answered before),
 * on both backends: same users, same order, same totals.
 */
const LONG = `${'x'.repeat(195)}é€😀abcdefghij`;
const LONG_TWIN = `${'x'.repeat(195)}é€😀abcdefghiZ`;

const user = (id: string, connection: string, createdAt: string, extra: Partial<User> = {}): User => ({
  user_id: id,
  email_verified: false,
  identities: [{ connection, user_id: id.split('|').pop()!, provider: connection === 'db' ? 'auth0' : 'oidc', isSocial: false }],
  app_metadata: {},
  user_metadata: {},
  created_at: createdAt,
  updated_at: createdAt,
  logins_count: 0,
  blocked: false,
  ...extra,
});

const users: User[] = [
  user('auth0|a', 'db', '2026-01-01T00:00:00.000Z', {
    email: 'Ada@Example.com',
    name: 'Ada Lovelace',
    app_metadata: { plan: 'pro', roles: ['admin', 'dev'], n: 5 },
    logins_count: 5,
    user_metadata: { plan: 'pro', nested: { deep: { key: 'v' } } },
  }),
  user('auth0|b', 'db', '2026-01-02T00:00:00.000Z', {
    email: 'bob@example.com',
    name: 'Bob',
    email_verified: true,
    logins_count: 2,
    blocked: true,
    user_metadata: { plan: 'free', flag: true },
  }),
  user('oidc|acme|c', 'acme', '2025-06-01T00:00:00.000Z', { email: 'carol@acme.test', user_metadata: { plan: 'pro', note: LONG } }),
  user('auth0|d', 'db', '2026-01-02T00:00:00.000Z', {
    email: 'ALICE@example.com',
    username: 'Alice_W',
    nickname: 'ali',
    user_metadata: { plan: 'pro', note: LONG_TWIN },
  }),
  user('auth0|e', 'db', '2026-01-03T00:00:00.000Z', {
    email: 'alistair@example.org',
    name: 'Ålistair',
    last_login: '2026-02-01T00:00:00.000Z',
    app_metadata: { roles: ['dev'], obj: { x: 1 } },
  }),
  user('auth0|f', 'db', '2026-01-04T00:00:00.000Z', { username: 'frank', user_metadata: { plan: null, tags: [1, 'two', [3, 4]] } }),
];

const kysely = (s: Storage) => (s as KyselyStorage).db;

let database: TestDatabase;
let storage: Storage;

before(async () => {
  database = testDatabase();
  storage = await database.open();
  await storage.migrate();
  for (const u of users)
    assert.equal(await storage.users.insert({ user: u, connection: u.identities[0]!.connection, passwordHash: null }), true);
});
after(async () => {
  await storage?.close();
  await database?.drop();
});

const byCreation = (a: User, b: User) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.user_id < b.user_id ? -1 : 1;

/** What the JavaScript reading answers, ordered as the SQL search orders. */
function expected(search: { q?: string; sort?: string; connection?: string }): string[] {
  const matches = search.q !== undefined ? userMatches(parseUserSearch(search.q)) : () => true;
  return users
    .filter((u) => (search.connection === undefined || u.identities.some((i) => i.connection === search.connection)) && matches(u))
    .sort(search.sort ? userComparator(search.sort) : byCreation)
    .map((u) => u.user_id);
}

async function found(
  search: { q?: string; sort?: string; connection?: string },
  offset = 0,
  limit = 50,
): Promise<{ ids: string[]; total: number | undefined }> {
  const page = await searchUsers(storage, search, { kind: 'offset', offset, limit, includeTotal: true });
  return { ids: page.items.map((u) => u.user_id), total: page.total };
}

const QUERIES = [
  'email:"ada@example.com"',
  'email:ADA@EXAMPLE.COM',
  'email:ali*',
  'email:ALI*',
  'email:"nobody@example.com"',
  'username:alice_w',
  'username:ALI*',
  'name:"Ada Lovelace"',
  'name:"ada lovelace"',
  'name:Åli*',
  'nickname:ali',
  'user_id:"oidc|acme|c"',
  'user_id:auth0*',
  'email_verified:true',
  'email_verified:false',
  'blocked:tru*',
  'blocked:yes',
  'identities.connection:acme',
  'identities.provider:auth0',
  'identities.user_id:c',
  'user_metadata.plan:"pro"',
  'user_metadata.plan:pro*',
  'user_metadata.plan:null',
  'app_metadata.roles:dev',
  'app_metadata.roles:adm*',
  'app_metadata.n:5',
  'user_metadata.flag:true',
  'user_metadata.nested.deep.key:v',
  'user_metadata.tags:1',
  'user_metadata.tags:two',
  'user_metadata.tags:"3,4"',
  'user_metadata.missing:x',
  `user_metadata.note:"${LONG}"`,
  `user_metadata.note:"${LONG_TWIN}"`,
  `user_metadata.note:${'x'.repeat(200)}*`,
  `user_metadata.note:${LONG.slice(0, 205)}*`,
  `user_metadata.note:${LONG_TWIN.slice(0, 203)}*`,
  'NOT blocked:true',
  'NOT user_metadata.plan:pro',
  'NOT email:ali*',
  'NOT name:Bob',
  'user_metadata.plan:pro AND email:ali*',
  'email:ada* OR email:bob*',
  'user_metadata.plan:free OR app_metadata.roles:dev',
  'NOT blocked:true AND user_metadata.plan:pro',
  'identities.connection:db AND NOT app_metadata.roles:dev',
];

test(`every supported query answers the users the JavaScript reading answers (${backend})`, async () => {
  for (const q of QUERIES) {
    const want = expected({ q });
    assert.deepEqual(await found({ q }), { ids: want, total: want.length }, q);
  }
});

test(`sort in both directions, with the connection filter and with queries (${backend})`, async () => {
  for (const field of ['user_id', 'email', 'name', 'nickname', 'username', 'created_at', 'updated_at', 'last_login', 'logins_count']) {
    for (const sort of [`${field}:1`, `${field}:-1`]) {
      assert.deepEqual((await found({ sort })).ids, expected({ sort }), sort);
      assert.deepEqual(
        (await found({ sort, q: 'user_metadata.plan:pro' })).ids,
        expected({ sort, q: 'user_metadata.plan:pro' }),
        `${sort} pro`,
      );
      assert.deepEqual((await found({ sort, connection: 'db' })).ids, expected({ sort, connection: 'db' }), `${sort} db`);
    }
  }
  assert.deepEqual((await found({ connection: 'acme' })).ids, ['oidc|acme|c']);
  assert.deepEqual(
    (await found({ connection: 'db', q: 'email:ali* OR name:Bob' })).ids,
    expected({ connection: 'db', q: 'email:ali* OR name:Bob' }),
  );
});

test(`pages, totals, and nothing past the first 1000 results (${backend})`, async () => {
  const all = expected({ q: 'user_metadata.plan:pro', sort: 'created_at:-1' });
  const pages = [];
  for (let offset = 0; offset < all.length; offset += 2) {
    const page = await found({ q: 'user_metadata.plan:pro', sort: 'created_at:-1' }, offset, 2);
    assert.equal(page.total, all.length);
    pages.push(...page.ids);
  }
  assert.deepEqual(pages, all);
  assert.deepEqual(await found({ q: 'user_metadata.plan:pro' }, 1000, 50), { ids: [], total: all.length });
  assert.deepEqual((await found({ sort: 'user_id:1' }, 998, 50)).ids, [], 'past the available results');
});

test(`writes keep the search columns and terms in step (${backend})`, async () => {
  const record = (await storage.users.get('auth0|f'))!;
  const changed = { ...record.user, email: 'Frank@Example.net', user_metadata: { plan: 'enterprise' } };
  assert.equal(await storage.users.update({ ...record, user: changed }), true);
  assert.deepEqual((await found({ q: 'email:frank@example.net' })).ids, ['auth0|f']);
  assert.deepEqual((await found({ q: 'user_metadata.plan:enterprise' })).ids, ['auth0|f']);
  assert.deepEqual((await found({ q: 'user_metadata.tags:two' })).ids, [], 'old metadata is gone');
  assert.deepEqual(
    (await storage.users.listByEmail('FRANK@example.NET')).map((u) => u.user_id),
    ['auth0|f'],
  );
  assert.equal(await storage.users.delete('auth0|f'), true);
  assert.deepEqual((await found({ q: 'user_metadata.plan:enterprise' })).ids, []);
  assert.equal(await storage.users.update({ ...record, user: record.user }), false, 'no such user any more');
  assert.equal(
    await storage.users.insert({ ...record, user: { ...record.user, user_id: 'auth0|f2', email: 'ada@EXAMPLE.com' }, connection: 'db' }),
    false,
    'email taken on the connection',
  );
});

test(`name, given_name, family_name and nickname match case-insensitively, as Auth0 documents (${backend})`, async () => {
  assert.deepEqual((await found({ q: 'name:"ada lovelace"' })).ids, ['auth0|a']);
  assert.deepEqual((await found({ q: 'name:"ADA LOVELACE"' })).ids, ['auth0|a']);
  assert.deepEqual((await found({ q: 'name:ålis*' })).ids, ['auth0|e']);
  assert.deepEqual((await found({ q: 'nickname:ALI' })).ids, ['auth0|d']);
  assert.deepEqual((await found({ q: 'NOT name:BOB AND email:bob*' })).ids, []);
  const grace = user('auth0|g', 'db', '2026-01-05T00:00:00.000Z', { given_name: 'Grace', family_name: 'HOPPER' });
  assert.equal(await storage.users.insert({ user: grace, connection: 'db', passwordHash: null }), true);
  assert.deepEqual((await found({ q: 'given_name:grace AND family_name:Hopper' })).ids, ['auth0|g']);

  // Migration 0016 folds what was stored before it (here: put back as it was, then migrated again).
  await sql`update users set given_name = 'Grace', family_name = 'HOPPER' where user_id = 'auth0|g'`.execute(kysely(storage));
  await foldSearchedNames.up(kysely(storage) as Kysely<unknown>);
  assert.deepEqual((await found({ q: 'given_name:GRACE AND family_name:hopper' })).ids, ['auth0|g']);
  assert.equal(await storage.users.delete('auth0|g'), true);
});

test('unsupported syntax and paging stay 400 invalid_query_string', async () => {
  for (const search of [{ q: 'email:a*' }, { q: '(email:x)' }, { sort: 'password:1' }, { q: 'name:[a TO z]' }]) {
    await assert.rejects(
      async () => searchUsers(storage, search, { kind: 'offset', offset: 0, limit: 10, includeTotal: false }),
      (err: unknown) => err instanceof DomainError && err.kind === 'invalid' && err.code === 'invalid_query_string',
    );
  }
  await assert.rejects(
    async () => searchUsers(storage, { q: 'email:ada*' }, { kind: 'checkpoint', from: undefined, take: 10 }),
    DomainError,
  );
});
