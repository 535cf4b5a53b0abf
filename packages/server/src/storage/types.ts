/**
 * What latchkey persists, as narrow interfaces (one per concern, as fosite does), so the protocol
 * code depends on what it needs and both SQL backends pass one conformance suite.
 */

import type {
  Client,
  ClientRecord,
  ResourceServer,
  ClientGrant,
  Connection,
  User,
  UserRecord,
  TenantSettings,
  SigningKeyRecord,
  PageRequest,
  Page,
  LoginTransaction,
  Session,
  AuthorizationCodeData,
  AuthorizationCodeRecord,
  RefreshTokenRecord,
  OpaqueAccessTokenData,
  ConsentRecord,
  DeviceCodeRecord,
  UserPermission,
} from '../domain/types.js';
import type { UserSearch } from '../domain/user-search.js';

export interface ClientStore {
  getClient(clientId: string): Promise<ClientRecord | undefined>;
  listClients(page: PageRequest): Promise<Page<Client>>;
  /**
   * Inserts a client with its browser origins. A dynamically registered client is counted, and is
   * refused (false) when `maxRegistered` of them exist already: the check and the insert are atomic.
   */
  insertClient(record: ClientRecord, options?: { maxRegistered?: number }): Promise<boolean>;
  updateClient(client: Client, secretDigest?: string): Promise<boolean>;
  deleteClient(clientId: string): Promise<boolean>;
  /** Whether some client allows this origin key (see oauth/browser-origins.ts): one indexed lookup. */
  clientOriginExists(key: string): Promise<boolean>;
  /** How many dynamically registered clients exist. */
  countRegisteredClients(): Promise<number>;
}

/** Fixed-window counters in the database, so that every node shares one limit. */
export interface RateLimitStore {
  /** Counts one hit for `key` in the window that began at `windowStartedAt` (a new window restarts at 1); returns the hits so far. */
  hitRateLimit(key: string, windowStartedAt: string): Promise<number>;
}

export interface ResourceServerStore {
  getResourceServer(id: string): Promise<ResourceServer | undefined>;
  getResourceServerByIdentifier(identifier: string): Promise<ResourceServer | undefined>;
  listResourceServers(page: PageRequest): Promise<Page<ResourceServer>>;
  /** Resolves false when the identifier is taken. */
  insertResourceServer(rs: ResourceServer): Promise<boolean>;
  updateResourceServer(rs: ResourceServer): Promise<boolean>;
  deleteResourceServer(id: string): Promise<boolean>;
}

export interface ClientGrantFilter {
  client_id?: string;
  audience?: string;
}

export interface ClientGrantStore {
  getClientGrant(id: string): Promise<ClientGrant | undefined>;
  findClientGrant(clientId: string, audience: string): Promise<ClientGrant | undefined>;
  listClientGrants(filter: ClientGrantFilter, page: PageRequest): Promise<Page<ClientGrant>>;
  /** Resolves false when the client already has a grant for that audience. */
  insertClientGrant(grant: ClientGrant): Promise<boolean>;
  updateClientGrant(grant: ClientGrant): Promise<boolean>;
  deleteClientGrant(id: string): Promise<boolean>;
  deleteClientGrantsWhere(filter: ClientGrantFilter): Promise<void>;
}

export interface ConnectionStore {
  getConnection(id: string): Promise<Connection | undefined>;
  getConnectionByName(name: string): Promise<Connection | undefined>;
  listConnections(filter: { strategy?: string; name?: string }, page: PageRequest): Promise<Page<Connection>>;
  /** Resolves false when the name is taken. */
  insertConnection(connection: Connection): Promise<boolean>;
  updateConnection(connection: Connection): Promise<boolean>;
  deleteConnection(id: string): Promise<boolean>;
}

