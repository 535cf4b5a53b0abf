import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { notFound } from '../../domain/errors.js';
import { openMail } from '../../mail/mailer.js';
import type { OutboxMailRecord } from '../../mail/types.js';
import { listBody, type ManagementApp, OffsetPagingQuery, offsetPageRequest } from './plugin.js';
import { IdParam, Strict, StringEnum } from './schemas.js';

/**
 * latchkey's outbox (not an Auth0 resource, under a path Auth0 does not use): every mail queued, with
 * its delivery status. Without an email provider, mails wait here, so a developer can open a reset or
 * verification link without an SMTP server. The mails carry one-time links, so reading one needs its
 * own scope (`read:email_outbox`), which an email provider's readers do not get by that alone.
 */
// A function: plugin.ts and the routes import each other.
const ListQuery = () => Strict({ ...OffsetPagingQuery(), status: Type.Optional(StringEnum(['pending', 'sent', 'failed'] as const)) });

const absent = () => notFound('The mail does not exist', 'inexistent_mail');

function summary(ctx: ServerContext, mail: OutboxMailRecord) {
  let to: string | null = null;
  let subject: string | null = null;
  try {
    ({ to, subject } = openMail(ctx.secrets, mail));
  } catch {
    // Sealed under another master key: listed all the same, without its content.
  }
  return {
    id: mail.id,
    template: mail.template,
    status: mail.status,
    to,
    subject,
    attempts: mail.attempts,
    created_at: mail.createdAt,
    ...(mail.status === 'pending' ? { next_attempt_at: mail.nextAttemptAt } : {}),
    ...(mail.sentAt ? { sent_at: mail.sentAt } : {}),
    ...(mail.lastError ? { last_error: mail.lastError } : {}),
  };
}

export async function emailOutboxRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  app.get('/emails/outbox', { config: { scope: 'read:email_outbox' }, schema: { querystring: ListQuery() } }, async (request) => {
    const page = offsetPageRequest(request.query);
    const mails = await ctx.storage.mailOutbox.list(request.query.status ? { status: request.query.status } : {}, page);
    return listBody('mails', mails, page, {}, (mail) => summary(ctx, mail));
  });

  app.get('/emails/outbox/:id', { config: { scope: 'read:email_outbox' }, schema: { params: IdParam } }, async (request) => {
    const mail = await ctx.storage.mailOutbox.get(request.params.id);
    if (!mail) throw absent();
    const content = openMail(ctx.secrets, mail);
    return { ...summary(ctx, mail), from: content.from, html: content.html, text: content.text };
  });

  // A failed mail sent again (after fixing the provider), its attempts counted anew.
  app.post('/emails/outbox/:id/retry', { config: { scope: 'update:email_outbox' }, schema: { params: IdParam } }, async (request) => {
    const now = new Date(ctx.now()).toISOString();
    const mail = await ctx.storage.mailOutbox.get(request.params.id);
    if (!mail) throw absent();
    if (!(await ctx.storage.mailOutbox.requeue(mail.id, now))) {
      throw notFound('Only a failed mail can be retried', 'mail_not_failed');
    }
    ctx.mailDelivery.wake();
    return summary(ctx, (await ctx.storage.mailOutbox.get(mail.id)) ?? mail);
  });
}
