/**
 * The first sign-ins of an imported user verify the old hash and replace it with argon2id. Two of them
 * at once (a double submit, an app retrying) both know the password: both must succeed, the hash must
 * end as argon2id of that password, and neither may write back a user read before the other wrote.
 * Interleavings are forced by holding the sign-in's read of the user, not by timing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { verify as verifyArgon2 } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { tokenRequest } from './helpers/protocol.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createPasswordGrantApp } from './helpers/tenant.js';

let server: TestServer;
let web: { client_id: string; client_secret?: string };

before(async () => {
  server = await startTestServer();
  web = await createPasswordGrantApp(server);
});
after(() => server.close());

const passwordGrant = (email: string, password: string) =>
  tokenRequest(server, {
    grant_type: 'password',
    client_id: web.client_id,
    client_secret: web.client_secret!,
    username: email,
    password,
    scope: 'openid',
  });

async function importedBcryptUser(email: string, password: string): Promise<string> {
  const created = await server.management('POST', '/users', {
    connection: 'Username-Password-Authentication',
    email,
    password_hash: await bcryptHash(password, { cost: 4 }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.user_id;
}

/** Runs `during` after each sign-in has read the user by email and before it goes on (to verify and write). */
function holdReads(during: (calls: number) => Promise<void>): () => void {
  const users = server.ctx.storage.users;
  const original = users.findByEmail;
  let calls = 0;
  users.findByEmail = async function (this: typeof users, ...args: Parameters<typeof original>) {
    const found = await original.apply(this, args);
    await during(++calls);
    return found;
  };
  return () => {
    users.findByEmail = original;
  };
}

test('two parallel first sign-ins of an imported user both succeed, and the hash ends as argon2id', async () => {
  const userId = await importedBcryptUser('parallel@example.com', 'Imported-pass-1');
  // Neither read goes on before both have read: both verify the bcrypt hash, both want to rehash it.
  let release!: () => void;
  const bothRead = new Promise<void>((resolve) => (release = resolve));
  const restore = holdReads(async (calls) => {
    if (calls === 2) release();
    await bothRead;
  });
  let results: Array<Awaited<ReturnType<typeof passwordGrant>>>;
  try {
    results = await Promise.all([
      passwordGrant('parallel@example.com', 'Imported-pass-1'),
      passwordGrant('parallel@example.com', 'Imported-pass-1'),
    ]);
  } finally {
    restore();
  }
  for (const result of results) assert.equal(result.status, 200, JSON.stringify(result.body));
  const record = (await server.ctx.storage.users.get(userId))!;
  assert.match(record.passwordHash!, /^\$argon2id\$/);
  assert.equal(await verifyArgon2(record.passwordHash!, 'Imported-pass-1'), true);
  assert.equal(record.user.logins_count, 2, 'both sign-ins counted');
});

test('a change an administrator makes while a sign-in verifies the password is kept', async () => {
  const userId = await importedBcryptUser('kept@example.com', 'Imported-pass-2');
  const restore = holdReads(async (calls) => {
    if (calls !== 1) return;
    const patched = await server.management('PATCH', `/users/${encodeURIComponent(userId)}`, {
      user_metadata: { plan: 'changed while signing in' },
      blocked: false,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
  });
  try {
    const signedIn = await passwordGrant('kept@example.com', 'Imported-pass-2');
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  } finally {
    restore();
  }
  const record = (await server.ctx.storage.users.get(userId))!;
  assert.deepEqual(record.user.user_metadata, { plan: 'changed while signing in' });
  assert.match(record.passwordHash!, /^\$argon2id\$/);
  assert.equal(record.user.logins_count, 1);
});

test('a user blocked while the sign-in verifies the password is refused', async () => {
  const userId = await importedBcryptUser('blocked-meanwhile@example.com', 'Imported-pass-3');
  const restore = holdReads(async (calls) => {
    if (calls !== 1) return;
    const patched = await server.management('PATCH', `/users/${encodeURIComponent(userId)}`, { blocked: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
  });
  try {
    const refused = await passwordGrant('blocked-meanwhile@example.com', 'Imported-pass-3');
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error_description, 'user is blocked');
  } finally {
    restore();
  }
  assert.equal((await server.ctx.storage.users.get(userId))!.user.blocked, true);
});
