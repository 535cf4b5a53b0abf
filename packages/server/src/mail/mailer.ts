import { randomBytes } from 'node:crypto';
import type { Encrypter } from '../crypto/encryption.js';
import type { SecretDigester } from '../crypto/secrets.js';
import type { Repositories, Storage } from '../storage/types.js';
import { DEFAULT_TEMPLATES } from './default-templates.js';
import { type RenderedMail, TemplateRenderer } from './render.js';
import type { EmailTemplateName, MailContent, Mailer, MailRequest, OutboxMailRecord, TemplateSettings } from './types.js';

export interface MailLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The outbox's backstop against being filled (the endpoints that send mail throttle first). */
export interface OutboxLimits {
  /** Mails to one recipient per hour; more are refused (and logged). */
  perRecipientPerHour: number;
  /** Undelivered mails the outbox holds; more are refused until some go out or expire. */
  maxPending: number;
}

export const newMailId = () => `mail_${randomBytes(12).toString('hex')}`;

/** The associated data a mail's content is sealed with: a sealed content moved to another row does not open. */
export const mailSealContext = (id: string) => `mail_outbox ${id}`;

/** Keyed, so the outbox can count a recipient's mails without the address in clear. */
export const recipientKey = (digester: SecretDigester, address: string) =>
  digester.digest(`mail recipient ${address.trim().toLowerCase()}`);

/** The one fallback sender when neither the template nor the provider names one. */
export function fallbackFrom(issuer: string): string {
  return `no-reply@${new URL(issuer).hostname}`;
}

/**
 * Renders mails and writes them to the outbox in the caller's transaction (see Mailer). Delivery is
 * mail/delivery.ts. A stored template that fails to render (it passed the parse check at write, but
 * hit a render limit) is logged and the default sent instead: the state the mail announces must
 * still commit, and a user must still get a way in.
 */
export class OutboxMailer implements Mailer {
  private readonly renderer = new TemplateRenderer();
  /** Set to the server's logger once it exists. */
  log: MailLog = { warn: () => {}, error: () => {} };

  constructor(
    private readonly deps: {
      storage: Pick<Storage, 'emailProvider'>;
      secrets: Encrypter;
      digester: SecretDigester;
      issuer: string;
      now: () => number;
      limits: OutboxLimits;
    },
  ) {}

  async providerEnabled(): Promise<boolean> {
    return (await this.deps.storage.emailProvider.get())?.enabled === true;
  }

  async templateSettings(tx: Pick<Repositories, 'emailTemplates'>, template: EmailTemplateName): Promise<TemplateSettings> {
    const stored = await tx.emailTemplates.get(template);
    const lifetime = stored?.urlLifetimeInSeconds ?? DEFAULT_TEMPLATES[template].urlLifetimeInSeconds;
    return {
      enabled: stored?.enabled ?? true,
      ...(stored?.resultUrl ? { resultUrl: stored.resultUrl } : {}),
      urlLifetimeInSeconds: lifetime > 0 ? lifetime : DEFAULT_TEMPLATES.verify_email.urlLifetimeInSeconds,
      includeEmailInRedirect: stored?.includeEmailInRedirect ?? true,
    };
  }

  /** The mail as it would be sent now, without queueing it. */
  async render(tx: Repositories, mail: MailRequest): Promise<(RenderedMail & { headers?: Record<string, string> }) | undefined> {
    const stored = await tx.emailTemplates.get(mail.template);
    if (stored && !stored.enabled) return undefined;
    const [tenant, client, provider] = await Promise.all([
      tx.tenant.get(),
      mail.clientId ? tx.clients.get(mail.clientId) : undefined,
      tx.emailProvider.get(),
    ]);
    const user = mail.user;
    const variables = {
      user: {
        user_id: user.user_id,
        email: user.email ?? mail.to,
        email_verified: user.email_verified,
        name: user.name,
        nickname: user.nickname,
        given_name: user.given_name,
        family_name: user.family_name,
        username: user.username,
        picture: user.picture,
        user_metadata: user.user_metadata,
        app_metadata: user.app_metadata,
      },
      application: client ? { name: client.client.name, client_id: client.client.client_id, clientID: client.client.client_id } : {},
      connection: { name: mail.connection },
      tenant: tenant?.friendly_name,
      friendly_name: tenant?.friendly_name ?? 'latchkey',
      picture_url: tenant?.picture_url,
      support_email: tenant?.support_email,
      support_url: tenant?.support_url,
      url: mail.url,
    };
    const fallback = DEFAULT_TEMPLATES[mail.template];
    const defaultFrom = provider?.default_from_address ?? fallbackFrom(this.deps.issuer);
    const defaults = { subject: fallback.subject, from: defaultFrom, body: fallback.body, text: fallback.text };
    let rendered: RenderedMail;
    try {
      rendered = await this.renderer.render(
        stored
          ? { subject: stored.subject || fallback.subject, from: stored.from || defaultFrom, body: stored.body || fallback.body }
          : defaults,
        variables,
      );
    } catch (err) {
      if (!stored) throw err;
      this.log.error({ err, template: mail.template }, 'email template failed to render: the default template is sent instead');
      rendered = await this.renderer.render(defaults, variables);
    }
    const headers = provider?.settings.headers;
    return { ...rendered, ...(headers && Object.keys(headers).length > 0 ? { headers } : {}) };
  }

  async queue(tx: Repositories, mail: MailRequest): Promise<boolean> {
    const rendered = await this.render(tx, mail);
    if (!rendered) return false;
    const id = newMailId();
    const now = this.deps.now();
    const content: MailContent = { to: mail.to, ...rendered };
    const record: OutboxMailRecord = {
      id,
      template: mail.template,
      status: 'pending',
      recipientKey: recipientKey(this.deps.digester, mail.to),
      sealed: this.deps.secrets.encrypt(JSON.stringify(content), mailSealContext(id)),
      attempts: 0,
      nextAttemptAt: new Date(now).toISOString(),
      owner: null,
      leaseUntil: null,
      lastError: null,
      createdAt: new Date(now).toISOString(),
      sentAt: null,
    };
    const queued = await tx.mailOutbox.insert(record, {
      since: new Date(now - 3600_000).toISOString(),
      perRecipient: this.deps.limits.perRecipientPerHour,
      maxPending: this.deps.limits.maxPending,
    });
    if (queued !== true) {
      this.log.warn({ template: mail.template, reason: queued }, 'mail refused by the outbox limits: it was not queued');
      return false;
    }
    if ((await tx.emailProvider.get())?.enabled !== true) {
      this.log.warn(
        { mail: id, template: mail.template },
        `no email provider is enabled: the mail waits in the outbox (GET /api/v2/emails/outbox/${id})`,
      );
    }
    return true;
  }
}

/** Opens a mail's sealed content. */
export function openMail(secrets: Encrypter, mail: Pick<OutboxMailRecord, 'id' | 'sealed'>): MailContent {
  return JSON.parse(secrets.decrypt(mail.sealed, mailSealContext(mail.id))) as MailContent;
}
