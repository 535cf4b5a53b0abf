import type { ResourceServer } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { ABSENT_RESOURCE_SCOPES } from './absent-resources.js';
import { conflict, forbidden, invalidField, notFound } from './errors.js';
import { newResourceServerId } from './ids.js';

export type ResourceServerInput = Partial<Omit<ResourceServer, 'id' | 'is_system'>>;

/** Scopes of the Management API itself (audience `${issuer}api/v2/`). */
const MANAGED_RESOURCE_SCOPES = [
  'read:clients',
  'create:clients',
  'update:clients',
  'delete:clients',
  'read:resource_servers',
  'create:resource_servers',
  'update:resource_servers',
  'delete:resource_servers',
  'read:client_grants',
  'create:client_grants',
  'update:client_grants',
  'delete:client_grants',
  'read:connections',
  'create:connections',
  'update:connections',
  'delete:connections',
  'read:users',
  'create:users',
  'update:users',
  'delete:users',
  'read:tenant_settings',
  'update:tenant_settings',
  'read:grants',
  'delete:grants',
  'read:connections_options',
  'read:user_idp_tokens',
  'read:roles',
  'create:roles',
  'update:roles',
  'delete:roles',
  'read:role_members',
  'create:role_members',
  'delete:role_members',
  'read:actions',
  'create:actions',
  'update:actions',
  'delete:actions',
  'read:email_provider',
  'create:email_provider',
  'update:email_provider',
  'delete:email_provider',
  'read:email_templates',
  'create:email_templates',
  'update:email_templates',
  // latchkey's outbox (not Auth0's): its mails carry one-time links, so reading them is a scope of its own.
  'read:email_outbox',
  'update:email_outbox',
  'create:user_tickets',
  'read:logs',
  'read:logs_users',
  'read:log_streams',
  'create:log_streams',
  'update:log_streams',
  'delete:log_streams',
] as const;

/**
 * Every scope the admin client holds: latchkey's resources, and the Auth0 types it answers as absent.
 * Once each: an absent type can share a real one's scope (action modules are read:actions), and a
 * scope listed twice is refused when the Management API is created (a fresh tenant would not start).
 */
export const MANAGEMENT_SCOPES: readonly string[] = [...new Set([...MANAGED_RESOURCE_SCOPES, ...ABSENT_RESOURCE_SCOPES])];

/**
 * Auth0's name for the system API. Auth0's tools recognise the Management API by this name
 * (auth0-deploy-cli leaves it out of exports and refuses it in imports), so latchkey's uses it too.
 */
export const MANAGEMENT_API_NAME = 'Auth0 Management API';

export const managementAudience = (issuer: string) => `${issuer}api/v2/`;

function assertScopes(rs: ResourceServer): void {
  const seen = new Set<string>();
  for (const { value } of rs.scopes) {
    // Scope tokens are space separated on the wire (RFC 6749 §3.3), so a space would split one in two.
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value)) {
      throw invalidField('scopes', `invalid scope value ${JSON.stringify(value)}`);
    }
    if (seen.has(value)) throw invalidField('scopes', `duplicate scope ${JSON.stringify(value)}`);
    seen.add(value);
  }
}

export async function createResourceServer(
  storage: Pick<Storage, 'resourceServers'>,
  input: ResourceServerInput & { identifier: string },
  options: { isSystem?: boolean } = {},
): Promise<ResourceServer> {
  const rs: ResourceServer = {
    id: newResourceServerId(),
    name: input.name ?? input.identifier,
    identifier: input.identifier,
    scopes: input.scopes ?? [],
    signing_alg: 'RS256',
    allow_offline_access: input.allow_offline_access ?? false,
    skip_consent_for_verifiable_first_party_clients: input.skip_consent_for_verifiable_first_party_clients ?? true,
    token_lifetime: input.token_lifetime ?? 86400,
    token_lifetime_for_web: input.token_lifetime_for_web ?? 7200,
    token_dialect: input.token_dialect ?? 'access_token',
    enforce_policies: input.enforce_policies ?? false,
    ...(options.isSystem ? { is_system: true } : {}),
  };
  assertScopes(rs);
  if (!(await storage.resourceServers.insert(rs))) {
    throw conflict('A resource server with the same identifier already exists', 'operation_not_supported');
  }
  return rs;
}

/** Auth0 addresses resource servers by id or by identifier. */
export async function getResourceServer(storage: Pick<Storage, 'resourceServers'>, idOrIdentifier: string): Promise<ResourceServer> {
  const rs = (await storage.resourceServers.get(idOrIdentifier)) ?? (await storage.resourceServers.getByIdentifier(idOrIdentifier));
  if (!rs) throw notFound('The resource server does not exist', 'inexistent_resource_server');
  return rs;
}

export async function updateResourceServer(
  storage: Pick<Storage, 'transaction'>,
  idOrIdentifier: string,
  patch: ResourceServerInput,
): Promise<ResourceServer> {
  return storage.transaction(async (tx) => {
    const existing = await getResourceServer(tx, idOrIdentifier);
    if (existing.is_system) throw forbidden('You cannot update the Management API resource server');
    if (patch.identifier !== undefined && patch.identifier !== existing.identifier) {
      throw invalidField('identifier', "'identifier' cannot be changed");
    }
    const rs: ResourceServer = { ...existing, ...patch };
    assertScopes(rs);
    await tx.resourceServers.update(rs);
    // A scope taken off the API is taken from every user and role that held it, as in Auth0: adding it
    // back later must not silently grant it again.
    const kept = new Set(rs.scopes.map((s) => s.value));
    const removed = existing.scopes.map((s) => s.value).filter((value) => !kept.has(value));
    if (removed.length > 0) {
      await tx.permissions.removeForApi(rs.identifier, removed);
      await tx.roles.removePermissionsForApi(rs.identifier, removed);
    }
    return rs;
  });
}

/**
 * Also removes, in one transaction, the client grants for the API, the users' and roles' permissions and consents
 * on it, and revokes the refresh tokens issued for it: an API created again under the same identifier
 * starts with none of them.
 */
export async function deleteResourceServer(storage: Pick<Storage, 'transaction'>, idOrIdentifier: string, now: Date): Promise<void> {
  await storage.transaction(async (tx) => {
    const rs = (await tx.resourceServers.get(idOrIdentifier)) ?? (await tx.resourceServers.getByIdentifier(idOrIdentifier));
    if (!rs) return;
    if (rs.is_system) throw forbidden('You cannot delete the Management API resource server');
    await tx.resourceServers.delete(rs.id);
    await tx.clientGrants.deleteWhere({ audience: rs.identifier });
    await tx.permissions.removeForApi(rs.identifier);
    await tx.roles.removePermissionsForApi(rs.identifier);
    // list answers at most 1000 at a time.
    for (
      let batch = await tx.consents.list({ audience: rs.identifier });
      batch.length > 0;
      batch = await tx.consents.list({ audience: rs.identifier })
    ) {
      for (const consent of batch) await tx.consents.delete(consent.id);
    }
    await tx.refreshTokens.revokeAllForAudience(rs.identifier, now.toISOString());
  });
}
