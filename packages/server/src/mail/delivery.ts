import { randomUUID } from 'node:crypto';
import { PollingLoop } from '../background.js';
import type { Encrypter } from '../crypto/encryption.js';
import type { Storage } from '../storage/types.js';
import { type MailLog, openMail } from './mailer.js';
import { type SendMail, smtpSender } from './smtp.js';
import type { EmailProviderRecord, OutboxMailRecord } from './types.js';

export interface DeliveryOptions {
  now: () => number;
  /** Attempts before a mail fails for good. */
  maxAttempts: number;
  /** The first retry's delay; each further one doubles, up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a node's claim on a mail lasts: above the SMTP timeouts of one attempt (mail/smtp.ts). */
  leaseMs: number;
  /** Sent mails are deleted this long after sending (they hold one-time links). */
  retentionMs: number;
  /** A mail not delivered within this long fails (it announces something that is stale by then). */
  expireMs: number;
  /** How often an idle node looks for due mails (it is also woken when a mail is queued on any node). */
  pollMs?: number;
  /** Replaces SMTP (tests). */
  sender?: (provider: EmailProviderRecord) => { send: SendMail; close: () => void };
}

/** Failed mails are kept this long for an admin to see why, then deleted. */
const KEEP_FAILED_MS = 7 * 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 60_000;

/** An SMTP answer that no retry will change: the server refused the recipient itself (5xx to RCPT TO). */
function permanent(err: unknown): boolean {
  const { responseCode, command } = err as { responseCode?: number; command?: string };
  return typeof responseCode === 'number' && responseCode >= 500 && command === 'RCPT TO';
}

function describe(err: unknown): string {
  const { response, code, message } = err as { response?: string; code?: string; message?: string };
  return [code, response ?? message ?? String(err)].filter(Boolean).join(': ');
}

/**
 * Delivers the outbox in the background on every node. A node claims one mail at a time with a
 * compare-and-set on its lease (storage/kysely/mail-outbox.ts), sends it, and records the outcome
 * only while it still holds the claim; so with several nodes each mail is sent by one of them. A
 * node that dies mid-send leaves the lease to run out, and the mail is retried (at-least-once: a
 * crash between the SMTP server's acceptance and the commit sends it again). A failed attempt is
 * retried with exponential backoff; after `maxAttempts` the mail fails visibly (status and error
 * kept). Nothing here runs in a request: an SMTP outage delays mail, never a response.
 *
 * Without an enabled provider nothing is claimed: mails wait in the outbox (readable through the
 * Management API) and go out once a provider is configured, unless they expired meanwhile.
 */
export class MailDelivery {
  readonly nodeId = randomUUID();
  private readonly loop = new PollingLoop(
    () => this.round(),
    (err) => this.log.error({ err }, 'mail delivery failed'),
  );
  private lastPrune = 0;
  /** Set to the server's logger once it exists. */
  log: MailLog = { warn: () => {}, error: () => {} };

  constructor(
    private readonly storage: Storage,
    private readonly secrets: Encrypter,
    private readonly options: DeliveryOptions,
  ) {}

  start(): void {
    this.storage.changes.subscribe((kind) => {
      if (kind === 'mail_outbox') this.wake();
    });
    this.loop.start(this.options.pollMs ?? 2_000);
  }

  /** Looks for due mails now (once started: an outbox change on a server that does not deliver is ignored). */
  wake(): void {
    if (this.loop.started) this.loop.wake();
  }

  /** Stops taking mails and waits for the one being sent. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private iso(offsetMs = 0): string {
    return new Date(this.options.now() + offsetMs).toISOString();
  }

  private async round(): Promise<void> {
    await this.prune();
    const provider = await this.storage.emailProvider.get();
    if (!provider?.enabled) return;
    let sender: { send: SendMail; close: () => void } | undefined;
    try {
      while (!this.loop.stopped) {
        const mail = await this.storage.mailOutbox.claim(this.nodeId, this.iso(), this.iso(this.options.leaseMs));
        if (!mail) return;
        sender ??= this.options.sender ? this.options.sender(provider) : smtpSender(provider, this.secrets);
        await this.deliver(mail, sender.send);
      }
    } finally {
      sender?.close();
    }
  }

  private async deliver(mail: OutboxMailRecord, send: SendMail): Promise<void> {
    let content: ReturnType<typeof openMail>;
    try {
      content = openMail(this.secrets, mail);
    } catch (err) {
      // Sealed under another master key, or altered: no retry opens it.
      await this.storage.mailOutbox.settle(mail.id, this.nodeId, {
        status: 'failed',
        error: `The mail cannot be opened: ${describe(err)}`,
      });
      return;
    }
    try {
      await send(content);
    } catch (err) {
      const error = describe(err);
      if (permanent(err) || mail.attempts >= this.options.maxAttempts) {
        this.log.error({ mail: mail.id, template: mail.template, attempts: mail.attempts, error }, 'mail could not be delivered: gave up');
        await this.storage.mailOutbox.settle(mail.id, this.nodeId, { status: 'failed', error });
        return;
      }
      const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (mail.attempts - 1));
      // Jitter, so that nodes retrying a recovered server do not all arrive at once.
      const nextAttemptAt = this.iso(Math.round(delay * (0.9 + Math.random() * 0.2)));
      this.log.warn(
        { mail: mail.id, template: mail.template, attempts: mail.attempts, nextAttemptAt, error },
        'mail delivery failed: will retry',
      );
      await this.storage.mailOutbox.settle(mail.id, this.nodeId, { status: 'pending', nextAttemptAt, error });
      return;
    }
    if (!(await this.storage.mailOutbox.settle(mail.id, this.nodeId, { status: 'sent', at: this.iso() }))) {
      // Our lease ran out during the send and another node took the mail: it may go out twice.
      this.log.warn({ mail: mail.id }, 'mail was sent after its claim ran out');
    }
  }

  private async prune(): Promise<void> {
    const now = this.options.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    while (
      (await this.storage.mailOutbox.prune({
        now: this.iso(),
        sentBefore: this.iso(-this.options.retentionMs),
        failedBefore: this.iso(-Math.max(KEEP_FAILED_MS, this.options.retentionMs)),
        pendingBefore: this.iso(-this.options.expireMs),
      })) === 1000
    );
  }
}
