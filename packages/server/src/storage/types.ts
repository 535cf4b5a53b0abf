/**
 * What latchkey persists: one repository per aggregate (as fosite's narrow storage interfaces), composed
 * into one `Storage` with `transaction(fn)`. Callers depend on the repositories they use
 * (`Pick<Storage, 'users' | 'sessions'>`), and both SQL backends pass one conformance suite.
 * Each repository writes one aggregate; what spans several (cascading deletes) is in domain/.
 */

import type { ActionListFilter, ActionRecord, ActionVersionRecord, BindingRecord, DeployedFlowRow } from '../domain/action-types.js';
import type { TriggerId } from '../domain/actions.js';
import type { JobRecord } from '../domain/jobs/types.js';
import type { TicketPurpose, TicketRecord } from '../domain/ticket-types.js';
import type {
  AuthorizationCodeData,
  AuthorizationCodeRecord,
  Client,
  ClientGrant,
  ClientRecord,
  Connection,
  ConsentRecord,
  DeviceCodeRecord,
  HeldPermission,
  LoginTransaction,
  OpaqueAccessTokenData,
  Page,
  PageRequest,
  RefreshTokenRecord,
  ResourceServer,
  Role,
  Session,
  SigningKeyRecord,
  TenantSettings,
  User,
  UserPermission,
  UserRecord,
} from '../domain/types.js';
import type { UserSearch } from '../domain/user-search.js';
import type { LogFilter } from '../events/log-query.js';
import type { LogEvent } from '../events/types.js';
import type { EmailProviderRecord, EmailTemplateRecord, OutboxMailRecord, OutboxStatus } from '../mail/types.js';

export interface ClientRepository {
  get(clientId: string): Promise<ClientRecord | undefined>;
  /** Auth0's list filters, in SQL: `app_type` any of these ('' for none), `is_first_party` equal. */
  list(page: PageRequest, filter?: { app_type?: string[]; is_first_party?: boolean; is_system?: boolean }): Promise<Page<Client>>;
  /**
   * Inserts a client with its browser origins. A dynamically registered client is counted, and is
   * refused (false) when `maxRegistered` of them exist already: the check and the insert are atomic.
   */
  insert(record: ClientRecord, options?: { maxRegistered?: number }): Promise<boolean>;
  update(client: Client, secretDigest?: string): Promise<boolean>;
  /** Deletes the client and its origins (nothing else: see domain/clients.ts for the cascade). */
  delete(clientId: string): Promise<boolean>;
  /** Whether some client allows this origin key (see oauth/browser-origins.ts): one indexed lookup. */
  originExists(key: string): Promise<boolean>;
  /** How many dynamically registered clients exist. */
  countRegistered(): Promise<number>;
}

/** Fixed-window counters in the database, so that every node shares one limit. */
export interface RateLimitRepository {
  /** Counts one hit for `key` in the window that began at `windowStartedAt` (a new window restarts at 1); returns the hits so far. */
  hit(key: string, windowStartedAt: string): Promise<number>;
}

