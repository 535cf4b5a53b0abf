import { type Static, Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { withoutAbsentFields } from '../../domain/absent-resources.js';
import { auth0DefaultsOn } from '../../domain/auth0-defaults.js';
import { createClient, deleteClient, getClient, rotateClientSecret, updateClient } from '../../domain/clients.js';
import { invalidField } from '../../domain/errors.js';
import type { Client } from '../../domain/types.js';
import { FieldsQuery, listBody, type ManagementApp, PagingQuery, pageRequest, project } from './plugin.js';
import { IdParam, Name, OptionalFields, Strict, StringEnum, StringMap, Url, UrlList } from './schemas.js';

const AuthMethod = Type.Union([Type.Literal('none'), Type.Literal('client_secret_post'), Type.Literal('client_secret_basic')]);

/** The client body schemas; grant types are those the server's grant registry knows. */
function clientBodies(grantTypes: readonly string[]) {
  const GrantType = StringEnum(grantTypes);
  const ClientFields = {
    name: Name,
    description: Type.String({ maxLength: 140 }),
    app_type: StringEnum(['native', 'spa', 'regular_web', 'non_interactive'] as const),
    logo_uri: Url,
    callbacks: UrlList,
    allowed_logout_urls: UrlList,
    web_origins: UrlList,
    allowed_origins: UrlList,
    grant_types: Type.Array(GrantType, { maxItems: 10, uniqueItems: true }),
    token_endpoint_auth_method: AuthMethod,
    is_first_party: Type.Boolean(),
    oidc_conformant: Type.Boolean(),
    client_secret: Type.String({ minLength: 1, maxLength: 256 }),
    client_metadata: StringMap,
    // latchkey's own: true or false overrides the tenant's PKCE default for this app, null restores it.
    require_pkce: Type.Union([Type.Boolean(), Type.Null()]),
    jwt_configuration: Strict(
      OptionalFields({
        lifetime_in_seconds: Type.Integer({ minimum: 1, maximum: 2592000 }),
        alg: Type.Literal('RS256'),
        secret_encoded: Type.Boolean(),
      }),
    ),
    refresh_token: Strict(
      OptionalFields({
        rotation_type: Type.Union([Type.Literal('rotating'), Type.Literal('non-rotating')]),
        expiration_type: Type.Union([Type.Literal('expiring'), Type.Literal('non-expiring')]),
        leeway: Type.Integer({ minimum: 0, maximum: 60 }),
        token_lifetime: Type.Integer({ minimum: 1, maximum: 157680000 }),
        idle_token_lifetime: Type.Integer({ minimum: 1, maximum: 157680000 }),
        infinite_token_lifetime: Type.Boolean(),
        infinite_idle_token_lifetime: Type.Boolean(),
      }),
    ),
  };

  // Read-only, but shown on every read: tools that write back what they read (auth0-deploy-cli's
  // import of its own export) send it, so it is taken when it matches and refused when it would change.
  const RegistrationSource = Type.Optional(StringEnum(['management_api', 'dynamic_registration'] as const));
  return {
    CreateBody: Strict({ ...OptionalFields(ClientFields), name: Name, registration_source: Type.Optional(Type.Literal('management_api')) }),
    UpdateBody: Strict({
      ...OptionalFields(ClientFields),
      registration_source: RegistrationSource,
      // auth0-deploy-cli's login page (its `pages`), which latchkey lacks: taken only when empty (domain/absent-resources.ts).
      custom_login_page: Type.Optional(Type.String({ maxLength: 100_000 })),
      custom_login_page_on: Type.Optional(Type.Boolean()),
    }),
  };
}

/**
 * The secret appears only in the create, update-with-secret and rotate responses: only its digest
 * is stored. Public clients (`none`) are never shown one, since they must not use it; a client moved
 * to a confidential method gets its secret from rotate-secret.
 */
const present = (client: Client, secret?: string) => ({
  ...client,
  ...(client.is_system ? { global: true } : {}),
  registration_source: client.registration_source ?? 'management_api',
  ...(secret !== undefined && client.token_endpoint_auth_method !== 'none' ? { client_secret: secret } : {}),
});

export async function clientRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage, digester } = ctx;
  const { CreateBody, UpdateBody } = clientBodies(ctx.grants.clientGrantTypes);

  // Auth0's list filters; app_type takes a comma-separated list. latchkey's bootstrap admin clients
  // stand where Auth0's global client ("All Applications") does: tools list `is_global=false` to
  // leave the tenant's own client out (auth0-deploy-cli does), and `is_global=true` to find it.
  const ClientFilters = {
    app_type: Type.Optional(Type.String({ maxLength: 200 })),
    is_first_party: Type.Optional(Type.Boolean()),
    is_global: Type.Optional(Type.Boolean()),
  };
  app.get(
    '/clients',
    { config: { scope: 'read:clients' }, schema: { querystring: Strict({ ...PagingQuery, ...FieldsQuery, ...ClientFilters }) } },
    async (request) => {
      const { app_type, is_first_party, is_global } = request.query;
      const pageReq = pageRequest(request.query);
      const filter = {
        ...(app_type !== undefined ? { app_type: app_type.split(',').map((t) => t.trim()) } : {}),
        ...(is_first_party !== undefined ? { is_first_party } : {}),
        ...(is_global !== undefined ? { is_system: is_global } : {}),
      };
      return listBody('clients', await storage.clients.list(pageReq, filter), pageReq, request.query, (c) => present(c));
    },
  );

  app.post('/clients', { config: { scope: 'create:clients' }, schema: { body: CreateBody } }, async (request, reply) => {
    const { jwt_configuration, registration_source: _readOnly, ...input } = request.body as Static<typeof CreateBody>;
    const { secret_encoded: _ignored, ...jwt } = jwt_configuration ?? {};
    const auth0Defaults = auth0DefaultsOn(await ctx.lookups.tenantSettings());
    const { client, secret } = await createClient(storage, digester, { ...input, jwt_configuration: jwt }, { auth0Defaults });
    return reply.status(201).send(present(client, secret));
  });

  app.get(
    '/clients/:id',
    { config: { scope: 'read:clients' }, schema: { params: IdParam, querystring: Strict(FieldsQuery) } },
    async (request) => project(present(await getClient(storage, request.params.id)), request.query),
  );

  app.patch('/clients/:id', { config: { scope: 'update:clients' }, schema: { params: IdParam, body: UpdateBody } }, async (request) => {
    const { jwt_configuration, registration_source, ...patch } = withoutAbsentFields('client', request.body);
    const { secret_encoded: _ignored, ...jwt } = jwt_configuration ?? {};
    if (registration_source !== undefined) {
      const { registration_source: current = 'management_api' } = await getClient(storage, request.params.id);
      if (registration_source !== current) throw invalidField('registration_source', "a client's 'registration_source' cannot be changed");
    }
    const client = await updateClient(storage, digester, request.params.id, { ...patch, jwt_configuration: jwt });
    return present(client, patch.client_secret);
  });

  app.delete('/clients/:id', { config: { scope: 'delete:clients' }, schema: { params: IdParam } }, async (request, reply) => {
    await deleteClient(storage, request.params.id, new Date(ctx.now()));
    return reply.status(204).send();
  });

  app.post('/clients/:id/rotate-secret', { config: { scope: 'update:clients' }, schema: { params: IdParam } }, async (request) => {
    const { client, secret } = await rotateClientSecret(storage, digester, request.params.id);
    return present(client, secret);
  });
}
