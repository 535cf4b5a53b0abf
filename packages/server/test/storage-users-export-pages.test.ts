import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { User, UserRecord } from '../src/domain/types.js';
import { exportUsers } from '../src/domain/user-export.js';
import type { Storage } from '../src/storage/types.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * users.listRecordsAfter, the keyset pages behind `latchkey users export`: every user of a connection once,
 * in user_id order, with its password hash; and the export over more than one page of them.
 */
const user = (id: string): User => ({
  user_id: `auth0|${id}`,
  email: `${id}@example.com`,
  email_verified: true,
  identities: [{ connection: 'db', user_id: id, provider: 'auth0', isSocial: false }],
  app_metadata: {},
  user_metadata: {},
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  logins_count: 0,
  blocked: false,
});

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

test('keyset pages give each user of the connection once, in user_id order, with the password hash', async () => {
  const records: UserRecord[] = [];
  for (let i = 0; i < 1203; i++)
    records.push({ user: user(`u${String(i).padStart(5, '0')}`), connection: 'db', passwordHash: `hash-${i}` });
  for (let i = 0; i < 5; i++) records.push({ user: user(`other${i}`), connection: 'other', passwordHash: null });
  // Inserted out of order: the pages follow user_id, not insertion.
  assert.equal((await storage.users.insertMany([...records].reverse())).inserted, records.length);

  const seen: UserRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await storage.users.listRecordsAfter(
      after === undefined ? { connection: 'db' } : { connection: 'db', afterUserId: after },
      500,
    );
    seen.push(...page);
    if (page.length < 500) break;
    after = page[page.length - 1]!.user.user_id;
  }
  assert.deepEqual(
    seen.map((r) => [r.user.user_id, r.passwordHash]),
    records.slice(0, 1203).map((r) => [r.user.user_id, r.passwordHash]),
  );
  assert.equal((await storage.users.listRecordsAfter({}, 5000)).length, records.length, 'without a connection: all of them');
});

test('the export writes one JSON array across pages', async () => {
  await storage.connections.insert({
    id: 'con_db',
    name: 'db',
    strategy: 'auth0',
    options: {},
    enabled_clients: [],
    is_domain_connection: false,
    realms: ['db'],
  });
  let text = '';
  const summary = await exportUsers(storage, { connection: 'db', withPasswordHashes: false }, async (chunk) => {
    text += chunk;
  });
  const users = JSON.parse(text) as Array<{ user_id: string }>;
  assert.equal(summary.users, 1203);
  assert.equal(users.length, 1203);
  assert.equal(new Set(users.map((u) => u.user_id)).size, 1203);
  assert.equal(users[0]!.user_id, 'u00000');
});
