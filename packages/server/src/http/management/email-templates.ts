import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { TemplateRenderer } from '../../mail/render.js';
import { createTemplate, getTemplate, setTemplate, updateTemplate } from '../../mail/templates.js';
import type { ManagementApp } from './plugin.js';
import { OptionalFields, Strict } from './schemas.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const TemplateFields = {
  body: Nullable(Type.String({ maxLength: 100_000 })),
  from: Nullable(Type.String({ maxLength: 1000 })),
  subject: Nullable(Type.String({ maxLength: 1000 })),
  syntax: Nullable(Type.String({ maxLength: 20 })),
  resultUrl: Nullable(Type.String({ maxLength: 2048 })),
  urlLifetimeInSeconds: Type.Union([Type.Integer({ minimum: 0, maximum: 30 * 24 * 3600 }), Type.Null()]),
  includeEmailInRedirect: Type.Boolean(),
  enabled: Type.Union([Type.Boolean(), Type.Null()]),
};
const Optional = OptionalFields(TemplateFields);

const TemplateName = Type.String({ minLength: 1, maxLength: 40 });
const CreateBody = Strict({ template: TemplateName, ...Optional });
const UpdateBody = Strict({ template: Type.Optional(TemplateName), ...Optional });
const NameParam = Strict({ templateName: TemplateName });

export async function emailTemplateRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const renderer = new TemplateRenderer();

  app.get('/email-templates/:templateName', { config: { scope: 'read:email_templates' }, schema: { params: NameParam } }, (request) =>
    getTemplate(ctx.storage, request.params.templateName),
  );

  app.post('/email-templates', { config: { scope: 'create:email_templates' }, schema: { body: CreateBody } }, async (request, reply) =>
    reply.status(201).send(await createTemplate(ctx.storage, renderer, request.body)),
  );

  app.patch(
    '/email-templates/:templateName',
    { config: { scope: 'update:email_templates' }, schema: { params: NameParam, body: UpdateBody } },
    (request) => updateTemplate(ctx.storage, renderer, request.params.templateName, request.body),
  );

  app.put(
    '/email-templates/:templateName',
    { config: { scope: 'update:email_templates' }, schema: { params: NameParam, body: CreateBody } },
    (request) => setTemplate(ctx.storage, renderer, request.params.templateName, request.body),
  );
}
