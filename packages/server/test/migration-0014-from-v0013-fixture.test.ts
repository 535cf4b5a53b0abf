import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { User } from '../src/domain/types.js';
import { parseUserSearch, userMatches } from '../src/domain/user-search.js';
import { FIXTURE } from './fixtures/v0013-tenant.js';
import { Browser } from './helpers/http-login.js';
import { authorizationCode } from './helpers/protocol.js';
import { backend, startTestServer, type TestServer } from './helpers/server.js';
import { TEST_PASSWORD } from './helpers/tenant.js';

/**
 * A tenant written by latchkey at schema 0013 (test/fixtures: a SQLite file and a PostgreSQL dump)
 * is migrated by a server start to the latest schema (0014 users, 0015 clients): every user is then found by the SQL search
 * as the JavaScript reading finds it, users-by-email answers, and its users still sign in.
 */
const here = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const postgresUrl = process.env.LATCHKEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let server: TestServer;
let cleanup: () => Promise<void>;
let everyone: User[];

/** A copy of the fixture, so the committed one stays at 0013. */
async function fixtureCopy(): Promise<string> {
  if (backend === 'postgres') {
    const schema = `lk_fixture_${randomBytes(6).toString('hex')}`;
    // psql meta-commands (\restrict) are not SQL; the schema is renamed to a fresh one.
    const dump = readFileSync(join(here, 'v0013-postgres.sql'), 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('\\'))
      .join('\n')
      .replaceAll(FIXTURE.pgSchema, schema);
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(dump);
    await client.end();
    cleanup = async () => {
      const admin = new pg.Client({ connectionString: postgresUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    };
    return `${postgresUrl}?schema=${schema}`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-fixture-'));
  copyFileSync(join(here, 'v0013.sqlite'), join(dir, 'latchkey.db'));
  cleanup = async () => rmSync(dir, { recursive: true, force: true });
  return `sqlite:${join(dir, 'latchkey.db')}`;
}

before(async () => {
  const databaseUrl = await fixtureCopy();
  server = await startTestServer({ config: { databaseUrl, masterKey: FIXTURE.masterKey } });
  const listed = await server.management('GET', '/users?per_page=100');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  everyone = listed.body;
  assert.equal(everyone.length, FIXTURE.databaseUsers.length + 2);
});
after(async () => {
  await server?.close();
  await cleanup?.();
});

const search = async (q: string, sort?: string) => {
  const response = await server.management('GET', `/users?q=${encodeURIComponent(q)}${sort ? `&sort=${sort}` : ''}&include_totals=true`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body as { total: number; users: User[] };
};

test(`every migrated user is found by the SQL search as before (${backend})`, async () => {
  for (const u of everyone) {
    for (const q of [
      `email:"${u.email!.toUpperCase()}"`,
      `user_id:"${u.user_id}"`,
      `email:${u.email!.slice(0, 3).toLowerCase()}*`,
      `identities.connection:"${u.identities[0]!.connection}"`,
      `identities.provider:${u.identities[0]!.provider}`,
    ]) {
      const found = await search(q);
      const want = everyone.filter(userMatches(parseUserSearch(q))).map((x) => x.user_id);
      assert.deepEqual(
        found.users.map((x) => x.user_id),
        want,
        q,
      );
      assert.ok(want.includes(u.user_id), q);
    }
    const byEmail = await server.management('GET', `/users-by-email?email=${encodeURIComponent(u.email!.toUpperCase())}`);
    assert.deepEqual(
      byEmail.body.map((x: User) => x.user_id),
      [u.user_id],
    );
  }
  for (const q of [
    'user_metadata.plan:"pro"',
    'user_metadata.plan:free',
    'user_metadata.locale:fr',
    'app_metadata.roles:admin',
    'app_metadata.tier:2',
    'blocked:true',
    'email_verified:true',
    'NOT user_metadata.plan:pro',
    'name:"Carol Upstream"',
    'nickname:alice',
  ]) {
    const want = everyone.filter(userMatches(parseUserSearch(q))).map((x) => x.user_id);
    assert.ok(want.length > 0, q);
    const found = await search(q);
    assert.deepEqual(
      found.users.map((x) => x.user_id),
      want,
      q,
    );
    assert.equal(found.total, want.length);
  }
  const newest = await search('user_metadata.plan:"pro"', 'created_at:-1');
  assert.deepEqual(
    newest.users.map((u) => u.email),
    ['Carol@Acme.test', 'alistair@example.org', 'Ada@Example.com'],
  );
});

test(`a migrated user signs in, and so does the bcrypt-imported one (${backend})`, async () => {
  const { body: clients } = await server.management('GET', '/clients?app_type=native');
  const app = clients.find((c: { name: string }) => c.name === FIXTURE.appName);
  assert.ok(app, 'the fixture app is there (0015 filled in app_type)');
  const thirdParty = await server.management('GET', '/clients?is_first_party=false');
  assert.deepEqual(
    thirdParty.body.map((c: { name: string }) => c.name),
    ['Fixture SPA'],
  );
  const spas = await server.management('GET', '/clients?app_type=spa,non_interactive');
  assert.deepEqual(
    spas.body.map((c: { name: string }) => c.name).filter((n: string) => n.startsWith('Fixture')),
    ['Fixture Backend', 'Fixture SPA'],
  );
  for (const credentials of [{ email: FIXTURE.databaseUsers[0]!.email, password: TEST_PASSWORD }, FIXTURE.bcryptUser]) {
    const { code } = await authorizationCode(
      server,
      new Browser(server.issuer),
      { client_id: app.client_id, redirect_uri: 'http://127.0.0.1:50300/callback' },
      credentials,
    );
    assert.ok(code);
  }
  const legacy = await search(`email:"${FIXTURE.bcryptUser.email}"`);
  assert.equal(legacy.users[0]!.logins_count, 1, 'the sign-in updated the row the search reads');
});
