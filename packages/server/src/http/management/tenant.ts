import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { withoutAbsentFields } from '../../domain/absent-resources.js';
import { updateTenantSettings } from '../../domain/tenant.js';
import { FieldsQuery, type ManagementApp, project } from './plugin.js';
import { OptionalFields, Strict, Url, UrlList } from './schemas.js';

const PageHtml = Type.String({ maxLength: 100_000 });
const Page = Strict(OptionalFields({ enabled: Type.Boolean(), html: PageHtml }));
const UpdateBody = Strict(
  OptionalFields({
    friendly_name: Type.String({ minLength: 1, maxLength: 255 }),
    picture_url: Url,
    support_email: Type.String({ minLength: 3, maxLength: 254 }),
    support_url: Url,
    allowed_logout_urls: UrlList,
    default_audience: Type.String({ maxLength: 600 }),
    default_directory: Type.String({ maxLength: 128 }),
    session_lifetime: Type.Number({ minimum: 1, maximum: 8760 }),
    idle_session_lifetime: Type.Number({ minimum: 1, maximum: 8760 }),
    // Auth0 also takes the two lifetimes in minutes (auth0-deploy-cli sends these); stored in hours.
    session_lifetime_in_minutes: Type.Integer({ minimum: 1, maximum: 8760 * 60 }),
    idle_session_lifetime_in_minutes: Type.Integer({ minimum: 1, maximum: 8760 * 60 }),
    // A pattern key becomes patternProperties, which lets any other name through unless told not to.
    flags: Type.Record(Type.String({ pattern: '^[a-z0-9_]{1,64}$' }), Type.Boolean(), { maxProperties: 50, additionalProperties: false }),
    // auth0-deploy-cli's pages, which latchkey lacks: taken only when empty (domain/absent-resources.ts).
    change_password: Page,
    guardian_mfa_page: Page,
    error_page: Strict(OptionalFields({ html: PageHtml, show_log_link: Type.Boolean(), url: Type.String({ maxLength: 2048 }) })),
  }),
);

export async function tenantRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  app.get(
    '/tenants/settings',
    { config: { scope: 'read:tenant_settings' }, schema: { querystring: Strict(FieldsQuery) } },
    async (request) => project(await ctx.lookups.tenantSettings(), request.query),
  );

  app.patch('/tenants/settings', { config: { scope: 'update:tenant_settings' }, schema: { body: UpdateBody } }, async (request) => {
    const { session_lifetime_in_minutes, idle_session_lifetime_in_minutes, ...patch } = withoutAbsentFields('tenant', request.body);
    return updateTenantSettings(ctx.storage, {
      ...patch,
      ...(session_lifetime_in_minutes !== undefined ? { session_lifetime: session_lifetime_in_minutes / 60 } : {}),
      ...(idle_session_lifetime_in_minutes !== undefined ? { idle_session_lifetime: idle_session_lifetime_in_minutes / 60 } : {}),
    });
  });
}
