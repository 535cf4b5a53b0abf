import { generateClientSecret, MIN_CLIENT_SECRET_LENGTH, type SecretDigester } from '../crypto/secrets.js';
import type { AppType, Client, TokenEndpointAuthMethod } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { DomainError, forbidden, invalidField, notFound } from './errors.js';
import { newClientId } from './ids.js';
import { everyItem } from './paging.js';
import { assertUrls } from './urls.js';

/** The code of the `limit` error thrown when the tenant holds as many registered clients as it may. */
export const REGISTERED_CLIENT_LIMIT = 'registered_client_limit';

export type ClientInput = Partial<Omit<Client, 'client_id' | 'is_system' | 'jwt_configuration' | 'refresh_token' | 'require_pkce'>> & {
  client_secret?: string;
  /** null (or absent) leaves PKCE to the tenant's default. */
  require_pkce?: boolean | null;
  jwt_configuration?: Partial<Client['jwt_configuration']>;
  refresh_token?: Partial<Client['refresh_token']>;
};

const PUBLIC_APP_TYPES: ReadonlySet<AppType | null> = new Set(['native', 'spa']);

/**
 * Grant types a client gets when the admin names none. Public apps (native, SPA) cannot keep a
 * secret, so they never get client_credentials; machine-to-machine apps get only that.
 */
function defaultGrantTypes(appType: AppType | null): string[] {
  if (appType === 'non_interactive') return ['client_credentials'];
  if (PUBLIC_APP_TYPES.has(appType)) return ['authorization_code', 'implicit', 'refresh_token'];
  return ['authorization_code', 'implicit', 'refresh_token', 'client_credentials'];
}

function defaultAuthMethod(appType: AppType | null): TokenEndpointAuthMethod {
  return PUBLIC_APP_TYPES.has(appType) ? 'none' : 'client_secret_post';
}

function validate(client: Client): void {
  assertUrls('callbacks', client.callbacks);
  assertUrls('allowed_logout_urls', client.allowed_logout_urls);
  assertUrls('web_origins', client.web_origins, { origins: true });
  assertUrls('allowed_origins', client.allowed_origins, { origins: true });
  if (client.token_endpoint_auth_method === 'none' && client.grant_types.includes('client_credentials')) {
    throw invalidField(
      'grant_types',
      "the 'client_credentials' grant requires a confidential client (token_endpoint_auth_method other than 'none')",
    );
  }
}

function checkedSecret(secret: string | undefined): string {
  if (secret === undefined) return generateClientSecret();
  if (secret.length < MIN_CLIENT_SECRET_LENGTH) {
    throw invalidField('client_secret', `'client_secret' must be at least ${MIN_CLIENT_SECRET_LENGTH} characters (256 bits)`);
  }
  return secret;
}

/** Creates a client; the secret is returned here and on rotation only, and never stored. */
export async function createClient(
  storage: Pick<Storage, 'clients'>,
  digester: SecretDigester,
  input: ClientInput,
  options: { clientId?: string; isSystem?: boolean; dynamic?: boolean; auth0Defaults?: boolean; maxRegistered?: number } = {},
): Promise<{ client: Client; secret: string }> {
  const appType = input.app_type ?? null;
  const client: Client = {
    client_id: options.clientId ?? newClientId(),
    name: input.name ?? '',
    description: input.description ?? '',
    app_type: appType,
    ...(input.logo_uri !== undefined ? { logo_uri: input.logo_uri } : {}),
    callbacks: input.callbacks ?? [],
    allowed_logout_urls: input.allowed_logout_urls ?? [],
    web_origins: input.web_origins ?? [],
    allowed_origins: input.allowed_origins ?? [],
    grant_types: input.grant_types ?? defaultGrantTypes(appType),
    token_endpoint_auth_method: input.token_endpoint_auth_method ?? defaultAuthMethod(appType),
    is_first_party: input.is_first_party ?? true,
    oidc_conformant: input.oidc_conformant ?? true,
    jwt_configuration: { lifetime_in_seconds: 36000, alg: 'RS256', ...input.jwt_configuration },
    refresh_token: {
      // Rotation is the safe default for apps that cannot keep a secret (RFC 9700 §4.14.2); with
      // flags.auth0_compatible_defaults on, Auth0's (non-rotating). Decided here, at creation, as
      // Auth0 does: flipping the tenant setting never changes an existing app, and GET shows the rule.
      rotation_type: PUBLIC_APP_TYPES.has(appType) && !options.auth0Defaults ? 'rotating' : 'non-rotating',
      expiration_type: PUBLIC_APP_TYPES.has(appType) ? 'expiring' : 'non-expiring',
      leeway: 0,
      token_lifetime: 2592000,
      idle_token_lifetime: 1296000,
      infinite_token_lifetime: !PUBLIC_APP_TYPES.has(appType),
      infinite_idle_token_lifetime: !PUBLIC_APP_TYPES.has(appType),
      ...input.refresh_token,
    },
    client_metadata: input.client_metadata ?? {},
    ...(typeof input.require_pkce === 'boolean' ? { require_pkce: input.require_pkce } : {}),
    ...(options.isSystem ? { is_system: true } : {}),
    registration_source: options.dynamic ? 'dynamic_registration' : 'management_api',
  };
  validate(client);
  const secret = checkedSecret(input.client_secret);
  const limit = options.maxRegistered !== undefined ? { maxRegistered: options.maxRegistered } : {};
  if (!(await storage.clients.insert({ client, secretDigest: digester.digest(secret) }, limit))) {
    throw new DomainError('limit', REGISTERED_CLIENT_LIMIT, 'The limit of dynamically registered clients is reached');
  }
  return { client, secret };
}

