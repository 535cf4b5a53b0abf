import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Migrator, sql } from 'kysely';
import type { KyselyStorage } from '../src/storage/kysely/index.js';
import { migrationProvider } from '../src/storage/migrations/index.js';
import { backend } from './helpers/server.js';
import { testDatabase } from './helpers/storage.js';

/**
 * Signing a user out everywhere finds tokens by owner. Tokens stored before migration 0009 (opaque
 * /userinfo tokens) or before 0006 (refresh tokens) had no owner column: 0009 fills it in from the
 * JSON each row keeps, on both backends, so a password change reaches them too.
 */
test(`migration 0009 gives old opaque and refresh tokens their owner (${backend})`, async () => {
  const database = testDatabase();
  const storage = (await database.open()) as KyselyStorage;
  try {
    const schema =
      storage.dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(storage.db)).rows[0]!.s : undefined;
    const migrator = new Migrator({
      db: storage.db,
      provider: migrationProvider,
      migrationTableName: 'latchkey_migrations',
      migrationLockTableName: 'latchkey_migrations_lock',
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    const before = await migrator.migrateTo('0008-user-permissions');
    assert.equal(before.error, undefined);
    const expires = new Date(Date.now() + 3600_000).toISOString();
    const grant = { clientId: 'app1', userId: 'auth0|old', scope: ['openid'], authTime: new Date().toISOString() };
    const opaque = JSON.stringify({ clientId: 'app1', userId: 'auth0|old', scope: ['openid'], expiresAt: expires });
    await sql`insert into opaque_access_tokens (token_hash, data, expires_at) values ('opaque-old', ${opaque}, ${expires})`.execute(
      storage.db,
    );
    await sql`insert into refresh_tokens (token_hash, family_id, sid, data, created_at, expires_at, rotated_at, revoked_at)
      values ('refresh-old', 'fam1', null, ${JSON.stringify({ grant, familyExpiresAt: null })},
        ${new Date().toISOString()}, null, null, null)`.execute(storage.db);

    await storage.migrate();
    await storage.accessTokens.deleteAllOf('auth0|old');
    assert.equal(await storage.accessTokens.get('opaque-old'), undefined);
    await storage.refreshTokens.revokeAllOf('auth0|old', 'app1', new Date().toISOString());
    assert.ok((await storage.refreshTokens.get('refresh-old'))?.revokedAt);
  } finally {
    await storage.close();
    await database.drop();
  }
});
