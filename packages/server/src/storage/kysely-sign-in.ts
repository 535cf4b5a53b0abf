import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { ClientRegistrationStore, DeviceCodeStore, SignInStore } from './types.js';
import type { AuthorizationCodeData, DeviceCodeRecord, AuthorizationCodeRecord, ConsentRecord, LoginTransaction, OpaqueAccessTokenData, RefreshTokenRecord, Session } from '../domain/types.js';

/** Deterministic, so re-consenting keeps the id; hashed, so it does not spell out the user. */
const consentId = (userId: string, clientId: string, audience: string) =>
  `cgt_${createHash('sha256').update(`${userId}\n${clientId}\n${audience}`).digest('base64url').slice(0, 22)}`;

function consentFromRow(row: { id: string | null; user_id: string; client_id: string; audience: string; scope: string; updated_at: string }): ConsentRecord {
  return {
    id: row.id ?? consentId(row.user_id, row.client_id, row.audience),
    userId: row.user_id,
    clientId: row.client_id,
    audience: row.audience,
    scope: JSON.parse(row.scope) as string[],
    updatedAt: row.updated_at,
  };
}

/** Refresh tokens and sessions that ended this long ago are deleted by the sweep. */
const KEEP_ENDED_MS = 7 * 24 * 3600 * 1000;

/**
 * The sign-in half of the storage: short-lived, write-heavy rows keyed by digests. Every
 * check-then-write that an attacker could race (code use, token rotation) is one conditional UPDATE.
 */
export class KyselySignInStorage implements SignInStore, DeviceCodeStore, ClientRegistrationStore {
  constructor(readonly db: Kysely<Database>) {}

