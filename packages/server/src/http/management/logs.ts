import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { invalidField } from '../../domain/errors.js';
import { getLog, listLogs, listUserLogs } from '../../domain/logs.js';
import type { PageRequest } from '../../domain/types.js';
import { seqOf } from '../../storage/kysely/log-events.js';
import { FieldsQuery, listBody, type ManagementApp, OffsetPagingQuery, offsetPageRequest, project } from './plugin.js';
import { Id, IdParam, Strict } from './schemas.js';

const Search = {
  q: Type.Optional(Type.String({ maxLength: 2048 })),
  // The auth0 v7 SDK's `logs.list` sends the query as `search` (Auth0 reads either).
  search: Type.Optional(Type.String({ maxLength: 2048 })),
  sort: Type.Optional(Type.String({ maxLength: 64 })),
};

/** `from` is a log_id (Auth0's checkpoint): the events after it, `take` of them (at most 100). */
function logPageRequest(query: { from?: string; take?: number; page?: number; per_page?: number; include_totals?: boolean }): PageRequest {
  if (query.from !== undefined || query.take !== undefined) {
    if (query.from !== undefined && seqOf(query.from) === undefined) {
      throw invalidField('from', "'from' is not a log_id", 'invalid_query_string');
    }
    return { kind: 'checkpoint', from: query.from, take: query.take ?? 50 };
  }
  return offsetPageRequest(query);
}

/** Auth0's tenant logs: `GET /api/v2/logs`, `/logs/{id}`, `/users/{id}/logs` (scopes read:logs, read:logs_users). */
export async function logRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;
  const Query = Strict({
    ...OffsetPagingQuery(),
    from: Type.Optional(Id),
    take: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    ...FieldsQuery,
    ...Search,
  });

  app.get('/logs', { config: { scope: 'read:logs' }, schema: { querystring: Query } }, async (request) => {
    const { q, search, sort } = request.query;
    const pageReq = logPageRequest(request.query);
    const page = await listLogs(storage, { q: q ?? search, sort }, pageReq);
    // From a checkpoint Auth0 answers a bare array; the caller goes on from the last log_id.
    if (pageReq.kind === 'checkpoint') return page.items.map((item) => project(item, request.query));
    return listBody('logs', page, pageReq, request.query);
  });

  app.get('/logs/:id', { config: { scope: 'read:logs' }, schema: { params: IdParam } }, async (request) =>
    getLog(storage, request.params.id),
  );

  app.get(
    '/users/:id/logs',
    {
      config: { scope: ['read:logs', 'read:logs_users'] },
      schema: { params: IdParam, querystring: Strict({ ...OffsetPagingQuery(), sort: Search.sort }) },
    },
    async (request) => {
      const pageReq = offsetPageRequest(request.query);
      return listBody('logs', await listUserLogs(storage, request.params.id, request.query.sort, pageReq), pageReq, {});
    },
  );
}
