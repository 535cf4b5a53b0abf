/**
 * What latchkey persists, as narrow interfaces (one per concern, as fosite does), so the protocol
 * code depends on what it needs and both SQL backends pass one conformance suite.
 */

export type AppType = 'native' | 'spa' | 'regular_web' | 'non_interactive';
export type TokenEndpointAuthMethod = 'none' | 'client_secret_post' | 'client_secret_basic';

export interface RefreshTokenSettings {
  rotation_type: 'rotating' | 'non-rotating';
  expiration_type: 'expiring' | 'non-expiring';
  leeway: number;
  token_lifetime: number;
  idle_token_lifetime: number;
  infinite_token_lifetime: boolean;
  infinite_idle_token_lifetime: boolean;
}

/** A client (application) in the Management API's shape, minus the secret, which is never stored. */
export interface Client {
  client_id: string;
  name: string;
  description: string;
  app_type: AppType | null;
  logo_uri?: string;
  callbacks: string[];
  allowed_logout_urls: string[];
  web_origins: string[];
  allowed_origins: string[];
  grant_types: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  is_first_party: boolean;
  oidc_conformant: boolean;
  jwt_configuration: { lifetime_in_seconds: number; alg: 'RS256' };
  refresh_token: RefreshTokenSettings;
  client_metadata: Record<string, string>;
  /**
   * PKCE at /authorize for this app, whatever the tenant's default: true requires it, false makes it
   * optional. Absent: required of public and third-party apps, unless the tenant setting
   * flags.auth0_compatible_defaults makes it optional for first-party public ones.
   */
  require_pkce?: boolean;
  /** The bootstrap admin client: cannot be deleted through the API, so the tenant stays reachable. */
  is_system?: boolean;
  /** How the client came to be: by an admin (Management API) or by itself (RFC 7591). */
  registration_source?: 'management_api' | 'dynamic_registration';
}

export interface ClientRecord {
  client: Client;
  /** Keyed SHA-256 of the client secret (see crypto/secrets.ts). */
  secretDigest: string;
}

export interface ResourceServerScope {
  value: string;
  description?: string;
}

export interface ResourceServer {
  id: string;
  name: string;
  identifier: string;
  scopes: ResourceServerScope[];
  signing_alg: 'RS256';
  allow_offline_access: boolean;
  skip_consent_for_verifiable_first_party_clients: boolean;
  token_lifetime: number;
  token_lifetime_for_web: number;
  token_dialect: 'access_token' | 'access_token_authz' | 'rfc9068_profile' | 'rfc9068_profile_authz';
  enforce_policies: boolean;
  /** The Management API itself: listed, but not editable. */
  is_system?: boolean;
}

export interface ClientGrant {
  id: string;
  client_id: string;
  audience: string;
  scope: string[];
}

/** `auth0`: the database connection; `oauth2` / `oidc`: an upstream identity provider. */
export type ConnectionStrategy = 'auth0' | 'oauth2' | 'oidc';

export interface Connection {
  id: string;
  name: string;
  display_name?: string;
  strategy: ConnectionStrategy;
  options: Record<string, unknown>;
  enabled_clients: string[];
  is_domain_connection: boolean;
  realms: string[];
  metadata?: Record<string, string>;
}

export interface Identity {
  connection: string;
  user_id: string;
  provider: string;
  isSocial: boolean;
  /** Upstream tokens, encrypted at rest; shown only with `read:user_idp_tokens`. */
  access_token?: string;
  refresh_token?: string;
}

export interface User {
  user_id: string;
  email?: string;
  email_verified: boolean;
  username?: string;
  phone_number?: string;
  name?: string;
  nickname?: string;
  picture?: string;
  given_name?: string;
  family_name?: string;
  identities: Identity[];
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  last_login?: string;
  /** When the password last changed (Auth0's name): sign-ins from before it grant nothing more. */
  last_password_reset?: string;
  logins_count: number;
  blocked: boolean;
}

export interface UserRecord {
  user: User;
  connection: string;
  /** PHC string: argon2id for users created here, bcrypt for imported ones until their next login. */
  passwordHash: string | null;
}

export interface TenantSettings {
  friendly_name: string;
  picture_url?: string;
  support_email?: string;
  support_url?: string;
  allowed_logout_urls: string[];
  default_audience: string;
  default_directory: string;
  session_lifetime: number;
  idle_session_lifetime: number;
  flags: Record<string, boolean>;
}

