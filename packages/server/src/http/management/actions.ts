import { Type } from '@sinclair/typebox';
import { checkActionCode, testAction } from '../../actions/runtime.js';
import type { ServerContext } from '../../context.js';
import {
  type ActionsDeps,
  createAction,
  deleteAction,
  deployAction,
  deployVersion,
  draftForTest,
  getAction,
  getVersion,
  listActions,
  listBindings,
  listTriggers,
  listVersions,
  TRIGGER_IDS,
  updateAction,
  updateBindings,
} from '../../domain/actions.js';
import { invalidField } from '../../domain/errors.js';
import type { Page, PageRequest } from '../../domain/types.js';
import type { ManagementApp } from './plugin.js';
import { Id, IdParam, Strict, StringEnum } from './schemas.js';

const Name = Type.String({ minLength: 1, maxLength: 255 });
// What the SDK's ActionTrigger may carry besides id and version is read-only: accepted and ignored.
const SupportedTriggers = Type.Array(
  Strict({
    id: Type.String({ minLength: 1, maxLength: 64 }),
    version: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    status: Type.Optional(Type.String({ maxLength: 64 })),
    runtimes: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 20 })),
    default_runtime: Type.Optional(Type.String({ maxLength: 64 })),
    compatible_triggers: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 20 })),
    binding_policy: Type.Optional(Type.String({ maxLength: 64 })),
    // auth0-deploy-cli's files may carry it.
    url: Type.Optional(Type.String({ maxLength: 2048 })),
  }),
  { minItems: 1, maxItems: 10 },
);
const Dependencies = Type.Array(
  Strict({
    name: Type.String({ minLength: 1, maxLength: 214 }),
    version: Type.String({ maxLength: 256 }),
    registry_url: Type.Optional(Type.String({ maxLength: 2048 })),
  }),
  { maxItems: 100 },
);
const Secrets = Type.Array(
  Strict({
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }),
    // Bytes are checked in the domain (configurable limit); this bounds the characters.
    value: Type.Optional(Type.String({ maxLength: 65_536 })),
    updated_at: Type.Optional(Type.String({ maxLength: 64 })),
  }),
  { maxItems: 100 },
);
// Characters; the byte limit (Auth0's 100 KB) is checked in the domain.
const Code = Type.String({ maxLength: 200_000 });
const Runtime = Type.String({ minLength: 1, maxLength: 32 });
/** Auth0's shared action modules: not offered, so only an empty list is accepted (export tools send one). */
const Modules = Type.Array(Type.Unknown(), { maxItems: 0 });

const CreateBody = Strict({
  name: Name,
  supported_triggers: SupportedTriggers,
  code: Type.Optional(Code),
  dependencies: Type.Optional(Dependencies),
  runtime: Type.Optional(Runtime),
  secrets: Type.Optional(Secrets),
  modules: Type.Optional(Modules),
  deploy: Type.Optional(Type.Boolean()),
});

const UpdateBody = Strict({
  name: Type.Optional(Name),
  supported_triggers: Type.Optional(SupportedTriggers),
  code: Type.Optional(Code),
  dependencies: Type.Optional(Dependencies),
  runtime: Type.Optional(Runtime),
  secrets: Type.Optional(Secrets),
  modules: Type.Optional(Modules),
});

/** Auth0 pages these lists by page/per_page only and always answers `{total, page, per_page, <key>}`. */
const ActionPaging = {
  page: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};

function offset(query: { page?: number; per_page?: number }): PageRequest & { kind: 'offset' } {
  const limit = query.per_page ?? 20;
  return { kind: 'offset', offset: (query.page ?? 0) * limit, limit, includeTotal: true };
}

function pagedBody<T>(key: string, page: Page<T>, request: { offset: number; limit: number }) {
  return { total: page.total ?? page.items.length, page: request.offset / request.limit, per_page: request.limit, [key]: page.items };
}

const TriggerParam = Strict({ triggerId: Type.String({ minLength: 1, maxLength: 64 }) });
const VersionParams = Strict({ actionId: Id, id: Id });

/**
 * Auth0's /api/v2/actions: drafts, deploys (immutable versions), rollbacks and the triggers' ordered
 * bindings. Secret values are write-only. What runs at sign-in is the runtime's (actions/runtime.ts).
 */