export interface UserStore {
  getUser(userId: string): Promise<UserRecord | undefined>;
  findUserByEmail(connection: string, email: string): Promise<UserRecord | undefined>;
  findUserByUsername(connection: string, username: string): Promise<UserRecord | undefined>;
  /** Users with this email (case-insensitively) on any connection, oldest first. */
  listUsersByEmail(email: string): Promise<User[]>;
  listUsers(page: PageRequest): Promise<Page<User>>;
  /** `GET /api/v2/users` with q, sort or connection, in SQL (storage/kysely/user-query.ts). */
  searchUsers(search: UserSearch, page: PageRequest & { kind: 'offset' }): Promise<Page<User>>;
  /** Resolves false when the email or username is taken on that connection. */
  insertUser(record: UserRecord): Promise<boolean>;
  /**
   * Resolves 'conflict' when a changed email or username is taken. With `ifPasswordHash`, writes only
   * while the stored hash is still that one (false otherwise): a compare-and-set for sign-ins.
   */
  updateUser(record: UserRecord, options?: { ifPasswordHash?: string | null }): Promise<boolean | 'conflict'>;
  deleteUser(userId: string): Promise<boolean>;
}

export interface TenantStore {
  getTenantSettings(): Promise<TenantSettings | undefined>;
  /** Resolves false when the tenant already exists: the one node that gets true bootstraps it. */
  createTenantSettings(settings: TenantSettings): Promise<boolean>;
  putTenantSettings(settings: TenantSettings): Promise<void>;
}

export interface SigningKeyStore {
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Adds a new current key and retires the previous current one, in one transaction. */
  rotateSigningKey(next: SigningKeyRecord, publishPreviousUntil: string): Promise<void>;
}

export interface SignInStore {
  putLoginTransaction(tx: LoginTransaction): Promise<void>;
  /** Keeps `newestId` and the `keep - 1` other transactions of a source that expire last; deletes the rest of that source. */
  trimLoginTransactions(source: string, keep: number, newestId: string): Promise<void>;
  getLoginTransaction(id: string): Promise<LoginTransaction | undefined>;
  deleteLoginTransaction(id: string): Promise<void>;

  createSession(idHash: string, session: Session): Promise<void>;
  getSession(idHash: string): Promise<Session | undefined>;
  touchSession(idHash: string, lastSeenAt: string): Promise<void>;
  endSession(idHash: string, endedAt: string): Promise<void>;
  /** Ends every live session of the user. */
  endSessionsOf(userId: string, endedAt: string): Promise<void>;

  insertAuthorizationCode(codeHash: string, data: AuthorizationCodeData, expiresAt: string): Promise<void>;
  getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined>;
  /** Marks a code used, atomically: true for exactly one caller. */
  claimAuthorizationCode(codeHash: string, now: string): Promise<boolean>;
  /** Marks a code as presented again after its redemption. */
  markAuthorizationCodeReplayed(codeHash: string, now: string): Promise<void>;
  /** Remembers what a redeemed code issued, so that a replay of the code can revoke it. */
  recordCodeTokens(codeHash: string, issued: { familyId?: string; accessTokenHash?: string }): Promise<void>;

  insertRefreshToken(tokenHash: string, record: RefreshTokenRecord): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /** Compare-and-set: true for the one caller that rotated the token first. */
  markRefreshTokenRotated(tokenHash: string, now: string): Promise<boolean>;
  /** Slides the idle expiry of a non-rotating token. */
  extendRefreshToken(tokenHash: string, expiresAt: string | null): Promise<void>;
  revokeRefreshTokenFamily(familyId: string, now: string): Promise<void>;
  /** Revokes every refresh token the client (or every client) holds for the user. */
  revokeRefreshTokensOf(userId: string, clientId: string | undefined, now: string): Promise<void>;

  insertOpaqueAccessToken(tokenHash: string, data: OpaqueAccessTokenData): Promise<void>;
  getOpaqueAccessToken(tokenHash: string): Promise<OpaqueAccessTokenData | undefined>;
  deleteOpaqueAccessToken(tokenHash: string): Promise<void>;
  deleteOpaqueAccessTokensOf(userId: string): Promise<void>;