export interface SigningKeyRecord {
  kid: string;
  alg: 'RS256';
  /** Public JWK (kty, n, e). */
  publicJwk: Record<string, string>;
  /** PKCS#8 PEM, encrypted with the master key (crypto/encryption.ts). */
  privateKeyEncrypted: string;
  createdAt: string;
  /** Set when another key became current; the key then only verifies. */
  retiredAt: string | null;
  /** A retired key stays in the JWKS until every token it signed has expired. */
  publishUntil: string | null;
}

/** Offset paging (page/per_page) or checkpoint paging (from/take), as the Management API offers. */
export type PageRequest =
  | { kind: 'offset'; offset: number; limit: number; includeTotal: boolean }
  | { kind: 'checkpoint'; from: string | undefined; take: number };

export interface Page<T> {
  items: T[];
  total?: number;
  /** Checkpoint for the next page, when checkpoint paging was asked for and more remain. */
  next?: string;
}

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

/** A validated /authorize request, kept while the user signs in or consents. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  responseType: string;
  responseMode: 'query' | 'fragment' | 'form_post' | 'web_message';
  scope: string[];
  audience?: string;
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  prompt: string[];
  maxAge?: number;
  connection?: string;
  loginHint?: string;
  screenHint?: string;
}

export interface LoginTransaction {
  id: string;
  /** Bound to the browser by a cookie and echoed by every form: login CSRF protection. */
  csrf: string;
  request: AuthorizationRequest;
  createdAt: string;
  expiresAt: string;
  /** Set once the user has signed in, while consent is still pending. */
  userId?: string;
  /** A sign-in for the device flow: after it, the user confirms this user code instead. */
  device?: { userCode: string };
  /** A sign-in sent to an upstream provider; its `state` is this transaction's id. */
  upstream?: { connection: string; codeVerifier?: string; nonce?: string };
  /** Digest of the address that started it (stored in its own column): the per-address cap. */
  source?: string;
}

export interface Session {
  /** Public session id: the id_token's `sid`. The cookie holds a different, secret value. */
  sid: string;
  userId: string;
  authTime: string;
  lastSeenAt: string;
  expiresAt: string;
  endedAt: string | null;
  /**
   * The connection the user signed in through (database or upstream): the session answers only
   * clients that may use it. Missing on sessions made before database sign-ins recorded it.
   */
  connection?: string;
  /** That provider's id_token, sealed: the `id_token_hint` of a federated logout. */
  upstreamIdToken?: string;
}

/** What a code or refresh token stands for: who, for which client, API and scopes. */
export interface Grant {
  clientId: string;
  userId: string;
  scope: string[];
  audience?: string;
  sid?: string;
  authTime: string;
}

export interface AuthorizationCodeData extends Grant {
  redirectUri: string;
  nonce?: string;
  codeChallenge?: string;
}

export interface AuthorizationCodeRecord {
  data: AuthorizationCodeData;
  expiresAt: string;
  consumedAt: string | null;
  /** The refresh token family issued for the code, revoked if the code is ever replayed. */
  familyId: string | null;
  /** The digest of the opaque access token issued for the code, deleted if the code is replayed. */
  accessTokenHash: string | null;
  /** When the code was first presented again after its redemption. */
  replayedAt: string | null;
}

export interface RefreshTokenRecord {
  familyId: string;
  grant: Grant;
  /** End of the family's absolute lifetime; null when non-expiring. */
  familyExpiresAt: string | null;
  createdAt: string;
  /** When this token stops working: the earlier of the absolute and the idle expiry. */
  expiresAt: string | null;
  rotatedAt: string | null;
  revokedAt: string | null;
}

export interface OpaqueAccessTokenData {
  clientId: string;
  userId: string;
  scope: string[];
  expiresAt: string;
}

export interface ConsentRecord {
  /** Stable per user, client and API: the Management API's grant id. */
  id: string;
  userId: string;
  clientId: string;
  audience: string;
  scope: string[];
  updatedAt: string;
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

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/** A device authorization request (RFC 8628) and, once the user approved it, who approved it. */
export interface DeviceCodeRecord {
  userCode: string;
  status: DeviceCodeStatus;
  clientId: string;
  scope: string[];
  audience?: string;
  expiresAt: string;
  lastPolledAt: string | null;
  /** Set on approval: the grant the device receives. */
  approval?: { userId: string; sid: string; authTime: string };
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

/** What changed, so every node can drop what it cached (see storage/cache.ts). */
/** One API permission (a scope the API defines) assigned to a user, for RBAC. */
export interface UserPermission {
  audience: string;
  permission: string;
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