export interface ResourceServerRepository {
  get(id: string): Promise<ResourceServer | undefined>;
  getByIdentifier(identifier: string): Promise<ResourceServer | undefined>;
  /**
   * getByIdentifier, inside a transaction, holding the API until it ends: its deletion or update waits,
   * so what the transaction grants on it is seen (and removed) by them. SQLite's transactions are serial.
   */
  lockByIdentifier(identifier: string): Promise<ResourceServer | undefined>;
  list(page: PageRequest, filter?: { identifiers?: string[] }): Promise<Page<ResourceServer>>;
  /** Resolves false when the identifier is taken. */
  insert(rs: ResourceServer): Promise<boolean>;
  update(rs: ResourceServer): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

export interface ClientGrantFilter {
  client_id?: string;
  audience?: string;
}

export interface ClientGrantRepository {
  get(id: string): Promise<ClientGrant | undefined>;
  find(clientId: string, audience: string): Promise<ClientGrant | undefined>;
  list(filter: ClientGrantFilter, page: PageRequest): Promise<Page<ClientGrant>>;
  /** Resolves false when the client already has a grant for that audience. */
  insert(grant: ClientGrant): Promise<boolean>;
  update(grant: ClientGrant): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  deleteWhere(filter: ClientGrantFilter): Promise<void>;
}

export interface ConnectionRepository {
  get(id: string): Promise<Connection | undefined>;
  getByName(name: string): Promise<Connection | undefined>;
  /**
   * get, inside a transaction, holding the connection until it ends: another change to it (its
   * enabled clients, a client's deletion) waits, so read-modify-writes of the row never lose one another's.
   */
  lock(id: string): Promise<Connection | undefined>;
  list(filter: { strategy?: string; name?: string }, page: PageRequest): Promise<Page<Connection>>;
  /** Resolves false when the name is taken. */
  insert(connection: Connection): Promise<boolean>;
  update(connection: Connection): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

/** What `users.insertMany` wrote: `skipped` in the order of the records, `index` being a record's position. */
export interface InsertManyResult {
  inserted: number;
  skipped: Array<{ index: number; userId: string; taken: 'user_id' | 'email' | 'username' }>;
}

export interface UserRepository {
  get(userId: string): Promise<UserRecord | undefined>;
  /**
   * get, inside a transaction, holding the user until it ends: a read-modify-write of the user (a
   * sign-in's count, an Action's metadata, an admin's PATCH) waits for another rather than overwriting it.
   */
  lock(userId: string): Promise<UserRecord | undefined>;
  findByEmail(connection: string, email: string): Promise<UserRecord | undefined>;
  findByUsername(connection: string, username: string): Promise<UserRecord | undefined>;
  /** Users with this email (case-insensitively) on any connection, oldest first. */
  listByEmail(email: string): Promise<User[]>;
  list(page: PageRequest): Promise<Page<User>>;
  /** `GET /api/v2/users` with q, sort or connection, in SQL (storage/kysely/user-query.ts). */
  search(search: UserSearch, page: PageRequest & { kind: 'offset' }): Promise<Page<User>>;
  /** Up to `limit` ids of the connection's users, for deleting a connection's users in batches. */
  listIdsOf(connection: string, limit: number): Promise<string[]>;
  /** The distinct connection names users are on (one index seek per name, however many users). */
  connectionNames(): Promise<string[]>;
  /**
   * Up to `limit` users with their password hashes, in user_id order after `afterUserId` (keyset paging),
   * optionally of one connection: for `latchkey users export`, which holds one page at a time.
   */
  listRecordsAfter(filter: { connection?: string; afterUserId?: string }, limit: number): Promise<UserRecord[]>;
  /** Resolves false when the email or username is taken on that connection. */
  insert(record: UserRecord): Promise<boolean>;
  /**
   * Inserts many users in one transaction (the caller's inside `storage.transaction`), in multi-row statements.
   * A record whose user_id, or email or username on its connection, is taken (stored, or by an earlier record
   * of `records`) is skipped and reported by its position with what was taken; the others are written.
   */
  insertMany(records: UserRecord[]): Promise<InsertManyResult>;
  /**
   * Resolves 'conflict' when a changed email or username is taken. With `ifPasswordHash`, writes only
   * while the stored hash is still that one (false otherwise): a compare-and-set for sign-ins.
   */
  update(record: UserRecord, options?: { ifPasswordHash?: string | null }): Promise<boolean | 'conflict'>;
  /** Deletes the user row only: see domain/users.ts for what goes with it. */
  delete(userId: string): Promise<boolean>;
  /** Deletes these users' rows (and their search terms) in a constant number of statements. */
  deleteMany(userIds: string[]): Promise<void>;
  /** Which of these user ids exist, in one statement. */
  existingIds(userIds: string[]): Promise<string[]>;
  /**
   * existingIds, inside a transaction, holding those users until it ends: their deletion waits, so what
   * the transaction grants them (roles, permissions) is seen, and removed, by it. SQLite's transactions are serial.
   */
  lockIds(userIds: string[]): Promise<string[]>;
}

/**
 * Bulk import and export jobs with what they hold (storage/kysely/jobs.ts). A job is run by the one
 * node that claimed it; every write of its progress is a compare-and-set on that claim.
 */
export interface JobRepository {
  /** Inserts the job unless `maxActive` unfinished jobs of its type exist: the count and the insert are atomic. */
  create(job: JobRecord, maxActive: number): Promise<boolean>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Writes the job only while `owner` (null: nobody) holds it; false when another node took it over. */
  save(job: JobRecord, owner: string | null): Promise<boolean>;
  /** Takes the oldest pending job, or a running one whose lease ran out (its node died), for `owner` until `leaseUntil`. */
  claim(owner: string, now: string, leaseUntil: string): Promise<JobRecord | undefined>;
  putChunk(jobId: string, seq: number, data: string): Promise<void>;
  getChunk(jobId: string, seq: number): Promise<string | undefined>;
  deleteChunks(jobId: string): Promise<void>;
  /** Per-user errors keyed by the user's position in the file (a repeated key is ignored). */
  addErrors(jobId: string, errors: Array<{ seq: number; data: string }>): Promise<void>;
  listErrors(jobId: string, limit: number): Promise<string[]>;
  putFilePart(jobId: string, seq: number, data: Buffer): Promise<void>;
  getFilePart(jobId: string, seq: number): Promise<Buffer | undefined>;
  /** Deletes the job and everything it holds. */
  delete(jobId: string): Promise<void>;
  /**
   * After a bulk import: refreshes PostgreSQL's statistics of the user tables, which a large import
   * leaves stale until autovacuum comes by (an export right after then sorted whole connections).
   */
  analyzeUsers(): Promise<void>;
  /** Deletes up to 1000 expired jobs (and abandoned uploads) with what they hold; resolves how many. */
  deleteExpired(now: string): Promise<number>;
}

/** Auth0's one email provider of the tenant. */
export interface EmailProviderRepository {
  get(): Promise<EmailProviderRecord | undefined>;
  /** Resolves false when a provider exists already. */
  insert(provider: EmailProviderRecord): Promise<boolean>;
  /** Resolves false when there is no provider. */
  update(provider: EmailProviderRecord): Promise<boolean>;
  delete(): Promise<boolean>;
}

/** The email templates the Management API stored (a name never stored is sent with latchkey's default). */
export interface EmailTemplateRepository {
  get(name: string): Promise<EmailTemplateRecord | undefined>;
  /** Resolves false when the template exists already. */
  insert(template: EmailTemplateRecord): Promise<boolean>;
  /** Resolves false when the template does not exist. */
  update(template: EmailTemplateRecord): Promise<boolean>;
}

/** What an outbox insert was refused for (a backstop against filling the outbox). */
export type OutboxRefusal = 'recipient_limit' | 'outbox_full';

/**
 * Mails waiting for delivery, sent and failed (storage/kysely/mail-outbox.ts). A mail is delivered by
 * the one node that claimed it; every write of its outcome is a compare-and-set on that claim.
 */
export interface MailOutboxRepository {
  /**
   * Inserts the mail unless `perRecipient` mails to its recipient were created since `since`, or
   * `maxPending` mails are pending; announces it (change `mail_outbox`) so that idle nodes look for work.
   */
  insert(mail: OutboxMailRecord, limits: { since: string; perRecipient: number; maxPending: number }): Promise<true | OutboxRefusal>;
  get(id: string): Promise<OutboxMailRecord | undefined>;
  /** Newest first. */
  list(filter: { status?: OutboxStatus }, page: PageRequest & { kind: 'offset' }): Promise<Page<OutboxMailRecord>>;
  countPending(): Promise<number>;
  /**
   * Takes the most overdue pending mail whose lease is free or ran out, for `owner` until `leaseUntil`,
   * counting an attempt on it (so a mail whose node keeps dying still runs out of attempts).
   */
  claim(owner: string, now: string, leaseUntil: string): Promise<OutboxMailRecord | undefined>;
  /** Records the outcome of an attempt, only while `owner` holds the mail; false when another node took it over. */
  settle(
    id: string,
    owner: string,
    outcome:
      | { status: 'sent'; at: string }
      | { status: 'pending'; nextAttemptAt: string; error: string }
      | { status: 'failed'; error: string },
  ): Promise<boolean>;
  /** Puts a failed mail back in the queue with its attempts reset (an admin's retry); false when it is not failed. */
  requeue(id: string, now: string): Promise<boolean>;
  /**
   * Fails pending mails created before `pendingBefore` (not delivered in time) that no node is sending at `now`,
   * then deletes up to 1000 mails sent before `sentBefore` or failed and created before `failedBefore`;
   * resolves how many it deleted.
   */
  prune(bounds: { now: string; sentBefore: string; failedBefore: string; pendingBefore: string }): Promise<number>;
}

export interface TenantRepository {
  get(): Promise<TenantSettings | undefined>;
  /** Resolves false when the tenant already exists: the one node that gets true bootstraps it. */
  create(settings: TenantSettings): Promise<boolean>;
  put(settings: TenantSettings): Promise<void>;
}

export interface SigningKeyRepository {
  list(): Promise<SigningKeyRecord[]>;
  /** Adds a new current key and retires the previous current one, in one transaction. */
  rotate(next: SigningKeyRecord, publishPreviousUntil: string): Promise<void>;
}

export interface LoginTransactionRepository {
  put(tx: LoginTransaction): Promise<void>;
  /** Keeps `newestId` and the `keep - 1` other transactions of a source that expire last; deletes the rest of that source. */
  trim(source: string, keep: number, newestId: string): Promise<void>;
  get(id: string): Promise<LoginTransaction | undefined>;
  delete(id: string): Promise<void>;
}

export interface SessionRepository {
  create(idHash: string, session: Session): Promise<void>;
  get(idHash: string): Promise<Session | undefined>;
  touch(idHash: string, lastSeenAt: string): Promise<void>;
  end(idHash: string, endedAt: string): Promise<void>;
  /** Ends every live session of the user. */
  endAllOf(userId: string, endedAt: string): Promise<void>;
  /** Ends every live session of these users, in one statement. */
  endAllOfMany(userIds: string[], endedAt: string): Promise<void>;
}

export interface AuthorizationCodeRepository {
  insert(codeHash: string, data: AuthorizationCodeData, expiresAt: string): Promise<void>;
  get(codeHash: string): Promise<AuthorizationCodeRecord | undefined>;
  /** Marks a code used, atomically: true for exactly one caller. */
  claim(codeHash: string, now: string): Promise<boolean>;
  /** Marks a code as presented again after its redemption. */
  markReplayed(codeHash: string, now: string): Promise<void>;
  /** Remembers what a redeemed code issued, so that a replay of the code can revoke it. */
  recordTokens(codeHash: string, issued: { familyId?: string; accessTokenHash?: string }): Promise<void>;
}

export interface RefreshTokenRepository {
  insert(tokenHash: string, record: RefreshTokenRecord): Promise<void>;
  get(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /** Compare-and-set: true for the one caller that rotated the token first. */
  markRotated(tokenHash: string, now: string): Promise<boolean>;
  /** Slides the idle expiry of a non-rotating token. */
  extend(tokenHash: string, expiresAt: string | null): Promise<void>;
  revokeFamily(familyId: string, now: string): Promise<void>;
  /** Revokes every refresh token the client (or every client) holds for the user. */
  revokeAllOf(userId: string, clientId: string | undefined, now: string): Promise<void>;
  /** Revokes every refresh token of these users, whole families, in a constant number of statements. */
  revokeAllOfMany(userIds: string[], now: string): Promise<void>;
  /** Revokes every refresh token issued to the client, whoever the user. */
  revokeAllFor(clientId: string, now: string): Promise<void>;
  /** Revokes every refresh token issued for the API, whoever the client and user. */
  revokeAllForAudience(audience: string, now: string): Promise<void>;
}

export interface OpaqueAccessTokenRepository {
  insert(tokenHash: string, data: OpaqueAccessTokenData): Promise<void>;
  get(tokenHash: string): Promise<OpaqueAccessTokenData | undefined>;
  delete(tokenHash: string): Promise<void>;
  deleteAllOf(userId: string): Promise<void>;
  deleteAllOfMany(userIds: string[]): Promise<void>;
}

export interface ConsentRepository {
  get(userId: string, clientId: string, audience: string): Promise<ConsentRecord | undefined>;
  put(consent: Omit<ConsentRecord, 'id'>): Promise<void>;
  list(filter: { userId?: string; clientId?: string; audience?: string }): Promise<ConsentRecord[]>;
  /** Deletes the user's consents (to one client, when given). */
  deleteAllOf(userId: string, clientId?: string): Promise<void>;
  /** Deletes every consent of these users. */
  deleteAllOfMany(userIds: string[]): Promise<void>;
  /** Deletes every user's consents to the client. */
  deleteAllFor(clientId: string): Promise<void>;
  /** Deletes one consent by id and returns it, if it existed. */
  delete(id: string): Promise<ConsentRecord | undefined>;
}

export interface LoginThrottle {
  failures: number;
  windowStartedAt: string;
  lockedUntil: string | null;
}

export interface ThrottleRepository {
  /**
   * Counts a failure in a fixed window (restarted when it began before `windowStartedBefore`), unless
   * the key is locked at `now`, and returns the count so far and any lock in force.
   */
  recordFailure(key: string, now: string, windowStartedBefore: string): Promise<LoginThrottle>;
  get(key: string): Promise<LoginThrottle | undefined>;
  lock(key: string, until: string): Promise<void>;
  /** Locks the key until `until` unless a lock is in force at `now`: true for the one caller that locked it. */
  lockIfOpen(key: string, until: string, now: string): Promise<boolean>;
  clear(key: string): Promise<void>;
  /** Takes one counted failure back (an attempt that turned out good). */
  forgiveFailure(key: string): Promise<void>;
}

/** One-time links sent by email (domain/tickets.ts), by the digest of the ticket. */
export interface TicketRepository {
  insert(idHash: string, ticket: TicketRecord): Promise<void>;
  get(idHash: string): Promise<TicketRecord | undefined>;
  /** Marks the ticket used if it is one for `purpose`, unused and unexpired at `now`: the ticket for exactly one caller. */
  use(idHash: string, purpose: TicketPurpose, now: string): Promise<TicketRecord | undefined>;
  /** Marks the user's unused tickets for these purposes used (a password or email change). */
  invalidate(userId: string, purposes: TicketPurpose[], now: string): Promise<void>;
  /** Deletes every ticket of these users (they are deleted). */
  deleteAllOf(userIds: string[]): Promise<void>;
  deleteExpired(now: string): Promise<void>;
}

export interface DeviceCodeRepository {
  insert(deviceCodeHash: string, record: DeviceCodeRecord): Promise<boolean>;
  get(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined>;
  findByUserCode(userCode: string): Promise<{ deviceCodeHash: string; record: DeviceCodeRecord } | undefined>;
  /** Moves a pending request to approved or denied: true for exactly one caller. */
  decide(deviceCodeHash: string, decision: 'approved' | 'denied', approval?: DeviceCodeRecord['approval']): Promise<boolean>;
  /** Records a poll and returns the previous poll time, for slow_down (RFC 8628 §3.5). */
  recordPoll(deviceCodeHash: string, now: string): Promise<string | null>;
  /** Moves an approved request to consumed: true for exactly one caller. */
  consume(deviceCodeHash: string): Promise<boolean>;
}

/** RFC 7592 registration access tokens, as digests, per dynamically registered client. */
export interface RegistrationRepository {
  putTokenDigest(clientId: string, digest: string): Promise<void>;
  getTokenDigest(clientId: string): Promise<string | undefined>;
  delete(clientId: string): Promise<void>;
}

export interface PermissionRepository {
  /** Assigns permissions; ones the user already has stay as they are. */
  add(userId: string, permissions: UserPermission[], now: string): Promise<void>;
  remove(userId: string, permissions: UserPermission[]): Promise<void>;
  /** Removes every permission of the user. */
  removeAllOf(userId: string): Promise<void>;
  /** Removes every permission of these users. */
  removeAllOfMany(userIds: string[]): Promise<void>;
  /** Removes an API's permissions (those named, or all) from every user. */
  removeForApi(audience: string, permissions?: string[]): Promise<void>;
  /** The user's permissions (for one API, when given), by API and name. */
  list(userId: string, audience?: string): Promise<UserPermission[]>;
  /**
   * What the user holds (for one API, when given), direct and through its roles, in one statement:
   * a permission held several ways comes once per way, by API and name.
   */
  listHeld(userId: string, audience?: string): Promise<HeldPermission[]>;
}

/** Roles, their permissions and their members (Auth0's RBAC roles). */
export interface RoleRepository {
  get(id: string): Promise<Role | undefined>;
  /** Which of these role ids exist, in one statement. */
  existingIds(ids: string[]): Promise<string[]>;
  /** Ordered by name; `nameFilter` keeps the names containing it, case-insensitively. */
  list(filter: { nameFilter?: string }, page: PageRequest & { kind: 'offset' }): Promise<Page<Role>>;
  /** Resolves false when the name is taken. */
  insert(role: Role, now: string): Promise<boolean>;
  /** Resolves 'conflict' when a changed name is taken, false when the role is gone. */
  update(role: Role): Promise<boolean | 'conflict'>;
  /** Deletes the role row only: domain/roles.ts removes its permissions and members with it. */
  delete(id: string): Promise<boolean>;

