import type { User } from '../domain/types.js';
import type { Repositories } from '../storage/types.js';

/** The templates latchkey sends (Auth0's names); the Management API stores the others Auth0 has too. */
export const SENT_TEMPLATES = ['verify_email', 'reset_email', 'welcome_email', 'blocked_account', 'change_password'] as const;
export type EmailTemplateName = (typeof SENT_TEMPLATES)[number];

/** Every name Auth0's `/api/v2/email-templates/{templateName}` takes (auth0 SDK `EmailTemplateNameEnum`). */
export const AUTH0_TEMPLATE_NAMES = [
  ...SENT_TEMPLATES,
  'verify_email_by_code',
  'auth_email_by_code',
  'reset_email_by_code',
  'stolen_credentials',
  'enrollment_email',
  'mfa_oob_code',
  'user_invitation',
  'password_reset',
  'async_approval',
] as const;
export type Auth0TemplateName = (typeof AUTH0_TEMPLATE_NAMES)[number];

export const isSentTemplate = (name: string): name is EmailTemplateName => (SENT_TEMPLATES as readonly string[]).includes(name);

export interface MailRequest {
  template: EmailTemplateName;
  /** Recipient address. */
  to: string;
  /** For Liquid `user.*`. */
  user: User;
  /** For Liquid `application.*` (name, client_id). */
  clientId?: string;
  /** Connection name, Liquid `connection.name`. */
  connection?: string;
  /** The one-time link (ticket URL) the mail carries, Liquid `url`. */
  url?: string;
}

/** A template's link settings, with Auth0's defaults for a template never stored. */
export interface TemplateSettings {
  enabled: boolean;
  resultUrl?: string;
  /** How long the mail's link stays valid. */
  urlLifetimeInSeconds: number;
  includeEmailInRedirect: boolean;
}

export interface Mailer {
  /**
   * Renders the tenant's template and writes the mail to the outbox inside `tx` (the caller's
   * transaction), so the mail exists iff the state it announces commits. Resolves false (and writes
   * nothing) when the template is disabled, or when the outbox's backstop refuses the mail (too many
   * recent mails to that recipient, or too many undelivered mails): the refusal is logged. Delivery
   * happens later, in the background.
   */
  queue(tx: Repositories, mail: MailRequest): Promise<boolean>;
  /** Whether an enabled email provider is configured (verification on sign-up defaults on then). */
  providerEnabled(): Promise<boolean>;
  /** The template's resultUrl, link lifetime, includeEmailInRedirect and enabled (stored, or Auth0's defaults). */
  templateSettings(tx: Pick<Repositories, 'emailTemplates'>, template: EmailTemplateName): Promise<TemplateSettings>;
}

/** Auth0's email provider (only `smtp` here); the password is kept apart, encrypted. */
export interface EmailProviderRecord {
  name: 'smtp';
  enabled: boolean;
  default_from_address?: string;
  credentials: { smtp_host: string; smtp_port: number; smtp_user?: string };
  /** `smtp_pass`, sealed with the master key (ServerContext.secrets); never returned. */
  smtpPassSealed?: string;
  settings: { headers?: Record<string, string>; require_tls?: boolean } & Record<string, unknown>;
  updated_at: string;
}

/** One stored template, in Auth0's field names. */
export interface EmailTemplateRecord {
  template: Auth0TemplateName;
  body: string | null;
  from: string | null;
  subject: string | null;
  syntax: 'liquid';
  resultUrl: string | null;
  urlLifetimeInSeconds: number | null;
  includeEmailInRedirect: boolean;
  enabled: boolean;
}

export type OutboxStatus = 'pending' | 'sent' | 'failed';

/** What a mail says, sealed at rest: the links in it are credentials. */
export interface MailContent {
  to: string;
  from: string;
  subject: string;
  html: string;
  text: string;
  headers?: Record<string, string>;
}

export interface OutboxMailRecord {
  id: string;
  template: string;
  status: OutboxStatus;
  /** Keyed digest of the lower-cased recipient: counts mails per recipient without the address in clear. */
  recipientKey: string;
  /** MailContent as JSON, encrypted (crypto/encryption.ts) with the mail's id as associated data. */
  sealed: string;
  attempts: number;
  /** Not tried before this. */
  nextAttemptAt: string;
  owner: string | null;
  leaseUntil: string | null;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}
