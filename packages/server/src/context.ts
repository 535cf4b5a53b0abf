import type { ActionsRuntime } from './actions/flows.js';
import { BackgroundTasks } from './background.js';
import type { Config } from './config.js';
import { DownloadLinks } from './crypto/download-links.js';
import { Encrypter, MasterKey } from './crypto/encryption.js';
import { KeyRing } from './crypto/keys.js';
import { SecretDigester } from './crypto/secrets.js';
import { deployedFlow } from './domain/actions.js';
import type { PictureSettings } from './domain/default-picture.js';
import { JobRunner } from './domain/jobs/runner.js';
import { EventLog } from './events/event-log.js';
import { LogStreamDelivery } from './events/log-stream-delivery.js';
import { MailDelivery } from './mail/delivery.js';
import { OutboxMailer } from './mail/mailer.js';
import { type GrantRegistry, grantRegistry } from './oauth/grants/index.js';
import { describeDatabaseUrl, errorText, StartupError } from './startup-checks.js';
import { Lookups } from './storage/cache.js';
import { openStorage } from './storage/index.js';
import type { Storage } from './storage/types.js';

/** Everything request handling needs, built once at start and passed down explicitly. */
export interface ServerContext {
  config: Config;
  issuer: string;
  storage: Storage;
  lookups: Lookups;
  keys: KeyRing;
  digester: SecretDigester;
  /** Encrypts upstream secrets at rest: connection client secrets, identity provider tokens. */
  secrets: Encrypter;
  /** How users without a picture get one (initials avatar or Gravatar). */
  pictures: PictureSettings;
  /** The token endpoint's grants; the token parameters, clients' grant types and discovery follow from it. */
  grants: GrantRegistry;
  /** Runs bulk import and export jobs in the background (started with the server). */
  jobs: JobRunner;
  /** Signs and checks the links export files are downloaded from. */
  downloads: DownloadLinks;
  now: () => number;
  /** Work that outlives its request; stopped (between steps) when the server closes. */
  background: BackgroundTasks;
  /** Runs the deployed Actions of a trigger (its `log` is set by app.ts, its sandbox limits by config or tests). */
  actions: ActionsRuntime;
  /** Renders mails into the outbox, in the caller's transaction (mail/mailer.ts); delivered in the background. */
  mail: OutboxMailer;
  /** Sends the outbox through the email provider, in the background on every node (started with the server). */
  mailDelivery: MailDelivery;
  /** Tenant log events: buffered, written in batches in the background (events/event-log.ts). */
  events: EventLog;
  /** Delivers log streams from their cursors in the background (events/log-stream-delivery.ts). */
  logStreams: LogStreamDelivery;
}

export interface OpenedContext {
  ctx: ServerContext;
  masterKeyCreatedAt?: string;
}

export function masterKeyFor(config: Config): { key: MasterKey; createdAt?: string } {
  if (config.masterKey) {
    try {
      return { key: MasterKey.parse(config.masterKey) };
    } catch (err) {
      throw new StartupError(`latchkey: ${errorText(err)}`);
    }
  }
  try {
    const { key, created, path } = MasterKey.loadOrCreate(config.dataDir);
    return created ? { key, createdAt: path } : { key };
  } catch (err) {
    throw new StartupError(`latchkey: cannot load or create the master key in LATCHKEY_DATA_DIR (${config.dataDir}): ${errorText(err)}`);
  }
}

/**
 * Opens the database, runs migrations and loads the master key. Does not bootstrap the tenant. The
 * database comes first: if it cannot be reached, nothing (not even a master key) has been created.
 */
export async function openContext(config: Config, now: () => number = Date.now): Promise<OpenedContext> {
  let storage: Storage | undefined;
  let key: MasterKey;
  let createdAt: string | undefined;
  try {
    storage = await openStorage(config.databaseUrl);
    await storage.migrate();
  } catch (err) {
    await storage?.close().catch(() => {});
    throw new StartupError(
      `latchkey: cannot open the database LATCHKEY_DATABASE_URL (${describeDatabaseUrl(config.databaseUrl)}): ${errorText(err)}`,
      { cause: err },
    );
  }
  try {
    ({ key, createdAt } = masterKeyFor(config));
  } catch (err) {
    await storage.close();
    throw err;
  }
  const secrets = new Encrypter(key, 'upstream secrets');
  const digester = new SecretDigester(key);
  const ctx: ServerContext = {
    config,
    issuer: config.issuer,
    storage,
    lookups: new Lookups(storage, config.cacheTtlSeconds * 1000, now),
    keys: new KeyRing(storage, new Encrypter(key, 'signing keys'), storage.changes, now, config.cacheTtlSeconds * 1000),
    digester,
    secrets,
    pictures: { issuer: config.issuer, mode: config.defaultPicture },
    grants: grantRegistry,
    jobs: new JobRunner(storage, { now, leaseMs: config.jobsLeaseSeconds * 1000 }),
    downloads: new DownloadLinks(key),
    now,
    background: new BackgroundTasks(),
    events: new EventLog(storage.logEvents, { now, retentionDays: config.logsRetentionDays, maxEvents: config.logsMaxEvents }),
    logStreams: new LogStreamDelivery(storage.logStreams, storage.logEvents, secrets, { now }),
    actions: {
      flow: (trigger) => deployedFlow(ctx, trigger),
      sandbox: {
        cpuTimeMs: config.actionsCpuTimeMs,
        wallTimeMs: config.actionsWallTimeMs,
        memoryBytes: config.actionsMemoryMb * 1024 * 1024,
      },
    },
    mail: new OutboxMailer({
      storage,
      secrets,
      digester,
      issuer: config.issuer,
      now,
      limits: { perRecipientPerHour: config.mailPerRecipientPerHour, maxPending: config.mailMaxPending },
    }),
    mailDelivery: new MailDelivery(storage, secrets, {
      now,
      maxAttempts: config.mailMaxAttempts,
      retryBaseMs: config.mailRetrySeconds * 1000,
      retryMaxMs: Math.max(config.mailRetrySeconds, config.mailRetryMaxSeconds) * 1000,
      leaseMs: config.mailLeaseSeconds * 1000,
      retentionMs: config.mailRetentionHours * 3600_000,
      expireMs: config.mailExpireHours * 3600_000,
    }),
  };
  return createdAt ? { ctx, masterKeyCreatedAt: createdAt } : { ctx };
}