export async function actionRoutes(app: ManagementApp, ctx: ServerContext, extra: Pick<ActionsDeps, 'checkCode' | 'limits'> = {}) {
  // The runtime's own checks (features it cannot run, such as api.redirect) come after the syntax check.
  const deps: ActionsDeps = {
    storage: ctx.storage,
    secrets: ctx.secrets,
    checkCode: (code) => checkActionCode(code),
    ...extra,
    limits: { maxActions: ctx.config.actionsMax, ...extra.limits },
  };
  const now = () => new Date(ctx.now());

  app.get(
    '/actions/actions',
    {
      config: { scope: 'read:actions' },
      schema: {
        querystring: Strict({
          ...ActionPaging,
          triggerId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          actionName: Type.Optional(Name),
          deployed: Type.Optional(Type.Boolean()),
          installed: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request) => {
      const { triggerId, actionName, deployed, installed } = request.query;
      if (triggerId !== undefined && !(TRIGGER_IDS as readonly string[]).includes(triggerId)) {
        throw invalidField('triggerId', `Trigger '${triggerId}' is not supported.`, 'invalid_query_string');
      }
      const pageReq = offset(request.query);
      const filter = {
        ...(triggerId !== undefined ? { triggerId: triggerId as (typeof TRIGGER_IDS)[number] } : {}),
        ...(actionName !== undefined ? { name: actionName } : {}),
        ...(deployed !== undefined ? { deployed } : {}),
        ...(installed !== undefined ? { installed } : {}),
      };
      return pagedBody('actions', await listActions(deps, filter, pageReq), pageReq);
    },
  );

  app.post('/actions/actions', { config: { scope: 'create:actions' }, schema: { body: CreateBody } }, async (request, reply) => {
    const { modules: _modules, ...input } = request.body;
    return reply.status(201).send(await createAction(deps, input, now()));
  });

  app.get('/actions/actions/:id', { config: { scope: 'read:actions' }, schema: { params: IdParam } }, async (request) =>
    getAction(deps, request.params.id),
  );

  app.patch(
    '/actions/actions/:id',
    { config: { scope: 'update:actions' }, schema: { params: IdParam, body: UpdateBody } },
    async (request) => {
      const { modules: _modules, ...patch } = request.body;
      return updateAction(deps, request.params.id, patch, now());
    },
  );

  app.delete(
    '/actions/actions/:id',
    { config: { scope: 'delete:actions' }, schema: { params: IdParam, querystring: Strict({ force: Type.Optional(Type.Boolean()) }) } },
    async (request, reply) => {
      await deleteAction(deps, request.params.id, request.query.force === true);
      return reply.status(204).send();
    },
  );

  app.post('/actions/actions/:id/deploy', { config: { scope: 'create:actions' }, schema: { params: IdParam } }, async (request, reply) =>
    reply.status(202).send(await deployAction(deps, request.params.id, now())),
  );

  // Runs the draft once in the sandbox with the event given, as Auth0's test does; nothing is stored.
  app.post(
    '/actions/actions/:id/test',
    {
      config: { scope: 'create:actions' },
      schema: { params: IdParam, body: Strict({ payload: Type.Record(Type.String({ maxLength: 255 }), Type.Unknown()) }) },
    },
    async (request) => {
      const draft = await draftForTest(deps, request.params.id);
      // Sandbox limits: the profile scripts' defaults, which the runtime also applies to sign-ins.
      const { payload, logs } = await testAction(ctx.actions, draft.trigger, draft.code, draft.secrets, request.body.payload);
      // `logs` (the Action's console output) is latchkey's addition to Auth0's `{payload}`.
      return { payload, ...(logs && logs.length > 0 ? { logs } : {}) };
    },
  );

  app.get(
    '/actions/actions/:actionId/versions',
    { config: { scope: 'read:actions' }, schema: { params: Strict({ actionId: Id }), querystring: Strict(ActionPaging) } },
    async (request) => {
      const pageReq = offset(request.query);
      return pagedBody('versions', await listVersions(deps, request.params.actionId, pageReq), pageReq);
    },
  );

  app.get(
    '/actions/actions/:actionId/versions/:id',
    { config: { scope: 'read:actions' }, schema: { params: VersionParams } },
    async (request) => getVersion(deps, request.params.actionId, request.params.id),
  );

  app.post(
    '/actions/actions/:actionId/versions/:id/deploy',
    {
      config: { scope: 'create:actions' },
      // The SDK sends no body, `{}` or `{update_draft}`.
      schema: {
        params: VersionParams,
        body: Type.Optional(Type.Union([Strict({ update_draft: Type.Optional(Type.Boolean()) }), Type.Null()])),
      },
    },
    async (request, reply) => {
      const { actionId, id } = request.params;
      return reply.status(202).send(await deployVersion(deps, actionId, id, request.body?.update_draft === true, now()));
    },
  );

  app.get('/actions/triggers', { config: { scope: 'read:actions' } }, async () => listTriggers());

  app.get(
    '/actions/triggers/:triggerId/bindings',
    { config: { scope: 'read:actions' }, schema: { params: TriggerParam, querystring: Strict(ActionPaging) } },
    async (request) => {
      const pageReq = offset(request.query);
      return pagedBody('bindings', await listBindings(deps, request.params.triggerId, pageReq), pageReq);
    },
  );

  app.patch(
    '/actions/triggers/:triggerId/bindings',
    {
      config: { scope: 'update:actions' },
      schema: {
        params: TriggerParam,
        body: Strict({
          bindings: Type.Array(
            Strict({
              ref: Strict({
                type: StringEnum(['action_id', 'action_name', 'binding_id'] as const),
                value: Type.String({ minLength: 1, maxLength: 255 }),
              }),
              display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
              // Binding-level secrets belong to Auth0's marketplace integrations, which are not offered.
              secrets: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 0 })),
            }),
            { maxItems: 1000 },
          ),
        }),
      },
    },
    async (request) =>
      updateBindings(
        deps,
        request.params.triggerId,
        request.body.bindings.map(({ ref, display_name }) => ({ ref, ...(display_name !== undefined ? { display_name } : {}) })),
        now(),
      ),
  );
}
