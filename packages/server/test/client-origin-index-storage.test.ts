import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Kysely, Migrator, sql } from 'kysely';
import type { Client } from '../src/domain/types.js';
import { migrationProvider } from '../src/storage/migrations/index.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { type TestDatabase, testDatabase } from './helpers/storage.js';

/**
 * The storage side of CORS by index: every client write keeps the origin rows in step and announces
 * the origin keys that changed, the registered-client count follows inserts and deletes, and a
 * database made before the index gets its clients' origins and count when it is migrated.
 */
const client = (id: string, fields: Partial<Client> = {}): Client => ({
  client_id: id,
  name: id,
  description: '',
  app_type: 'spa',
  callbacks: [],
  allowed_logout_urls: [],
  web_origins: [],
  allowed_origins: [],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'none',
  is_first_party: true,
  oidc_conformant: true,
  jwt_configuration: { lifetime_in_seconds: 36000, alg: 'RS256' },
  refresh_token: {
    rotation_type: 'rotating',
    expiration_type: 'expiring',
    leeway: 0,
    token_lifetime: 1,
    idle_token_lifetime: 1,
    infinite_token_lifetime: false,
    infinite_idle_token_lifetime: false,
  },
  client_metadata: {},
  ...fields,
});

describe(`client origin index in storage (${backend})`, () => {
  let database: TestDatabase;
  let storage: Storage;
  const changes: string[] = [];

  before(async () => {
    database = testDatabase();
    storage = await database.open();
    const db = (storage as unknown as { db: Kysely<any> }).db;
    // The database as the code before the index left it: every migration before 0010, and clients in it.
    const schema = backend === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]!.s : undefined;
    const older = Object.fromEntries(Object.entries(await migrationProvider.getMigrations()).filter(([name]) => name < '0010'));
    const { error } = await new Migrator({
      db,
      provider: { getMigrations: async () => older },
      migrationTableName: 'latchkey_migrations',
      migrationLockTableName: 'latchkey_migrations_lock',
      ...(schema ? { migrationTableSchema: schema } : {}),
    }).migrateToLatest();
    assert.ifError(error);
    const old = [
      client('old-spa', { web_origins: ['https://old-spa.example'], callbacks: ['https://old-spa.example/cb', 'myapp://cb'] }),
      client('old-native', { callbacks: ['http://127.0.0.1/callback'], registration_source: 'dynamic_registration' }),
      client('old-registered', {
        callbacks: ['https://third.example/cb'],
        allowed_origins: ['https://third-api.example'],
        registration_source: 'dynamic_registration',
      }),
    ];
    await db
      .insertInto('clients')
      .values(
        old.map((c) => ({ client_id: c.client_id, secret_digest: 'd', data: JSON.stringify(c), created_at: new Date().toISOString() })),
      )
      .execute();
    await storage.migrate();
    // What this storage publishes (PostgreSQL also echoes it back through NOTIFY, later).
    const publish = storage.changes.publish.bind(storage.changes);
    storage.changes.publish = (kind, key) => {
      changes.push(`${kind}:${key}`);
      return publish(kind, key);
    };
  });
  after(async () => {
    await storage?.close();
    await database?.drop();
  });

  test('migrating carries existing clients’ origins and registrations forward', async () => {
    for (const key of ['https://old-spa.example', 'http://127.0.0.1:*', 'https://third.example', 'https://third-api.example']) {
      assert.equal(await storage.clients.originExists(key), true, key);
    }
    assert.equal(await storage.clients.originExists('myapp://cb'), false);
    assert.equal(await storage.clients.originExists('https://elsewhere.example'), false);
    assert.equal(await storage.clients.countRegistered(), 2);
  });

  test('writes keep the index in step and announce exactly the origin keys that changed', async () => {
    changes.length = 0;
    await storage.clients.insert({
      client: client('new', { web_origins: ['https://a.example'], callbacks: ['https://b.example/cb'] }),
      secretDigest: 'd',
    });
    assert.deepEqual(changes.filter((c) => c.startsWith('client_origin:')).sort(), [
      'client_origin:https://a.example',
      'client_origin:https://b.example',
    ]);
    assert.equal(await storage.clients.originExists('https://a.example'), true);

    changes.length = 0;
    assert.equal(
      await storage.clients.update(client('new', { web_origins: ['https://c.example'], callbacks: ['https://b.example/cb2'] })),
      true,
    );
    assert.deepEqual(changes.filter((c) => c.startsWith('client_origin:')).sort(), [
      'client_origin:https://a.example',
      'client_origin:https://c.example',
    ]);
    assert.equal(await storage.clients.originExists('https://a.example'), false);
    assert.equal(await storage.clients.originExists('https://b.example'), true);

    changes.length = 0;
    assert.equal(await storage.clients.delete('new'), true);
    assert.deepEqual(changes.filter((c) => c.startsWith('client_origin:')).sort(), [
      'client_origin:https://b.example',
      'client_origin:https://c.example',
    ]);
    assert.equal(await storage.clients.originExists('https://c.example'), false);
    assert.equal(await storage.clients.delete('new'), false);
    assert.equal(await storage.clients.update(client('new')), false);
  });

  test('registered clients are counted and capped atomically; deleting one frees its place', async () => {
    const registered = (id: string) => ({ client: client(id, { registration_source: 'dynamic_registration' }), secretDigest: 'd' });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => storage.clients.insert(registered(`reg-${i}`), { maxRegistered: 5 })),
    );
    assert.equal(results.filter(Boolean).length, 3, 'two were there already');
    assert.equal(await storage.clients.countRegistered(), 5);
    assert.equal(
      await storage.clients.insert({ client: client('admin-made'), secretDigest: 'd' }, { maxRegistered: 5 }),
      true,
      'admin-made clients are not capped',
    );
    assert.equal(await storage.clients.delete('old-native'), true);
    assert.equal(await storage.clients.countRegistered(), 4);
    assert.equal(await storage.clients.insert(registered('reg-again'), { maxRegistered: 5 }), true);
    assert.equal(await storage.clients.countRegistered(), 5);
  });

  test('a shared rate-limit window counts every hit and restarts with a later window', async () => {
    const first = '2026-11-23T12:00:00.000Z';
    const hits = await Promise.all(Array.from({ length: 10 }, () => storage.rateLimits.hit('registration', first)));
    assert.deepEqual(
      [...hits].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(await storage.rateLimits.hit('registration', '2026-11-23T12:01:00.000Z'), 1);
    assert.equal(await storage.rateLimits.hit('registration', first), 2, 'a lagging clock counts into the current window');
    assert.equal(await storage.rateLimits.hit('other', first), 1);
  });
});
