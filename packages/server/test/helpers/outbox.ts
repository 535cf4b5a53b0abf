import { openMail } from '../../src/mail/mailer.js';
import type { MailContent } from '../../src/mail/types.js';
import type { TestServer } from './server.js';

export type OutboxMail = MailContent & { template: string; id: string };

/** The mails in the server's outbox (newest first), opened, optionally only those to one address and of one template. */
export async function outboxMails(server: TestServer, to?: string, template?: string): Promise<OutboxMail[]> {
  const page = await server.ctx.storage.mailOutbox.list({}, { kind: 'offset', offset: 0, limit: 1000, includeTotal: false });
  return page.items
    .map((record) => ({ ...openMail(server.ctx.secrets, record), template: record.template, id: record.id }))
    .filter(
      (mail) => (to === undefined || mail.to.toLowerCase() === to.toLowerCase()) && (template === undefined || mail.template === template),
    );
}

/** Waits (polling) until `count` such mails are in the outbox: some are queued in the background, after the answer. */
export async function waitForMails(server: TestServer, to: string, template: string, count = 1, timeoutMs = 10_000): Promise<OutboxMail[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await outboxMails(server, to, template);
    if (mails.length >= count) return mails;
    if (Date.now() > deadline) throw new Error(`expected ${count} ${template} mail(s) to ${to}, found ${mails.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The one-time link a mail carries (its text part): the first URL with a ticket. */
export function ticketLink(mail: Pick<MailContent, 'text' | 'html'>): string {
  const match =
    /https?:\/\/[^\s"'<>]+\?ticket=[A-Za-z0-9_-]+#?/.exec(mail.text) ?? /https?:\/\/[^\s"'<>]+\?ticket=[A-Za-z0-9_-]+#?/.exec(mail.html);
  if (!match) throw new Error(`no ticket link in the mail: ${mail.text}`);
  return match[0].replace(/&amp;/g, '&');
}