  getConsent(userId: string, clientId: string, audience: string): Promise<ConsentRecord | undefined>;
  putConsent(consent: Omit<ConsentRecord, 'id'>): Promise<void>;
  listConsents(filter: { userId?: string; clientId?: string; audience?: string }): Promise<ConsentRecord[]>;
  deleteConsents(userId: string, clientId?: string): Promise<void>;
  /** Deletes one consent by id and returns it, if it existed. */
  deleteConsent(id: string): Promise<ConsentRecord | undefined>;

  /**
   * Counts a failure in a fixed window (restarted when it began before `windowStartedBefore`), unless
   * the key is locked at `now`, and returns the count so far and any lock in force.
   */
  recordLoginFailure(key: string, now: string, windowStartedBefore: string): Promise<{ failures: number; windowStartedAt: string; lockedUntil: string | null }>;
  getLoginThrottle(key: string): Promise<{ failures: number; windowStartedAt: string; lockedUntil: string | null } | undefined>;
  lockLogin(key: string, until: string): Promise<void>;
  clearLoginThrottle(key: string): Promise<void>;
  /** Takes one counted failure back (an attempt that turned out good). */
  forgiveLoginFailure(key: string): Promise<void>;

  /** Deletes expired transactions, codes, opaque tokens, throttles and long-dead sessions and tokens. */
  sweepExpired(now: string): Promise<void>;
}

export interface DeviceCodeStore {
  insertDeviceCode(deviceCodeHash: string, record: DeviceCodeRecord): Promise<boolean>;
  getDeviceCode(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined>;
  findDeviceCodeByUserCode(userCode: string): Promise<{ deviceCodeHash: string; record: DeviceCodeRecord } | undefined>;
  /** Moves a pending request to approved or denied: true for exactly one caller. */
  decideDeviceCode(deviceCodeHash: string, decision: 'approved' | 'denied', approval?: DeviceCodeRecord['approval']): Promise<boolean>;
  /** Records a poll and returns the previous poll time, for slow_down (RFC 8628 §3.5). */
  recordDevicePoll(deviceCodeHash: string, now: string): Promise<string | null>;
  /** Moves an approved request to consumed: true for exactly one caller. */
  consumeDeviceCode(deviceCodeHash: string): Promise<boolean>;
}

/** RFC 7592 registration access tokens, as digests, per dynamically registered client. */
export interface ClientRegistrationStore {
  putRegistrationTokenDigest(clientId: string, digest: string): Promise<void>;
  getRegistrationTokenDigest(clientId: string): Promise<string | undefined>;
  deleteRegistrationToken(clientId: string): Promise<void>;
}

export interface UserPermissionStore {
  /** Assigns permissions; ones the user already has stay as they are. */
  addUserPermissions(userId: string, permissions: UserPermission[], now: string): Promise<void>;
  removeUserPermissions(userId: string, permissions: UserPermission[]): Promise<void>;
  /** Removes an API's permissions (those named, or all) from every user. */
  removeApiPermissions(audience: string, permissions?: string[]): Promise<void>;
  /** The user's permissions (for one API, when given), by API and name. */
  listUserPermissions(userId: string, audience?: string): Promise<UserPermission[]>;
}

/** `client_origin`: an origin key some client gained or lost (see oauth/browser-origins.ts). */
export type ChangeKind = 'client' | 'client_origin' | 'resource_server' | 'client_grant' | 'connection' | 'tenant' | 'signing_key';

export interface ChangeFeed {
  publish(kind: ChangeKind, key: string): Promise<void>;
  /** Called for every change, local or from another node; `kind` '*' means "drop everything". */
  subscribe(listener: (kind: ChangeKind | '*', key: string) => void): void;
}

export interface Storage
  extends ClientStore,
    ResourceServerStore,
    ClientGrantStore,
    ConnectionStore,
    UserStore,
    TenantStore,
    SigningKeyStore,
    SignInStore,
    DeviceCodeStore,
    ClientRegistrationStore,
    UserPermissionStore,
    RateLimitStore {
  readonly dialect: 'sqlite' | 'postgres';
  readonly changes: ChangeFeed;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
