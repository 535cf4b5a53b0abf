import { type LogFilter, parseLogQuery } from '../events/log-query.js';
import type { LogEvent } from '../events/types.js';
import type { Storage } from '../storage/types.js';
import { invalid, notFound } from './errors.js';
import type { Page, PageRequest } from './types.js';

/** As in Auth0, a search pages through its first 1,000 results; checkpoint paging reads everything. */
export const LOG_SEARCH_WINDOW = 1000;

/** `date:1` (oldest first) or `date:-1` (newest first, the default, as Auth0's). */
function descending(sort: string | undefined): boolean {
  if (sort === undefined || sort === '') return true;
  const match = /^date:(1|-1)$/.exec(sort);
  if (!match) throw invalid(`Invalid sort: ${sort} (use date:1 or date:-1)`, 'invalid_query_string');
  return match[1] === '-1';
}

async function search(storage: Pick<Storage, 'logEvents'>, filter: LogFilter, sort: string | undefined, page: PageRequest) {
  if (page.kind !== 'offset') throw new Error('search pages by offset');
  const limit = Math.max(0, Math.min(page.limit, LOG_SEARCH_WINDOW - page.offset));
  if (limit === 0) return { items: [], ...(page.includeTotal ? { total: 0 } : {}) };
  const found = await storage.logEvents.search(filter, {
    descending: descending(sort),
    offset: page.offset,
    limit,
    includeTotal: page.includeTotal,
  });
  return found.total === undefined ? found : { ...found, total: Math.min(found.total, LOG_SEARCH_WINDOW) };
}

/**
 * `GET /api/v2/logs`: a search (`q`, `sort`, page/per_page) or, with `from`/`take`, every event after
 * a checkpoint in the order stored, q and sort ignored (as Auth0 ignores them there).
 */
export async function listLogs(
  storage: Pick<Storage, 'logEvents'>,
  query: { q?: string | undefined; sort?: string | undefined },
  page: PageRequest,
): Promise<Page<LogEvent>> {
  if (page.kind === 'checkpoint') return { items: await storage.logEvents.after(page.from, page.take) };
  return search(storage, parseLogQuery(query.q), query.sort, page);
}

export async function getLog(storage: Pick<Storage, 'logEvents'>, logId: string): Promise<LogEvent> {
  const event = await storage.logEvents.get(logId);
  if (!event) throw notFound('log not found', 'inexistent_log');
  return event;
}

/** `GET /api/v2/users/{id}/logs`: the user's events, newest first unless sorted otherwise. */
export function listUserLogs(
  storage: Pick<Storage, 'logEvents'>,
  userId: string,
  sort: string | undefined,
  page: PageRequest,
): Promise<Page<LogEvent>> {
  return search(storage, { equals: { user_id: [userId] } }, sort, page);
}
