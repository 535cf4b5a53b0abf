import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { DomainError, invalidField, notFound } from '../../domain/errors.js';
import { issueTicket, MAX_TICKET_TTL_SECONDS } from '../../domain/tickets.js';
import type { UserRecord } from '../../domain/types.js';
import { getUser } from '../../domain/users.js';
import type { ManagementApp } from './plugin.js';
import { Id, Strict, Url } from './schemas.js';

const TtlSec = Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_TICKET_TTL_SECONDS }));

/** Auth0's `POST /api/v2/tickets/password-change` body. */
const PasswordChangeBody = Strict({
  result_url: Type.Optional(Url),
  user_id: Type.Optional(Id),
  client_id: Type.Optional(Id),
  organization_id: Type.Optional(Id),
  connection_id: Type.Optional(Id),
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
  ttl_sec: TtlSec,
  mark_email_as_verified: Type.Optional(Type.Boolean()),
  includeEmailInRedirect: Type.Optional(Type.Boolean()),
});

const Identity = Strict({ user_id: Id, provider: Type.String({ minLength: 1, maxLength: 64 }) });

/** Auth0's `POST /api/v2/tickets/email-verification` body. */
const EmailVerificationBody = Strict({
  result_url: Type.Optional(Url),
  user_id: Id,
  client_id: Type.Optional(Id),
  organization_id: Type.Optional(Id),
  ttl_sec: TtlSec,
  includeEmailInRedirect: Type.Optional(Type.Boolean()),
  identity: Type.Optional(Identity),
});

/** result_url is where the user's browser goes with the outcome: an absolute http(s) URL. */
function checkResultUrl(value: string | undefined): void {
  if (value === undefined) return;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw invalidField('result_url', "'result_url' must be an absolute http or https URL");
  }
}

/**
 * Tickets: one-time links an administrator hands to a user by other means (Auth0's ticket URLs),
 * answered 201 `{ticket}`. The link opens the same pages as the mailed links.
 */
export async function ticketRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage } = ctx;

  async function clientExists(clientId: string | undefined): Promise<void> {
    if (clientId !== undefined && !(await ctx.lookups.client(clientId))) {
      throw notFound('The client does not exist', 'inexistent_client');
    }
  }

  app.post(
    '/tickets/password-change',
    { config: { scope: 'create:user_tickets' }, schema: { body: PasswordChangeBody } },
    async (request, reply) => {
      const body = request.body;
      checkResultUrl(body.result_url);
      await clientExists(body.client_id);
      let record: UserRecord;
      if (body.user_id !== undefined) {
        if (body.email !== undefined || body.connection_id !== undefined) {
          throw invalidField('user_id', 'Send either user_id, or email with connection_id, not both');
        }
        record = await getUser(storage, body.user_id);
      } else {
        if (body.email === undefined || body.connection_id === undefined) {
          throw invalidField('user_id', 'Missing required property: user_id (or email and connection_id)');
        }
        const connection = await storage.connections.get(body.connection_id);
        if (!connection) throw notFound('The connection does not exist', 'inexistent_connection');
        const found = await storage.users.findByEmail(connection.name, body.email);
        if (!found) throw notFound('The user does not exist.', 'inexistent_user');
        record = found;
      }
      if (!record.user.identities.some((i) => i.provider === 'auth0')) {
        throw new DomainError('invalid', 'invalid_body', 'The user does not have a password: it signs in through another provider');
      }
      const { url } = await issueTicket(
        storage,
        ctx.issuer,
        {
          purpose: 'reset',
          userId: record.user.user_id,
          email: record.user.email,
          connection: record.connection,
          clientId: body.client_id,
          resultUrl: body.result_url,
          markEmailAsVerified: body.mark_email_as_verified,
          includeEmailInRedirect: body.includeEmailInRedirect,
          ttlSeconds: body.ttl_sec,
        },
        ctx.now(),
      );
      return reply.status(201).send({ ticket: url });
    },
  );

  app.post(
    '/tickets/email-verification',
    { config: { scope: 'create:user_tickets' }, schema: { body: EmailVerificationBody } },
    async (request, reply) => {
      const body = request.body;
      checkResultUrl(body.result_url);
      await clientExists(body.client_id);
      const { user, connection } = await getUser(storage, body.user_id);
      if (body.identity && !user.identities.some((i) => i.provider === body.identity!.provider && i.user_id === body.identity!.user_id)) {
        throw invalidField('identity', 'The user has no such identity');
      }
      if (!user.email) throw invalidField('user_id', 'The user does not have an email address');
      const { url } = await issueTicket(
        storage,
        ctx.issuer,
        {
          purpose: 'verify',
          userId: user.user_id,
          email: user.email,
          connection,
          clientId: body.client_id,
          resultUrl: body.result_url,
          includeEmailInRedirect: body.includeEmailInRedirect,
          ttlSeconds: body.ttl_sec,
        },
        ctx.now(),
      );
      return reply.status(201).send({ ticket: url });
    },
  );
}
