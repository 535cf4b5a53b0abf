import { conflict, invalidField, notFound } from '../domain/errors.js';
import type { Storage } from '../storage/types.js';
import type { TemplateRenderer } from './render.js';
import { AUTH0_TEMPLATE_NAMES, type Auth0TemplateName, type EmailTemplateRecord } from './types.js';

/**
 * Auth0's email templates (`/api/v2/email-templates`). Like Auth0, a template never stored reads as
 * 404; unlike a tenant without templates in Auth0, latchkey still sends its default then
 * (mail/default-templates.ts). Liquid in body, subject and from is parsed on every write, so a
 * template that does not parse (or reaches for files) is refused here rather than failing at send.
 */
export interface TemplateInput {
  template?: string;
  body?: string | null;
  from?: string | null;
  subject?: string | null;
  syntax?: string | null;
  resultUrl?: string | null;
  urlLifetimeInSeconds?: number | null;
  includeEmailInRedirect?: boolean;
  enabled?: boolean | null;
}

export type TemplateView = EmailTemplateRecord;

const absent = () => notFound('The template does not exist', 'inexistent_email_template');

export function checkTemplateName(name: string): Auth0TemplateName {
  if (!(AUTH0_TEMPLATE_NAMES as readonly string[]).includes(name)) {
    throw invalidField('template', `template must be one of ${AUTH0_TEMPLATE_NAMES.join(', ')}`);
  }
  return name as Auth0TemplateName;
}

function checkResultUrl(url: string | null | undefined): void {
  if (url === null || url === undefined || url === '') return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidField('resultUrl', 'resultUrl must be an absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw invalidField('resultUrl', 'resultUrl must be an http(s) URL');
}

/** The record `input` describes over `base` (a PATCH), checked. */
function merge(renderer: TemplateRenderer, name: Auth0TemplateName, base: EmailTemplateRecord, input: TemplateInput): EmailTemplateRecord {
  if (input.template !== undefined && input.template !== name) {
    throw invalidField('template', `template '${input.template.slice(0, 40)}' does not match the path's '${name}'`);
  }
  if (input.syntax !== undefined && input.syntax !== null && input.syntax !== 'liquid') {
    throw invalidField('syntax', "syntax must be 'liquid'");
  }
  checkResultUrl(input.resultUrl);
  const record: EmailTemplateRecord = {
    template: name,
    body: input.body !== undefined ? input.body : base.body,
    from: input.from !== undefined ? input.from : base.from,
    subject: input.subject !== undefined ? input.subject : base.subject,
    syntax: 'liquid',
    resultUrl: input.resultUrl !== undefined ? input.resultUrl || null : base.resultUrl,
    urlLifetimeInSeconds: input.urlLifetimeInSeconds !== undefined ? input.urlLifetimeInSeconds : base.urlLifetimeInSeconds,
    includeEmailInRedirect: input.includeEmailInRedirect ?? base.includeEmailInRedirect,
    enabled: input.enabled !== undefined && input.enabled !== null ? input.enabled : base.enabled,
  };
  if (record.body) renderer.check('body', record.body);
  if (record.subject) renderer.check('subject', record.subject);
  if (record.from) renderer.check('from', record.from);
  return record;
}

const EMPTY = (name: Auth0TemplateName): EmailTemplateRecord => ({
  template: name,
  body: null,
  from: null,
  subject: null,
  syntax: 'liquid',
  resultUrl: null,
  urlLifetimeInSeconds: null,
  includeEmailInRedirect: true,
  enabled: true,
});

export async function getTemplate(storage: Pick<Storage, 'emailTemplates'>, name: string): Promise<TemplateView> {
  const stored = await storage.emailTemplates.get(checkTemplateName(name));
  if (!stored) throw absent();
  return stored;
}

export async function createTemplate(
  storage: Pick<Storage, 'emailTemplates'>,
  renderer: TemplateRenderer,
  input: TemplateInput & { template: string },
): Promise<TemplateView> {
  const name = checkTemplateName(input.template);
  const record = merge(renderer, name, EMPTY(name), input);
  if (!(await storage.emailTemplates.insert(record))) throw conflict(`Template ${name} already exists`, 'email_template_exists');
  return record;
}

/** PATCH: the fields given replace the stored ones. */
export async function updateTemplate(
  storage: Pick<Storage, 'emailTemplates'>,
  renderer: TemplateRenderer,
  name: string,
  input: TemplateInput,
): Promise<TemplateView> {
  const checked = checkTemplateName(name);
  const current = await storage.emailTemplates.get(checked);
  if (!current) throw absent();
  const record = merge(renderer, checked, current, input);
  if (!(await storage.emailTemplates.update(record))) throw absent();
  return record;
}

/** PUT: the template becomes what the body says, fields left out taking their defaults. */
export async function setTemplate(
  storage: Pick<Storage, 'emailTemplates'>,
  renderer: TemplateRenderer,
  name: string,
  input: TemplateInput,
): Promise<TemplateView> {
  const checked = checkTemplateName(name);
  const record = merge(renderer, checked, EMPTY(checked), input);
  if (!(await storage.emailTemplates.update(record))) throw absent();
  return record;
}
