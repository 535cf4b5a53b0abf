import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { RateLimitRepository } from '../types.js';

export class KyselyRateLimits implements RateLimitRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async hit(key: string, windowStartedAt: string): Promise<number> {
    // One statement, so hits from every node and request count; a node whose clock lags never moves the window back.
    const row = await this.db
      .insertInto('rate_limit_windows')
      .values({ key, window_started_at: windowStartedAt, hits: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          hits: sql<number>`case when rate_limit_windows.window_started_at < ${windowStartedAt} then 1
            else rate_limit_windows.hits + 1 end`,
          window_started_at: sql<string>`case when rate_limit_windows.window_started_at < ${windowStartedAt} then ${windowStartedAt}
            else rate_limit_windows.window_started_at end`,
        }),
      )
      .returning('hits')
      .executeTakeFirstOrThrow();
    return Number(row.hits);
  }
}
