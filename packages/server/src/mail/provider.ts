import type { Encrypter } from '../crypto/encryption.js';
import { conflict, invalidField, notFound } from '../domain/errors.js';
import type { Storage } from '../storage/types.js';
import { SMTP_PASS_CONTEXT } from './smtp.js';
import type { EmailProviderRecord } from './types.js';

/**
 * Auth0's email provider (`/api/v2/emails/provider`), SMTP only. The password is sealed at rest and
 * never leaves the API; a change of where it would be sent (host, port or user) must come with it
 * again, so that whoever may update the provider cannot redirect the stored password to a server of theirs.
 */
export interface ProviderInput {
  name?: string;
  enabled?: boolean;
  default_from_address?: string;
  credentials?: Record<string, unknown>;
  settings?: Record<string, unknown> | null;
}

export interface ProviderView {
  name: 'smtp';
  enabled: boolean;
  default_from_address?: string;
  credentials: { smtp_host: string; smtp_port: number; smtp_user?: string };
  settings: Record<string, unknown>;
}

const notConfigured = () => notFound('There is not an email provider configured', 'inexistent_email_provider');

export function presentProvider(provider: EmailProviderRecord): ProviderView {
  return {
    name: provider.name,
    enabled: provider.enabled,
    ...(provider.default_from_address ? { default_from_address: provider.default_from_address } : {}),
    credentials: {
      smtp_host: provider.credentials.smtp_host,
      smtp_port: provider.credentials.smtp_port,
      ...(provider.credentials.smtp_user ? { smtp_user: provider.credentials.smtp_user } : {}),
    },
    settings: provider.settings,
  };
}

function checkName(name: string | undefined): void {
  if (name !== undefined && name !== 'smtp') {
    throw invalidField('name', `latchkey sends mail over SMTP only: name must be 'smtp', not '${name.slice(0, 40)}'`);
  }
}

/** An RFC 5322 header name, and a value on one line. */
const HEADER_NAME = /^[!-9;-~]{1,76}$/;

function checkSettings(settings: Record<string, unknown>): EmailProviderRecord['settings'] {
  const out: EmailProviderRecord['settings'] = {};
  for (const [key, value] of Object.entries(settings)) {
    if (key === 'require_tls') {
      if (typeof value !== 'boolean') throw invalidField('settings.require_tls', 'settings.require_tls must be a boolean');
      out.require_tls = value;
    } else if (key === 'headers') {
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw invalidField('settings.headers', 'settings.headers must be an object');
      const headers: Record<string, string> = {};
      const entries = Object.entries(value);
      if (entries.length > 20) throw invalidField('settings.headers', 'settings.headers may hold at most 20 headers');
      for (const [name, header] of entries) {
        // Auth0's SparkPost header takes an object: sent as its JSON.
        const text = typeof header === 'string' ? header : JSON.stringify(header);
        if (!HEADER_NAME.test(name) || /[\r\n]/.test(text) || text.length > 1000) {
          throw invalidField('settings.headers', `settings.headers.${name.slice(0, 80)} is not a valid mail header`);
        }
        headers[name] = text;
      }
      out.headers = headers;
    } else {
      throw invalidField(
        `settings.${key}`,
        `Unknown setting '${key.slice(0, 80)}': latchkey's SMTP provider takes headers and require_tls`,
      );
    }
  }
  return out;
}

interface SmtpCredentials {
  smtp_host?: string;
  smtp_port?: number;
  smtp_user?: string;
  smtp_pass?: string;
}

function checkCredentials(credentials: Record<string, unknown>): SmtpCredentials {
  const out: SmtpCredentials = {};
  for (const [key, value] of Object.entries(credentials)) {
    switch (key) {
      case 'smtp_host':
        if (typeof value !== 'string' || !/^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/.test(value)) {
          throw invalidField('credentials.smtp_host', 'credentials.smtp_host must be a host name or address');
        }
        out.smtp_host = value;
        break;
      case 'smtp_port':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
          throw invalidField('credentials.smtp_port', 'credentials.smtp_port must be a port number');
        }
        out.smtp_port = value;
        break;
      case 'smtp_user':
      case 'smtp_pass':
        if (typeof value !== 'string' || value.length > 1024)
          throw invalidField(`credentials.${key}`, `credentials.${key} must be a string`);
        out[key] = value;
        break;
      default:
        throw invalidField(`credentials.${key}`, `Unknown credential '${key.slice(0, 80)}' for the smtp provider`);
    }
  }
  return out;
}