  async putLoginTransaction(tx: LoginTransaction): Promise<void> {
    const { source, ...rest } = tx;
    const data = JSON.stringify(rest);
    await this.db
      .insertInto('login_transactions')
      .values({ id: tx.id, data, expires_at: tx.expiresAt, source: source ?? null })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, expires_at: tx.expiresAt }))
      .execute();
  }

  async trimLoginTransactions(source: string, keep: number, newestId: string): Promise<void> {
    // The newest is kept whatever its expiry: ties (one clock tick) must not evict the request
    // being answered. The index on (source, expires_at) bounds the scan to `keep` entries.
    const boundary = await this.db
      .selectFrom('login_transactions')
      .select(['expires_at', 'id'])
      .where('source', '=', source)
      .where('id', '!=', newestId)
      .orderBy('expires_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .offset(Math.max(0, keep - 1))
      .executeTakeFirst();
    if (!boundary) return;
    await this.db
      .deleteFrom('login_transactions')
      .where('source', '=', source)
      .where('id', '!=', newestId)
      .where((eb) => eb.or([eb('expires_at', '<', boundary.expires_at), eb.and([eb('expires_at', '=', boundary.expires_at), eb('id', '<=', boundary.id)])]))
      .execute();
  }

  async getLoginTransaction(id: string): Promise<LoginTransaction | undefined> {
    const row = await this.db.selectFrom('login_transactions').select(['data', 'source']).where('id', '=', id).executeTakeFirst();
    return row && { ...(JSON.parse(row.data) as LoginTransaction), ...(row.source !== null ? { source: row.source } : {}) };
  }

  async deleteLoginTransaction(id: string): Promise<void> {
    await this.db.deleteFrom('login_transactions').where('id', '=', id).execute();
  }

  async createSession(idHash: string, session: Session): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id_hash: idHash,
        sid: session.sid,
        user_id: session.userId,
        auth_time: session.authTime,
        last_seen_at: session.lastSeenAt,
        expires_at: session.expiresAt,
        ended_at: session.endedAt,
        connection: session.connection ?? null,
        upstream_id_token: session.upstreamIdToken ?? null,
      })
      .execute();
  }

  async getSession(idHash: string): Promise<Session | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return (
      row && {
        sid: row.sid,
        userId: row.user_id,
        authTime: row.auth_time,
        lastSeenAt: row.last_seen_at,
        expiresAt: row.expires_at,
        endedAt: row.ended_at,
        ...(row.connection !== null ? { connection: row.connection } : {}),
        ...(row.upstream_id_token !== null ? { upstreamIdToken: row.upstream_id_token } : {}),
      }
    );
  }

  async touchSession(idHash: string, lastSeenAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: lastSeenAt }).where('id_hash', '=', idHash).execute();
  }

  async endSessionsOf(userId: string, endedAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ ended_at: endedAt }).where('user_id', '=', userId).where('ended_at', 'is', null).execute();
  }

  async endSession(idHash: string, endedAt: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ ended_at: endedAt })
      .where('id_hash', '=', idHash)
      .where('ended_at', 'is', null)
      .execute();
  }

  async insertAuthorizationCode(codeHash: string, data: AuthorizationCodeData, expiresAt: string): Promise<void> {
    await this.db
      .insertInto('authorization_codes')
      .values({ code_hash: codeHash, data: JSON.stringify(data), expires_at: expiresAt, consumed_at: null, family_id: null })
      .execute();
  }

  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined> {
    const row = await this.db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    return (
      row && {
        data: JSON.parse(row.data) as AuthorizationCodeData,
        expiresAt: row.expires_at,
        consumedAt: row.consumed_at,
        familyId: row.family_id,
        accessTokenHash: row.access_token_hash,
        replayedAt: row.replayed_at,
      }
    );
  }

  async claimAuthorizationCode(codeHash: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('authorization_codes')
      .set({ consumed_at: now })
      .where('code_hash', '=', codeHash)
      .where('consumed_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async markAuthorizationCodeReplayed(codeHash: string, now: string): Promise<void> {
    await this.db.updateTable('authorization_codes').set({ replayed_at: now }).where('code_hash', '=', codeHash).where('replayed_at', 'is', null).execute();
  }

  async recordCodeTokens(codeHash: string, issued: { familyId?: string; accessTokenHash?: string }): Promise<void> {
    await this.db
      .updateTable('authorization_codes')
      .set({ family_id: issued.familyId ?? null, access_token_hash: issued.accessTokenHash ?? null })
      .where('code_hash', '=', codeHash)
      .execute();
  }

  async insertRefreshToken(tokenHash: string, record: RefreshTokenRecord): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({
        token_hash: tokenHash,
        family_id: record.familyId,
        sid: record.grant.sid ?? null,
        user_id: record.grant.userId,
        client_id: record.grant.clientId,
        data: JSON.stringify({ grant: record.grant, familyExpiresAt: record.familyExpiresAt }),
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        rotated_at: record.rotatedAt,
        revoked_at: record.revokedAt,
      })
      .execute();
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    // One statement, so the token and its family's revocation are read from one snapshot.
    const row = await this.db
      .selectFrom('refresh_tokens')
      .leftJoin('revoked_refresh_families', 'revoked_refresh_families.family_id', 'refresh_tokens.family_id')
      .selectAll('refresh_tokens')
      .select('revoked_refresh_families.revoked_at as family_revoked_at')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const data = JSON.parse(row.data) as Pick<RefreshTokenRecord, 'grant' | 'familyExpiresAt'>;
    return {
      familyId: row.family_id,
      grant: data.grant,
      familyExpiresAt: data.familyExpiresAt,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      rotatedAt: row.rotated_at,
      revokedAt: row.revoked_at ?? row.family_revoked_at,
    };
  }

  async markRefreshTokenRotated(tokenHash: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('refresh_tokens')
      .set({ rotated_at: now })
      .where('token_hash', '=', tokenHash)
      .where('rotated_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async extendRefreshToken(tokenHash: string, expiresAt: string | null): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ expires_at: expiresAt }).where('token_hash', '=', tokenHash).execute();
  }

  /**
   * The family row first: from its commit on, every use of any token of the family is refused, one
   * inserted after this call included. Then the token rows, so that the sweep can delete them.
   */
  async revokeRefreshTokenFamily(familyId: string, now: string): Promise<void> {
    await this.db
      .insertInto('revoked_refresh_families')
      .values({ family_id: familyId, revoked_at: now })
      .onConflict((oc) => oc.column('family_id').doNothing())
      .execute();
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeRefreshTokensOf(userId: string, clientId: string | undefined, now: string): Promise<void> {
    // Whole families, as above: a rotation racing this revocation cannot leave a live successor.
    let families = this.db
      .selectFrom('refresh_tokens')
      .select(['family_id', sql.lit(now).as('revoked_at')])
      .distinct()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null);
    if (clientId !== undefined) families = families.where('client_id', '=', clientId);
    await this.db
      .insertInto('revoked_refresh_families')
      .columns(['family_id', 'revoked_at'])
      .expression(families)
      .onConflict((oc) => oc.column('family_id').doNothing())
      .execute();
    let query = this.db.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (clientId !== undefined) query = query.where('client_id', '=', clientId);
    await query.execute();
  }

  async insertOpaqueAccessToken(tokenHash: string, data: OpaqueAccessTokenData): Promise<void> {
    await this.db
      .insertInto('opaque_access_tokens')
      .values({ token_hash: tokenHash, user_id: data.userId, data: JSON.stringify(data), expires_at: data.expiresAt })
      .execute();
  }

  async getOpaqueAccessToken(tokenHash: string): Promise<OpaqueAccessTokenData | undefined> {
    const row = await this.db
      .selectFrom('opaque_access_tokens')
      .select('data')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row && (JSON.parse(row.data) as OpaqueAccessTokenData);
  }
  async deleteOpaqueAccessTokensOf(userId: string): Promise<void> {
    await this.db.deleteFrom('opaque_access_tokens').where('user_id', '=', userId).execute();
  }

  async deleteOpaqueAccessToken(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('opaque_access_tokens').where('token_hash', '=', tokenHash).execute();
  }


  async getConsent(userId: string, clientId: string, audience: string): Promise<ConsentRecord | undefined> {
    const row = await this.db
      .selectFrom('consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .where('audience', '=', audience)
      .executeTakeFirst();
    return row && consentFromRow(row);
  }

  async putConsent(consent: Omit<ConsentRecord, 'id'>): Promise<void> {
    const scope = JSON.stringify(consent.scope);
    const id = consentId(consent.userId, consent.clientId, consent.audience);
    await this.db
      .insertInto('consents')
      .values({ id, user_id: consent.userId, client_id: consent.clientId, audience: consent.audience, scope, updated_at: consent.updatedAt })
      .onConflict((oc) => oc.columns(['user_id', 'client_id', 'audience']).doUpdateSet({ id, scope, updated_at: consent.updatedAt }))
      .execute();
  }

  async listConsents(filter: { userId?: string; clientId?: string; audience?: string }): Promise<ConsentRecord[]> {
    let query = this.db.selectFrom('consents').selectAll();
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
    if (filter.audience !== undefined) query = query.where('audience', '=', filter.audience);
    const rows = await query.orderBy('updated_at').orderBy('client_id').limit(1000).execute();
    return rows.map(consentFromRow);
  }

  async deleteConsents(userId: string, clientId?: string): Promise<void> {
    let query = this.db.deleteFrom('consents').where('user_id', '=', userId);
    if (clientId !== undefined) query = query.where('client_id', '=', clientId);
    await query.execute();
  }

  async deleteConsent(id: string): Promise<ConsentRecord | undefined> {
    const row = await this.db.selectFrom('consents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const result = await this.db.deleteFrom('consents').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n ? consentFromRow(row) : undefined;
  }

  async recordLoginFailure(key: string, now: string, windowStartedBefore: string) {
    // One statement, so concurrent failures from many requests all count.
    const row = await this.db
      .insertInto('login_throttle')
      .values({ key, failures: 1, window_started_at: now, locked_until: null })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          // While locked nothing is counted, so retries cannot stretch the lock into a new window.
          failures: sql<number>`case when login_throttle.locked_until > ${now} then login_throttle.failures when login_throttle.window_started_at < ${windowStartedBefore} then 1 else login_throttle.failures + 1 end`,
          window_started_at: sql<string>`case when login_throttle.locked_until > ${now} then login_throttle.window_started_at when login_throttle.window_started_at < ${windowStartedBefore} then ${now} else login_throttle.window_started_at end`,
        }),
      )
      .returning(['failures', 'window_started_at', 'locked_until'])
      .executeTakeFirstOrThrow();
    return { failures: Number(row.failures), windowStartedAt: row.window_started_at, lockedUntil: row.locked_until };
  }

  async getLoginThrottle(key: string) {
    const row = await this.db.selectFrom('login_throttle').selectAll().where('key', '=', key).executeTakeFirst();
    return row && { failures: Number(row.failures), windowStartedAt: row.window_started_at, lockedUntil: row.locked_until };
  }

  async lockLogin(key: string, until: string): Promise<void> {
    await this.db.updateTable('login_throttle').set({ locked_until: until }).where('key', '=', key).execute();
  }

  async clearLoginThrottle(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }

  async forgiveLoginFailure(key: string): Promise<void> {
    await this.db
      .updateTable('login_throttle')
      .set({ failures: sql<number>`failures - 1` })
      .where('key', '=', key)
      .where('failures', '>', 0)
      .execute();
  }

  async insertDeviceCode(deviceCodeHash: string, record: DeviceCodeRecord): Promise<boolean> {
    const result = await this.db
      .insertInto('device_codes')
      .values({
        device_code_hash: deviceCodeHash,
        user_code: record.userCode,
        status: record.status,
        data: JSON.stringify(record),
        expires_at: record.expiresAt,
        last_polled_at: null,
      })
      .onConflict((oc) => oc.column('user_code').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  private static deviceRecord(row: { status: string; data: string; last_polled_at: string | null }): DeviceCodeRecord {
    return { ...(JSON.parse(row.data) as DeviceCodeRecord), status: row.status as DeviceCodeRecord['status'], lastPolledAt: row.last_polled_at };
  }

  async getDeviceCode(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined> {
    const row = await this.db.selectFrom('device_codes').selectAll().where('device_code_hash', '=', deviceCodeHash).executeTakeFirst();
    return row && KyselySignInStorage.deviceRecord(row);
  }

  async findDeviceCodeByUserCode(userCode: string): Promise<{ deviceCodeHash: string; record: DeviceCodeRecord } | undefined> {
    const row = await this.db.selectFrom('device_codes').selectAll().where('user_code', '=', userCode).executeTakeFirst();
    return row && { deviceCodeHash: row.device_code_hash, record: KyselySignInStorage.deviceRecord(row) };
  }

  async decideDeviceCode(deviceCodeHash: string, decision: 'approved' | 'denied', approval?: DeviceCodeRecord['approval']): Promise<boolean> {
    const current = await this.getDeviceCode(deviceCodeHash);
    if (!current) return false;
    const data = JSON.stringify({ ...current, status: decision, ...(approval ? { approval } : {}) });
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: decision, data })
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async recordDevicePoll(deviceCodeHash: string, now: string): Promise<string | null> {
    // Compare-and-set, retried: parallel polls must each see the one before, or they all dodge slow_down.
    for (;;) {
      const row = await this.db.selectFrom('device_codes').select('last_polled_at').where('device_code_hash', '=', deviceCodeHash).executeTakeFirst();
      if (!row) return null;
      const previous = row.last_polled_at;
      const result = await this.db
        .updateTable('device_codes')
        .set({ last_polled_at: now })
        .where('device_code_hash', '=', deviceCodeHash)
        .where('last_polled_at', previous === null ? 'is' : '=', previous)
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return previous;
    }
  }

  async consumeDeviceCode(deviceCodeHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: 'consumed' })
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async putRegistrationTokenDigest(clientId: string, digest: string): Promise<void> {
    await this.db
      .insertInto('client_registrations')
      .values({ client_id: clientId, token_digest: digest })
      .onConflict((oc) => oc.column('client_id').doUpdateSet({ token_digest: digest }))
      .execute();
  }

  async getRegistrationTokenDigest(clientId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('client_registrations').select('token_digest').where('client_id', '=', clientId).executeTakeFirst();
    return row?.token_digest;
  }

  async deleteRegistrationToken(clientId: string): Promise<void> {
    await this.db.deleteFrom('client_registrations').where('client_id', '=', clientId).execute();
  }

  async sweepExpired(now: string): Promise<void> {
    const longAgo = new Date(Date.parse(now) - KEEP_ENDED_MS).toISOString();
    await this.db.deleteFrom('login_transactions').where('expires_at', '<', now).execute();
    await this.db.deleteFrom('device_codes').where('expires_at', '<', now).execute();
    // Used codes are kept past expiry for a while, so a late replay still revokes what they issued.
    await this.db.deleteFrom('authorization_codes').where('expires_at', '<', longAgo).execute();
    await this.db.deleteFrom('opaque_access_tokens').where('expires_at', '<', now).execute();
    await this.db
      .deleteFrom('login_throttle')
      .where('window_started_at', '<', longAgo)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .execute();
    await this.db.deleteFrom('sessions').where('expires_at', '<', longAgo).execute();
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', longAgo).execute();
    await this.db.deleteFrom('refresh_tokens').where('revoked_at', '<', longAgo).execute();
    await this.db.deleteFrom('rate_limit_windows').where('window_started_at', '<', longAgo).execute();
    // A family's mark goes only with its last token: a late successor left unmarked must stay refused.
    await this.db
      .deleteFrom('revoked_refresh_families')
      .where('revoked_at', '<', longAgo)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('refresh_tokens').select('token_hash').whereRef('refresh_tokens.family_id', '=', 'revoked_refresh_families.family_id'))),
      )
      .execute();
  }
}
