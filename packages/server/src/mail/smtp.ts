import nodemailer, { type Transporter } from 'nodemailer';
import type { Encrypter } from '../crypto/encryption.js';
import type { EmailProviderRecord, MailContent } from './types.js';

/** The associated data the SMTP password is sealed with. */
export const SMTP_PASS_CONTEXT = 'email_provider smtp_pass';

/** Bounds on one delivery attempt, so a server that accepts and then stalls cannot hold a node's delivery. */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, dnsTimeout: 10_000 };

/** Sends one mail; rejects with nodemailer's error (its `responseCode` and `command` say what the server refused). */
export type SendMail = (mail: MailContent) => Promise<void>;

/**
 * The SMTP client for a provider. TLS (Auth0's provider has no field for it): port 465 is implicit TLS
 * (SMTPS); on any other port the connection is upgraded with STARTTLS whenever the server offers it,
 * and `settings.require_tls: true` refuses to send over a server that does not. Certificates are
 * always verified against the system's CAs.
 */
export function smtpSender(provider: EmailProviderRecord, secrets: Encrypter): { send: SendMail; close: () => void } {
  const { smtp_host: host, smtp_port: port, smtp_user: user } = provider.credentials;
  const pass = provider.smtpPassSealed ? secrets.decrypt(provider.smtpPassSealed, SMTP_PASS_CONTEXT) : undefined;
  const transport: Transporter = nodemailer.createTransport({
    host,
    port,
    secure: port === 465,
    requireTLS: port !== 465 && provider.settings.require_tls === true,
    ...(user ? { auth: { user, pass: pass ?? '' } } : {}),
    ...SMTP_TIMEOUTS,
    tls: { minVersion: 'TLSv1.2', servername: host },
    // Mail content comes from templates: nodemailer must never read a file or fetch a URL for it.
    disableFileAccess: true,
    disableUrlAccess: true,
    // One connection for the mails of one delivery round.
    pool: true,
    maxConnections: 1,
  });
  return {
    send: async (mail) => {
      await transport.sendMail({
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
        ...(mail.headers ? { headers: mail.headers } : {}),
      });
    },
    close: () => transport.close(),
  };
}
