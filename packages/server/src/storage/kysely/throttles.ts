import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { ThrottleRepository } from '../types.js';

export class KyselyThrottles implements ThrottleRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async recordFailure(key: string, now: string, windowStartedBefore: string) {
    // One statement, so concurrent failures from many requests all count.
    const row = await this.db
      .insertInto('login_throttle')
      .values({ key, failures: 1, window_started_at: now, locked_until: null })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          // While locked nothing is counted, so retries cannot stretch the lock into a new window.
          failures: sql<number>`case when login_throttle.locked_until > ${now} then login_throttle.failures
            when login_throttle.window_started_at < ${windowStartedBefore} then 1
            else login_throttle.failures + 1 end`,
          window_started_at: sql<string>`case when login_throttle.locked_until > ${now} then login_throttle.window_started_at
            when login_throttle.window_started_at < ${windowStartedBefore} then ${now}
            else login_throttle.window_started_at end`,
        }),
      )
      .returning(['failures', 'window_started_at', 'locked_until'])
      .executeTakeFirstOrThrow();
    return { failures: Number(row.failures), windowStartedAt: row.window_started_at, lockedUntil: row.locked_until };
  }

  async get(key: string) {
    const row = await this.db.selectFrom('login_throttle').selectAll().where('key', '=', key).executeTakeFirst();
    return row && { failures: Number(row.failures), windowStartedAt: row.window_started_at, lockedUntil: row.locked_until };
  }

  async lock(key: string, until: string): Promise<void> {
    await this.db.updateTable('login_throttle').set({ locked_until: until }).where('key', '=', key).execute();
  }

  async lockIfOpen(key: string, until: string, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('login_throttle')
      .set({ locked_until: until })
      .where('key', '=', key)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }

  async forgiveFailure(key: string): Promise<void> {
    await this.db
      .updateTable('login_throttle')
      .set({ failures: sql<number>`failures - 1` })
      .where('key', '=', key)
      .where('failures', '>', 0)
      .execute();
  }
}
