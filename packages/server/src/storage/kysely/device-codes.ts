import type { Kysely } from 'kysely';
import type { DeviceCodeRecord } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { DeviceCodeRepository } from '../types.js';

export class KyselyDeviceCodes implements DeviceCodeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(deviceCodeHash: string, record: DeviceCodeRecord): Promise<boolean> {
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
    return {
      ...(JSON.parse(row.data) as DeviceCodeRecord),
      status: row.status as DeviceCodeRecord['status'],
      lastPolledAt: row.last_polled_at,
    };
  }

  async get(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined> {
    const row = await this.db.selectFrom('device_codes').selectAll().where('device_code_hash', '=', deviceCodeHash).executeTakeFirst();
    return row && KyselyDeviceCodes.deviceRecord(row);
  }

  async findByUserCode(userCode: string): Promise<{ deviceCodeHash: string; record: DeviceCodeRecord } | undefined> {
    const row = await this.db.selectFrom('device_codes').selectAll().where('user_code', '=', userCode).executeTakeFirst();
    return row && { deviceCodeHash: row.device_code_hash, record: KyselyDeviceCodes.deviceRecord(row) };
  }

  async decide(deviceCodeHash: string, decision: 'approved' | 'denied', approval?: DeviceCodeRecord['approval']): Promise<boolean> {
    const current = await this.get(deviceCodeHash);
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

  async recordPoll(deviceCodeHash: string, now: string): Promise<string | null> {
    // Compare-and-set, retried: parallel polls must each see the one before, or they all dodge slow_down.
    for (;;) {
      const row = await this.db
        .selectFrom('device_codes')
        .select('last_polled_at')
        .where('device_code_hash', '=', deviceCodeHash)
        .executeTakeFirst();
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

  async consume(deviceCodeHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: 'consumed' })
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
