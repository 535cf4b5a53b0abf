import { type Kysely, Migrator, sql } from 'kysely';
import { migrationProvider } from '../migrations/index.js';
import type { Database } from '../schema.js';
import type { ChangeFeed, ChangeKind, ChangePublisher, Repositories, Storage } from '../types.js';
import { KyselyOpaqueAccessTokens } from './access-tokens.js';
import { KyselyActions } from './actions.js';
import { KyselyClientGrants } from './client-grants.js';
import { KyselyClients } from './clients.js';
import { KyselyAuthorizationCodes } from './codes.js';
import { KyselyConnections } from './connections.js';
import { KyselyConsents } from './consents.js';
import { KyselyDeviceCodes } from './device-codes.js';
import { KyselyEmailProvider } from './email-provider.js';
import { KyselyEmailTemplates } from './email-templates.js';
import { KyselyJobs } from './jobs.js';
import { KyselyLogEvents } from './log-events.js';
import { KyselyLogStreams } from './log-streams.js';
import { KyselyLoginTransactions } from './login-transactions.js';
import { KyselyMailOutbox } from './mail-outbox.js';
import { KyselyPermissions } from './permissions.js';
import { KyselyRateLimits } from './rate-limits.js';
import { KyselyRefreshTokens } from './refresh-tokens.js';
import { KyselyRegistrations } from './registrations.js';
import { KyselyResourceServers } from './resource-servers.js';
import { KyselyRoles } from './roles.js';
import { KyselySessions } from './sessions.js';
import { KyselySigningKeys } from './signing-keys.js';
import { KyselyTenant } from './tenant.js';
import { KyselyThrottles } from './throttles.js';
import { KyselyTickets } from './tickets.js';
import { KyselyUsers } from './users.js';

export { decodeCheckpoint } from './shared.js';

type Dialect = 'sqlite' | 'postgres';

/** Refresh tokens and sessions that ended this long ago are deleted by the sweep. */
const KEEP_ENDED_MS = 7 * 24 * 3600 * 1000;

/** Every repository over one handle: the database, or a transaction. */
function repositoriesOver(db: Kysely<Database>, dialect: Dialect, changes: ChangePublisher): Repositories {
  return {
    clients: new KyselyClients(db, changes),
    resourceServers: new KyselyResourceServers(db, dialect, changes),
    clientGrants: new KyselyClientGrants(db, changes),
    connections: new KyselyConnections(db, dialect, changes),
    users: new KyselyUsers(db, dialect),
    permissions: new KyselyPermissions(db),
    roles: new KyselyRoles(db, dialect),
    actions: new KyselyActions(db, dialect, changes),
    tenant: new KyselyTenant(db, changes),
    signingKeys: new KyselySigningKeys(db, changes),
    loginTransactions: new KyselyLoginTransactions(db),
    sessions: new KyselySessions(db),
    codes: new KyselyAuthorizationCodes(db),
    refreshTokens: new KyselyRefreshTokens(db),
    accessTokens: new KyselyOpaqueAccessTokens(db),
    consents: new KyselyConsents(db),
    throttles: new KyselyThrottles(db),
    deviceCodes: new KyselyDeviceCodes(db),
    registrations: new KyselyRegistrations(db),
    rateLimits: new KyselyRateLimits(db),
    jobs: new KyselyJobs(db, dialect),
    emailProvider: new KyselyEmailProvider(db),
    emailTemplates: new KyselyEmailTemplates(db),
    mailOutbox: new KyselyMailOutbox(db, changes),
    tickets: new KyselyTickets(db),
    logEvents: new KyselyLogEvents(db, dialect),
    logStreams: new KyselyLogStreams(db),
  };
}

/** Holds a transaction's change notices until it commits: before that, other nodes would reload the old rows. */
class ChangesAfterCommit implements ChangePublisher {
  private readonly pending: Array<[ChangeKind, string]> = [];

  async publish(kind: ChangeKind, key: string): Promise<void> {
    this.pending.push([kind, key]);
  }

  async flush(feed: ChangeFeed): Promise<void> {
    const seen = new Set<string>();
    for (const [kind, key] of this.pending) {
      const id = `${kind}\n${key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      await feed.publish(kind, key);
    }
  }
}

// The repositories are assigned in the constructor; this merge declares them on the class.
export interface KyselyStorage extends Repositories {}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: Object.assign in the constructor sets every member the interface declares.
export class KyselyStorage implements Storage {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    readonly changes: ChangeFeed,
    private readonly onClose: () => Promise<void> = async () => {},
    /**
     * PostgreSQL schema of the migration tables. Kysely looks for them in every schema unless told,
     * so a second latchkey schema in the same database would find the first one's and skip creating its own.
     */
    private readonly migrationSchema?: string,
  ) {
    Object.assign(this, repositoriesOver(db, dialect, changes));
  }

  async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    const changes = new ChangesAfterCommit();
    const result = await this.db.transaction().execute((trx) => fn(repositoriesOver(trx, this.dialect, changes)));
    await changes.flush(this.changes);
    return result;
  }

  /** Set by openPostgres: reads the pg Pool's counters. */
  poolStatsReader: (() => { total: number; idle: number; waiting: number }) | undefined;

  private migrator(): Migrator {
    return new Migrator({
      db: this.db,
      provider: migrationProvider,
      migrationTableName: 'latchkey_migrations',
      migrationLockTableName: 'latchkey_migrations_lock',
      ...(this.migrationSchema ? { migrationTableSchema: this.migrationSchema } : {}),
    });
  }

  async migrate(): Promise<void> {
    const { error, results } = await this.migrator().migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`Migration ${failed} failed: ${(error as Error).message}`);
    }
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async pendingMigrations(): Promise<string[]> {
    // Kysely reads the migration table (a missing table: every migration is pending).
    return (await this.migrator().getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
  }

  poolStats(): { total: number; idle: number; waiting: number } | undefined {
    return this.poolStatsReader?.();
  }

  async close(): Promise<void> {
    await this.onClose();
    await this.db.destroy();
  }

  async sweepExpired(now: string): Promise<void> {
    // Jobs first: their import chunks and export files are the largest rows there are.
    while ((await this.jobs.deleteExpired(now)) === 1000);
    const longAgo = new Date(Date.parse(now) - KEEP_ENDED_MS).toISOString();
    await this.db.deleteFrom('login_transactions').where('expires_at', '<', now).execute();
    await this.db.deleteFrom('device_codes').where('expires_at', '<', now).execute();
    // Used codes are kept past expiry for a while, so a late replay still revokes what they issued.
    await this.db.deleteFrom('authorization_codes').where('expires_at', '<', longAgo).execute();
    await this.db.deleteFrom('opaque_access_tokens').where('expires_at', '<', now).execute();
    await this.tickets.deleteExpired(now);
    await this.db
      .deleteFrom('login_throttle')
      .where('window_started_at', '<', longAgo)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .execute();
    await this.db.deleteFrom('sessions').where('expires_at', '<', longAgo).execute();
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', longAgo).execute();
    await this.db.deleteFrom('refresh_tokens').where('revoked_at', '<', longAgo).execute();
    await this.db.deleteFrom('rate_limit_windows').where('window_started_at', '<', longAgo).execute();
    // A family's mark goes only with its last token: a late successor left unmarked must stay refused.
    await this.db
      .deleteFrom('revoked_refresh_families')
      .where('revoked_at', '<', longAgo)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('refresh_tokens')
              .select('token_hash')
              .whereRef('refresh_tokens.family_id', '=', 'revoked_refresh_families.family_id'),
          ),
        ),
      )
      .execute();
  }
}