  /** Adds permissions to the role; ones it has stay as they are. */
  addPermissions(roleId: string, permissions: UserPermission[], now: string): Promise<void>;
  removePermissions(roleId: string, permissions: UserPermission[]): Promise<void>;
  removeAllPermissionsOf(roleId: string): Promise<void>;
  /** Removes an API's permissions (those named, or all) from every role. */
  removePermissionsForApi(audience: string, permissions?: string[]): Promise<void>;
  /** The role's permissions by API and name. */
  listPermissions(roleId: string, page: PageRequest & { kind: 'offset' }): Promise<Page<UserPermission>>;

  /** Gives every one of these users every one of these roles; assignments that exist stay as they are. */
  assign(userIds: string[], roleIds: string[], now: string): Promise<void>;
  unassign(userId: string, roleIds: string[]): Promise<void>;
  /** Takes the role from every user. */
  removeAllMembersOf(roleId: string): Promise<void>;
  /** Takes every role from these users. */
  removeAllRolesOfMany(userIds: string[]): Promise<void>;
  /** The role's users, in assignment order (offset or checkpoint paging). */
  listMembers(roleId: string, page: PageRequest): Promise<Page<User>>;
  /** The user's roles, by name. */
  listRolesOf(userId: string, page: PageRequest & { kind: 'offset' }): Promise<Page<Role>>;
}

/**
 * Auth0 Actions: drafts, their numbered versions and the triggers' ordered bindings. Every write that
 * can change what a trigger runs announces `action_flow` with that trigger's id.
 */
export interface ActionRepository {
  get(id: string): Promise<ActionRecord | undefined>;
  /** get, inside a transaction, holding the action until it ends: a parallel deploy of it waits. */
  lock(id: string): Promise<ActionRecord | undefined>;
  getByName(name: string): Promise<ActionRecord | undefined>;
  /** Ordered by creation. */
  list(filter: ActionListFilter, page: PageRequest & { kind: 'offset' }): Promise<Page<ActionRecord>>;
  count(): Promise<number>;
  /** Resolves false when the name is taken. */
  insert(action: ActionRecord): Promise<boolean>;
  /** Writes the draft (and deployment fields); 'conflict' when a changed name is taken, false when the action is gone. */
  update(action: ActionRecord): Promise<boolean | 'conflict'>;
  /** Deletes the action and its versions (its bindings: `removeBindingsOf`). */
  delete(id: string): Promise<boolean>;

