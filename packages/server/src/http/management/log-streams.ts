import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import {
  CONTENT_FORMATS,
  createLogStream,
  deleteLogStream,
  FILTER_CATEGORIES,
  getLogStream,
  LOG_STREAM_TYPES,
  listLogStreams,
  presentLogStream,
  updateLogStream,
} from '../../domain/log-streams.js';
import type { ManagementApp } from './plugin.js';
import { IdParam, Name, Strict, StringEnum } from './schemas.js';

// Sent as header values: no control characters (a line break would end the header, fetch refuses them).
const HEADER_VALUE = '^[^\\x00-\\x1f\\x7f]*$';
const Sink = Strict({
  httpEndpoint: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  httpAuthorization: Type.Optional(Type.String({ maxLength: 4096, pattern: HEADER_VALUE })),
  httpContentFormat: Type.Optional(StringEnum(CONTENT_FORMATS)),
  httpContentType: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: HEADER_VALUE })),
  httpCustomHeaders: Type.Optional(
    Type.Array(
      Strict({
        header: Type.String({ minLength: 1, maxLength: 255, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }),
        value: Type.String({ maxLength: 4096, pattern: HEADER_VALUE }),
      }),
      { maxItems: 20 },
    ),
  ),
});
const Filters = Type.Array(Strict({ type: Type.Literal('category'), name: StringEnum(FILTER_CATEGORIES) }), { maxItems: 50 });

/**
 * Auth0's /api/v2/log-streams (scopes read:/create:/update:/delete:log_streams), with its status
 * codes: create 200, delete 204. Types: Auth0's `http` webhook, and latchkey's `latchkey-stdout`.
 * Delivery is events/log-stream-delivery.ts; the receiver's authorization is never answered.
 */
export async function logStreamRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;

  app.get('/log-streams', { config: { scope: 'read:log_streams' } }, async () => (await listLogStreams(storage)).map(presentLogStream));

  app.post(
    '/log-streams',
    {
      config: { scope: 'create:log_streams' },
      schema: {
        body: Strict({
          name: Type.Optional(Name),
          type: StringEnum(LOG_STREAM_TYPES),
          sink: Type.Optional(Sink),
          filters: Type.Optional(Filters),
          // Auth0's priority streams are a plan feature: accepted as false only.
          isPriority: Type.Optional(Type.Literal(false)),
        }),
      },
    },
    async (request) => {
      const stream = await createLogStream(storage, request.body, ctx.secrets, new Date(ctx.now()));
      ctx.logStreams.wake();
      return presentLogStream(stream);
    },
  );

  app.get('/log-streams/:id', { config: { scope: 'read:log_streams' }, schema: { params: IdParam } }, async (request) =>
    presentLogStream(await getLogStream(storage, request.params.id)),
  );

  app.patch(
    '/log-streams/:id',
    {
      config: { scope: 'update:log_streams' },
      schema: {
        params: IdParam,
        body: Strict({
          name: Type.Optional(Name),
          status: Type.Optional(StringEnum(['active', 'paused', 'suspended'] as const)),
          sink: Type.Optional(Sink),
          filters: Type.Optional(Filters),
          isPriority: Type.Optional(Type.Literal(false)),
        }),
      },
    },
    async (request) => {
      const stream = await updateLogStream(storage, request.params.id, request.body, ctx.secrets);
      if (stream.status === 'active') ctx.logStreams.wake();
      return presentLogStream(stream);
    },
  );

  app.delete('/log-streams/:id', { config: { scope: 'delete:log_streams' }, schema: { params: IdParam } }, async (request, reply) => {
    await deleteLogStream(storage, request.params.id);
    return reply.status(204).send();
  });
}
