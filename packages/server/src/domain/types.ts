/** The domain model: what latchkey keeps about clients, APIs, users and sign-ins. No HTTP, no SQL. */

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

/** What changed, so every node can drop what it cached (see storage/cache.ts). */
/** One API permission (a scope the API defines) assigned to a user, for RBAC. */
export interface UserPermission {
  audience: string;
  permission: string;
}

/** An RBAC role as the Management API shows it (`rol_` ids, as Auth0's). */
export interface Role {
  id: string;
  name: string;
  description?: string;
}

/** A permission the user holds, directly (no `role`) or through the role named. */
export interface HeldPermission extends UserPermission {
  role?: { id: string; name: string };
}
