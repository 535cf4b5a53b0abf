import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { createProvider, deleteProvider, getProvider, updateProvider } from '../../mail/provider.js';
import { FieldsQuery, type ManagementApp, project } from './plugin.js';
import { Strict } from './schemas.js';

/** Auth0's provider body; credentials and settings are checked field by field in mail/provider.ts. */
const ProviderFields = {
  name: Type.String({ minLength: 1, maxLength: 40 }),
  enabled: Type.Boolean(),
  default_from_address: Type.String({ minLength: 3, maxLength: 320 }),
  credentials: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 10 }),
  settings: Type.Union([Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 10 }), Type.Null()]),
};

const CreateBody = Strict({
  name: ProviderFields.name,
  credentials: ProviderFields.credentials,
  enabled: Type.Optional(ProviderFields.enabled),
  default_from_address: Type.Optional(ProviderFields.default_from_address),
  settings: Type.Optional(ProviderFields.settings),
});

const UpdateBody = Strict({
  name: Type.Optional(ProviderFields.name),
  credentials: Type.Optional(ProviderFields.credentials),
  enabled: Type.Optional(ProviderFields.enabled),
  default_from_address: Type.Optional(ProviderFields.default_from_address),
  settings: Type.Optional(ProviderFields.settings),
});

export async function emailProviderRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const now = () => new Date(ctx.now()).toISOString();

  app.get('/emails/provider', { config: { scope: 'read:email_provider' }, schema: { querystring: Strict(FieldsQuery) } }, async (request) =>
    project(await getProvider(ctx.storage), request.query),
  );

  app.post('/emails/provider', { config: { scope: 'create:email_provider' }, schema: { body: CreateBody } }, async (request, reply) => {
    const created = await createProvider(ctx.storage, ctx.secrets, request.body, now());
    ctx.mailDelivery.wake();
    return reply.status(201).send(created);
  });

  app.patch('/emails/provider', { config: { scope: 'update:email_provider' }, schema: { body: UpdateBody } }, async (request) => {
    const updated = await updateProvider(ctx.storage, ctx.secrets, request.body, now());
    // Mails that waited for a provider (or for a fixed one) go out now rather than at the next poll.
    ctx.mailDelivery.wake();
    return updated;
  });

  app.delete('/emails/provider', { config: { scope: 'delete:email_provider' } }, async (_request, reply) => {
    await deleteProvider(ctx.storage);
    return reply.status(204).send();
  });
}