function checkFrom(from: string | undefined): void {
  if (from !== undefined && (from.length > 320 || /[\r\n]/.test(from) || !/@/.test(from))) {
    throw invalidField('default_from_address', 'default_from_address must be an email address');
  }
}

export async function getProvider(storage: Pick<Storage, 'emailProvider'>): Promise<ProviderView> {
  const provider = await storage.emailProvider.get();
  if (!provider) throw notConfigured();
  return presentProvider(provider);
}

export async function createProvider(
  storage: Pick<Storage, 'emailProvider'>,
  secrets: Encrypter,
  input: ProviderInput,
  now: string,
): Promise<ProviderView> {
  checkName(input.name ?? '');
  checkFrom(input.default_from_address);
  const credentials = checkCredentials(input.credentials ?? {});
  if (!credentials.smtp_host) throw invalidField('credentials.smtp_host', 'credentials.smtp_host is required');
  if (!credentials.smtp_port) throw invalidField('credentials.smtp_port', 'credentials.smtp_port is required');
  const record: EmailProviderRecord = {
    name: 'smtp',
    enabled: input.enabled ?? true,
    ...(input.default_from_address ? { default_from_address: input.default_from_address } : {}),
    credentials: {
      smtp_host: credentials.smtp_host,
      smtp_port: credentials.smtp_port,
      ...(credentials.smtp_user ? { smtp_user: credentials.smtp_user } : {}),
    },
    ...(credentials.smtp_pass ? { smtpPassSealed: secrets.encrypt(credentials.smtp_pass, SMTP_PASS_CONTEXT) } : {}),
    settings: checkSettings(input.settings ?? {}),
    updated_at: now,
  };
  if (!(await storage.emailProvider.insert(record))) throw conflict('An email provider is already configured', 'email_provider_exists');
  return presentProvider(record);
}

export async function updateProvider(
  storage: Pick<Storage, 'emailProvider'>,
  secrets: Encrypter,
  input: ProviderInput,
  now: string,
): Promise<ProviderView> {
  const current = await storage.emailProvider.get();
  if (!current) throw notConfigured();
  checkName(input.name);
  checkFrom(input.default_from_address);
  const given = checkCredentials(input.credentials ?? {});
  const credentials = {
    smtp_host: given.smtp_host ?? current.credentials.smtp_host,
    smtp_port: given.smtp_port ?? current.credentials.smtp_port,
    smtp_user: given.smtp_user ?? current.credentials.smtp_user,
  };
  const movesPassword =
    credentials.smtp_host !== current.credentials.smtp_host ||
    credentials.smtp_port !== current.credentials.smtp_port ||
    credentials.smtp_user !== current.credentials.smtp_user;
  if (movesPassword && current.smtpPassSealed && given.smtp_pass === undefined) {
    throw invalidField(
      'credentials.smtp_pass',
      'credentials.smtp_pass is required when smtp_host, smtp_port or smtp_user changes: the stored password is not sent to another server',
    );
  }
  let smtpPassSealed = current.smtpPassSealed;
  if (given.smtp_pass !== undefined) smtpPassSealed = given.smtp_pass ? secrets.encrypt(given.smtp_pass, SMTP_PASS_CONTEXT) : undefined;
  const { smtpPassSealed: _old, default_from_address: oldFrom, ...rest } = current;
  const from = input.default_from_address ?? oldFrom;
  const record: EmailProviderRecord = {
    ...rest,
    enabled: input.enabled ?? current.enabled,
    ...(from ? { default_from_address: from } : {}),
    credentials: {
      smtp_host: credentials.smtp_host,
      smtp_port: credentials.smtp_port,
      ...(credentials.smtp_user ? { smtp_user: credentials.smtp_user } : {}),
    },
    ...(smtpPassSealed ? { smtpPassSealed } : {}),
    settings: input.settings === undefined ? current.settings : checkSettings(input.settings ?? {}),
    updated_at: now,
  };
  if (!(await storage.emailProvider.update(record))) throw notConfigured();
  return presentProvider(record);
}

export async function deleteProvider(storage: Pick<Storage, 'emailProvider'>): Promise<void> {
  if (!(await storage.emailProvider.delete())) throw notConfigured();
}