  /** Adds a version numbered one past the action's last; resolves undefined when another deploy took that number. */
  insertVersion(version: Omit<ActionVersionRecord, 'number'>): Promise<ActionVersionRecord | undefined>;
  getVersion(actionId: string, versionId: string): Promise<ActionVersionRecord | undefined>;
  /** Deletes the action's versions numbered at most `upToNumber` (the oldest, past the number kept). */
  pruneVersions(actionId: string, upToNumber: number): Promise<void>;
  /** Newest first. */
  listVersions(actionId: string, page: PageRequest & { kind: 'offset' }): Promise<Page<ActionVersionRecord>>;

  /** The trigger's bindings in flow order. */
  listBindings(trigger: TriggerId, page: PageRequest & { kind: 'offset' }): Promise<Page<BindingRecord>>;
  /** Inside a transaction: holds the trigger's flow until it ends, so parallel replacements run one after the other. */
  lockFlow(trigger: TriggerId): Promise<void>;
  /** Replaces the trigger's whole flow with these bindings, in this order. */
  replaceBindings(trigger: TriggerId, bindings: BindingRecord[]): Promise<void>;
  /** How many bindings name the action. */
  countBindingsOf(actionId: string): Promise<number>;
  removeBindingsOf(actionId: string): Promise<void>;
  /** The trigger's bound actions with their deployed versions, in flow order (one statement). */
  deployedFlow(trigger: TriggerId): Promise<DeployedFlowRow[]>;
}

/** `client_origin`: an origin key some client gained or lost (see oauth/browser-origins.ts). */
export type ChangeKind =
  | 'client'
  | 'client_origin'
  | 'resource_server'
  | 'client_grant'
  | 'connection'
  | 'tenant'
  | 'signing_key'
  /** A trigger (the key) whose deployed flow may have changed. */
  | 'action_flow'
  /** A mail was queued (the key is its id): idle nodes look for work. */
  | 'mail_outbox';

/** Where repositories announce a change: the feed itself, or a transaction's queue flushed on commit. */
export interface ChangePublisher {
  publish(kind: ChangeKind, key: string): Promise<void>;
}

export interface ChangeFeed extends ChangePublisher {
  /** Called for every change, local or from another node; `kind` '*' means "drop everything". */
  subscribe(listener: (kind: ChangeKind | '*', key: string) => void): void;
}

/** Every repository, over the database or over one transaction. */
/**
 * Tenant log events. Each is numbered at insert in commit order (the `log_id`), on every node, so
 * reading on from a `log_id` returns every later event once: what checkpoint paging and a log
 * stream's cursor rely on.
 */
export interface LogEventRepository {
  /** Stores a batch in one transaction; the batches of all nodes are numbered one after another. */
  insertMany(events: Array<Omit<LogEvent, 'log_id'>>): Promise<void>;
  get(logId: string): Promise<LogEvent | undefined>;
  /** Events matching `filter`, by date (then log_id) in the given direction, a page of them. */
  search(
    filter: LogFilter,
    options: { descending: boolean; offset: number; limit: number; includeTotal: boolean },
  ): Promise<{ items: LogEvent[]; total?: number }>;
  /** Up to `take` events numbered after `from` (from the oldest kept when absent), in that order. */
  after(from: string | undefined, take: number): Promise<LogEvent[]>;
  /** Deletes up to `limit` events dated before `date`, oldest first; resolves how many. */
  deleteBefore(date: string, limit: number): Promise<number>;
  /** Deletes up to `limit` of the oldest events beyond the newest `keep`; resolves how many. */
  deleteBeyond(keep: number, limit: number): Promise<number>;
}

/**
 * Log streams (storage/kysely/log-streams.ts): their settings, written by the Management API, and
 * their delivery state, written only by the node holding the stream's lease (events/log-stream-delivery.ts).
 */
export interface LogStreamRepository {
  list(): Promise<LogStreamRecord[]>;
  get(id: string): Promise<LogStreamRecord | undefined>;
  /** Inserts the stream with its cursor at the newest event stored: a new stream gets the events from now on. */
  create(stream: LogStreamSettings & { id: string; created_at: string }): Promise<LogStreamRecord>;
  /** Changes settings only; resolves false when there is no such stream. `resume` also clears the backoff. */
  update(id: string, changes: Partial<LogStreamSettings>, resume: boolean): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Takes the lease of an active stream that is due (no live lease held by another node, no backoff pending). */
  claim(id: string, owner: string, now: string, leaseUntil: string): Promise<LogStreamRecord | undefined>;
  /** Writes delivery state while `owner` still holds the lease; resolves false when it does not. */
  progress(id: string, owner: string, state: LogStreamProgress): Promise<boolean>;
}

export interface LogStreamSettings {
  name: string;
  type: string;
  status: 'active' | 'paused' | 'suspended';
  /** The sink without its authorization header (which is in `authorization`, sealed). */
  sink: Record<string, unknown>;
  authorization: string | null;
  filters: Array<{ type: string; name: string }>;
}

export interface LogStreamProgress {
  cursor?: string | null;
  leaseUntil: string | null;
  failures: number;
  failingSince: string | null;
  retryAt: string | null;
  /** Set only to suspend a stream that is still active. */
  suspend?: boolean;
}

export interface LogStreamRecord extends LogStreamSettings {
  id: string;
  created_at: string;
  cursor: string | null;
  owner: string | null;
  leaseUntil: string | null;
  failures: number;
  failingSince: string | null;
  retryAt: string | null;
}

export interface Repositories {
  readonly clients: ClientRepository;
  readonly resourceServers: ResourceServerRepository;
  readonly clientGrants: ClientGrantRepository;
  readonly connections: ConnectionRepository;
  readonly users: UserRepository;
  readonly permissions: PermissionRepository;
  readonly roles: RoleRepository;
  readonly actions: ActionRepository;
  readonly tenant: TenantRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly loginTransactions: LoginTransactionRepository;
  readonly sessions: SessionRepository;
  readonly codes: AuthorizationCodeRepository;
  readonly refreshTokens: RefreshTokenRepository;
  readonly accessTokens: OpaqueAccessTokenRepository;
  readonly consents: ConsentRepository;
  readonly throttles: ThrottleRepository;
  readonly deviceCodes: DeviceCodeRepository;
  readonly registrations: RegistrationRepository;
  readonly rateLimits: RateLimitRepository;
  readonly jobs: JobRepository;
  readonly emailProvider: EmailProviderRepository;
  readonly emailTemplates: EmailTemplateRepository;
  readonly mailOutbox: MailOutboxRepository;
  readonly tickets: TicketRepository;
  readonly logEvents: LogEventRepository;
  readonly logStreams: LogStreamRepository;
}

export interface Storage extends Repositories {
  readonly dialect: 'sqlite' | 'postgres';
  readonly changes: ChangeFeed;
  /**
   * Runs `fn` in one database transaction: its repositories all write through it, it commits when
   * `fn` resolves and rolls back when it throws. Change notices raised inside go out after the
   * commit, and not at all after a rollback, so no node drops (and reloads) a cache entry early.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Deletes expired jobs, transactions, codes, opaque tokens, throttles and long-dead sessions and tokens. */
  sweepExpired(now: string): Promise<void>;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  /** Names of migrations not yet applied to this database (empty when it is up to date); throws when it does not answer. */
  pendingMigrations(): Promise<string[]>;
  /** PostgreSQL's connection pool now (for metrics); undefined on SQLite, which has no pool. */
  poolStats(): { total: number; idle: number; waiting: number } | undefined;
  close(): Promise<void>;
}
