import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { lockHeaders } from '../../connections/database.js';
import type { ServerContext } from '../../context.js';
import { DomainError, invalidField, notFound } from '../../domain/errors.js';
import { getUser } from '../../domain/users.js';
import { sendVerificationMail } from '../../login/account-mail.js';
import { countMailRequest } from '../../login/mail-limits.js';
import type { ManagementApp } from './plugin.js';
import { Id, Strict } from './schemas.js';

const Body = Strict({
  user_id: Id,
  client_id: Type.Optional(Id),
  organization_id: Type.Optional(Id),
  identity: Type.Optional(Strict({ user_id: Id, provider: Type.String({ minLength: 1, maxLength: 64 }) })),
});

/**
 * `POST /api/v2/jobs/verification-email`: (re)sends the user the verification mail. Auth0 runs it
 * as a job; here the mail is in the outbox when the answer leaves, so the job is born `completed`
 * (or `failed` when the verify_email template is disabled) and is not kept: `GET /jobs/{id}` does
 * not know it. Each recipient gets at most MAIL_LIMITS.perRecipient such mails an hour.
 */
export async function verificationEmailJobRoute(app: ManagementApp, ctx: ServerContext): Promise<void> {
  app.post('/jobs/verification-email', { config: { scope: 'update:users' }, schema: { body: Body } }, async (request, reply) => {
    const body = request.body;
    const { user } = await getUser(ctx.storage, body.user_id);
    if (body.client_id !== undefined && !(await ctx.lookups.client(body.client_id))) {
      throw notFound('The client does not exist', 'inexistent_client');
    }
    if (body.identity && !user.identities.some((i) => i.provider === body.identity!.provider && i.user_id === body.identity!.user_id)) {
      throw invalidField('identity', 'The user has no such identity');
    }
    if (!user.email) throw invalidField('user_id', 'The user does not have an email address');
    try {
      await countMailRequest(ctx, { email: user.email }, ctx.now());
    } catch (err) {
      if (err instanceof DomainError && err.details.lock) reply.headers(lockHeaders(err.details.lock, ctx.now()));
      throw err;
    }
    const queued = await sendVerificationMail(ctx, user, body.client_id);
    return reply.status(201).send({
      type: 'verification_email',
      status: queued ? 'completed' : 'failed',
      created_at: new Date(ctx.now()).toISOString(),
      id: `job_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`,
    });
  });
}