export async function getClient(storage: Pick<Storage, 'clients'>, clientId: string): Promise<Client> {
  const record = await storage.clients.get(clientId);
  if (!record) throw notFound('The client does not exist', 'inexistent_client');
  return record.client;
}

/** PATCH semantics as Auth0's: top-level fields replace, the two settings objects merge. */
export async function updateClient(
  storage: Pick<Storage, 'clients'>,
  digester: SecretDigester,
  clientId: string,
  patch: ClientInput,
): Promise<Client> {
  const existing = await getClient(storage, clientId);
  const { client_secret: secret, jwt_configuration, refresh_token, require_pkce: requirePkce, ...rest } = patch;
  assertSystemClientKeepsItsCredentials(existing, patch);
  const { require_pkce: _previous, ...unchanged } = existing;
  // null hands PKCE back to the tenant's default.
  const pkce = requirePkce === undefined ? existing.require_pkce : (requirePkce ?? undefined);
  const client: Client = {
    ...unchanged,
    ...rest,
    jwt_configuration: { ...existing.jwt_configuration, ...jwt_configuration },
    refresh_token: { ...existing.refresh_token, ...refresh_token },
    ...(pkce !== undefined ? { require_pkce: pkce } : {}),
  };
  validate(client);
  await storage.clients.update(client, secret !== undefined ? digester.digest(checkedSecret(secret)) : undefined);
  return client;
}

/**
 * The bootstrap admin holds every Management scope, so whoever sets its secret owns the tenant: a
 * token with only `update:clients` must not be able to (Auth0 likewise refuses changes to its own
 * system clients). Its secret, grant types and authentication method change only through the
 * operator's `latchkey admin rotate-secret` or LATCHKEY_ADMIN_CLIENT_SECRET; name, description and
 * metadata stay editable.
 */
const SYSTEM_CLIENT_LOCKED_FIELDS = ['client_secret', 'grant_types', 'token_endpoint_auth_method', 'app_type'] as const;

function assertSystemClientKeepsItsCredentials(client: Client, patch: ClientInput): void {
  if (!client.is_system) return;
  const locked = SYSTEM_CLIENT_LOCKED_FIELDS.filter((field) => patch[field] !== undefined);
  if (locked.length > 0) {
    throw forbidden(
      `The bootstrap admin client's ${locked.join(', ')} cannot be changed through the Management API; ` +
        "the operator rotates its secret with 'latchkey admin rotate-secret'",
    );
  }
}

export async function rotateClientSecret(
  storage: Pick<Storage, 'clients'>,
  digester: SecretDigester,
  clientId: string,
): Promise<{ client: Client; secret: string }> {
  const client = await getClient(storage, clientId);
  if (client.is_system) {
    throw forbidden(
      "The bootstrap admin client's secret cannot be rotated through the Management API; " +
        "the operator rotates it with 'latchkey admin rotate-secret'",
    );
  }
  return setNewClientSecret(storage, digester, client);
}

/** A fresh server-generated secret; only its digest is stored. No permission check: callers decide. */
export async function setNewClientSecret(
  storage: Pick<Storage, 'clients'>,
  digester: SecretDigester,
  client: Client,
): Promise<{ client: Client; secret: string }> {
  const secret = generateClientSecret();
  await storage.clients.update(client, digester.digest(secret));
  return { client, secret };
}

/**
 * Deleting a client also removes, in one transaction, its client grants, the users' consents to it,
 * the refresh tokens it holds (revoked), its registration access token, its browser origins and its
 * place in connections. Absent is fine (204).
 */
export async function deleteClient(storage: Pick<Storage, 'transaction'>, clientId: string, now: Date): Promise<void> {
  await storage.transaction(async (tx) => {
    const record = await tx.clients.get(clientId);
    if (!record) return;
    if (record.client.is_system) throw forbidden('The bootstrap admin client cannot be deleted');
    await tx.clients.delete(clientId);
    await tx.clientGrants.deleteWhere({ client_id: clientId });
    await tx.consents.deleteAllFor(clientId);
    await tx.refreshTokens.revokeAllFor(clientId, now.toISOString());
    await tx.registrations.delete(clientId);
    for await (const connection of everyItem((page) => tx.connections.list({}, page))) {
      if (connection.enabled_clients.includes(clientId)) {
        // Rewritten as it stands once held: a change to its enabled clients meanwhile is kept.
        const current = await tx.connections.lock(connection.id);
        if (current) await tx.connections.update({ ...current, enabled_clients: current.enabled_clients.filter((id) => id !== clientId) });
      }
    }
  });
}
