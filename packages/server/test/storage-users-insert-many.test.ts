import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { User, UserRecord } from '../src/domain/types.js';
import { searchUsers } from '../src/domain/user-search.js';
import type { Storage } from '../src/storage/types.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * users.insertMany: the bulk insert behind seeding and user imports. Written users read back like
 * those of users.insert (by id, by email, by the SQL search on their terms); a taken user_id, email
 * or username skips that record and says which; all of it is one transaction.
 */
const user = (id: string, extra: Partial<User> = {}): User => ({
  user_id: `auth0|${id}`,
  email: `${id}@Example.com`,
  email_verified: false,
  identities: [{ connection: 'db', user_id: id, provider: 'auth0', isSocial: false }],
  app_metadata: {},
  user_metadata: {},
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  logins_count: 0,
  blocked: false,
  ...extra,
});
const record = (u: User, connection = 'db'): UserRecord => ({ user: u, connection, passwordHash: 'hash' });

let database: TestDatabase;
let storage: Storage;

before(async () => {
  database = testDatabase();
  storage = await database.open();
  await storage.migrate();
});
after(async () => {
  await storage?.close();
  await database?.drop();
});

test('users written in bulk are found by id, by email and by the SQL search on a metadata term', async () => {
  // More than one statement's worth of rows and of terms (each user has 3 identity terms and 2 metadata terms).
  const records = Array.from({ length: 4500 }, (_, i) =>
    record(user(`bulk${i}`, { username: `bulkname${i}`, user_metadata: { cohort: `c${i % 7}`, tags: ['x', `t${i}`] } })),
  );
  assert.deepEqual(await storage.users.insertMany(records), { inserted: 4500, skipped: [] });

  assert.deepEqual(await storage.users.get('auth0|bulk4321'), records[4321]);
  assert.equal((await storage.users.findByEmail('db', 'BULK17@example.com'))?.user.user_id, 'auth0|bulk17');
  assert.equal((await storage.users.findByUsername('db', 'bulkname4499'))?.user.user_id, 'auth0|bulk4499');

  const found = await searchUsers(
    storage,
    { q: 'user_metadata.tags:"t3999"' },
    { kind: 'offset', offset: 0, limit: 50, includeTotal: false },
  );
  assert.deepEqual(
    found.items.map((u) => u.user_id),
    ['auth0|bulk3999'],
  );
  const cohort = await searchUsers(storage, { q: 'user_metadata.cohort:c3' }, { kind: 'offset', offset: 0, limit: 10, includeTotal: true });
  assert.equal(cohort.total, Math.ceil((4500 - 3) / 7));
});

test('a taken user_id, email or username skips that record, reports it by position, and writes the others', async () => {
  assert.equal(await storage.users.insert(record(user('stored', { username: 'storedname' }))), true);
  const records = [
    record(user('dup-new1')),
    record(user('stored', { email: 'other@example.com' })), // user_id stored
    record(user('dup-email', { email: 'STORED@example.com' })), // email stored (case-insensitively)
    record(user('dup-username', { username: 'StoredName' })), // username stored
    record(user('dup-new2', { email: 'dup-new1@example.com' })), // email of an earlier record of this batch
    record(user('dup-new1', { email: 'third@example.com' })), // user_id of an earlier record of this batch
    record(user('dup-other-connection', { email: 'stored@example.com' }), 'other'), // another connection: free
  ];
  const result = await storage.users.insertMany(records);
  assert.deepEqual(result, {
    inserted: 2,
    skipped: [
      { index: 1, userId: 'auth0|stored', taken: 'user_id' },
      { index: 2, userId: 'auth0|dup-email', taken: 'email' },
      { index: 3, userId: 'auth0|dup-username', taken: 'username' },
      { index: 4, userId: 'auth0|dup-new2', taken: 'email' },
      { index: 5, userId: 'auth0|dup-new1', taken: 'user_id' },
    ],
  });
  // The stored user is untouched; skipped records left no row and no search term.
  assert.equal((await storage.users.get('auth0|stored'))?.user.email, 'stored@Example.com');
  assert.equal((await storage.users.get('auth0|dup-new1'))?.user.email, 'dup-new1@Example.com');
  assert.equal(await storage.users.get('auth0|dup-email'), undefined);
  assert.equal(await storage.users.get('auth0|dup-new2'), undefined);
  assert.equal((await storage.users.findByEmail('other', 'stored@example.com'))?.user.user_id, 'auth0|dup-other-connection');
  const terms = await searchUsers(
    storage,
    { q: 'identities.user_id:"dup-email"' },
    { kind: 'offset', offset: 0, limit: 10, includeTotal: false },
  );
  assert.deepEqual(terms.items, []);
  assert.deepEqual(await storage.users.insertMany([]), { inserted: 0, skipped: [] });
});

test('inside storage.transaction, a rollback leaves none of the users nor their terms', async () => {
  const records = Array.from({ length: 2500 }, (_, i) => record(user(`rolled${i}`, { user_metadata: { batch: 'rolled-back' } })));
  await assert.rejects(
    storage.transaction(async (tx) => {
      assert.equal((await tx.users.insertMany(records)).inserted, 2500);
      assert.equal((await tx.users.get('auth0|rolled7'))?.user.user_id, 'auth0|rolled7');
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.equal(await storage.users.get('auth0|rolled7'), undefined);
  assert.equal(await storage.users.findByEmail('db', 'rolled2499@example.com'), undefined);
  const found = await searchUsers(
    storage,
    { q: 'user_metadata.batch:"rolled-back"' },
    { kind: 'offset', offset: 0, limit: 10, includeTotal: false },
  );
  assert.deepEqual(found.items, []);
  // The same users can then be written.
  assert.equal((await storage.users.insertMany(records)).inserted, 2500);
});
