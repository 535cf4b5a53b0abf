import type { KeyRing } from '../crypto/keys.js';
import type { SecretDigester } from '../crypto/secrets.js';
import type { Storage } from '../storage/types.js';
import { AUTH0_DEFAULTS_FLAG } from './auth0-defaults.js';
import { createClient, setNewClientSecret } from './clients.js';
import { createConnection, DEFAULT_DATABASE_CONNECTION } from './connections.js';
import { DomainError } from './errors.js';
import { newClientGrantId } from './ids.js';
import { everyItem } from './paging.js';
import { createResourceServer, MANAGEMENT_API_NAME, MANAGEMENT_SCOPES, managementAudience } from './resource-servers.js';
import { defaultTenantSettings, updateTenantSettings } from './tenant.js';

export interface BootstrapOptions {
  issuer: string;
  adminClientId?: string;
  adminClientSecret?: string;
  /** LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS: when given, the tenant flag is set to it at every start. */
  auth0CompatibleDefaults?: boolean;
}

export interface BootstrapResult {
  tenantCreated: boolean;
  /** Set only when latchkey generated the admin credentials now: print them once. */
  generatedAdmin?: { clientId: string; clientSecret: string };
}

/** The longest any token can live, so a retired signing key stays published long enough. */
export async function maxTokenLifetimeSeconds(storage: Pick<Storage, 'clients' | 'resourceServers'>): Promise<number> {
  let max = 86400; // Auth0's default access token lifetime
  for await (const rs of everyItem((page) => storage.resourceServers.list(page))) max = Math.max(max, rs.token_lifetime);
  for await (const c of everyItem((page) => storage.clients.list(page))) max = Math.max(max, c.jwt_configuration.lifetime_in_seconds);
  return max;
}

/**
 * Makes a database a working tenant, idempotently: settings, the default database connection,
 * the Management API, an admin machine-to-machine client allowed every Management scope, and a
 * signing key. Runs on every start; only the first start (or a changed issuer) creates anything.
 */
export async function bootstrapTenant(
  storage: Pick<Storage, 'clientGrants' | 'clients' | 'connections' | 'resourceServers' | 'signingKeys' | 'tenant'>,
  digester: SecretDigester,
  keys: KeyRing,
  options: BootstrapOptions,
): Promise<BootstrapResult> {
  const result: BootstrapResult = { tenantCreated: false };
  result.tenantCreated = await storage.tenant.create(defaultTenantSettings('latchkey dev'));
  if (result.tenantCreated) {
    await createConnection(storage, { name: DEFAULT_DATABASE_CONNECTION, strategy: 'auth0' });
  }
  if (options.auth0CompatibleDefaults !== undefined) {
    // The configuration wins at start, as the admin secret does; the Management API may change it later.
    const settings = await storage.tenant.get();
    if (settings && settings.flags[AUTH0_DEFAULTS_FLAG] !== options.auth0CompatibleDefaults) {
      await updateTenantSettings(storage, { flags: { [AUTH0_DEFAULTS_FLAG]: options.auth0CompatibleDefaults } });
    }
  }

  const audience = managementAudience(options.issuer);
  const managementApi = await storage.resourceServers.getByIdentifier(audience);
  const missingScopes = (have: string[]) => MANAGEMENT_SCOPES.filter((s) => !have.includes(s));
  if (managementApi && (missingScopes(managementApi.scopes.map((s) => s.value)).length > 0 || managementApi.name !== MANAGEMENT_API_NAME)) {
    // A newer latchkey added Management API scopes (the system API and admin grants gain them), or
    // names the API as Auth0 does.
    const added = missingScopes(managementApi.scopes.map((s) => s.value)).map((value) => ({ value, description: value.replace(':', ' ') }));
    await storage.resourceServers.update({ ...managementApi, name: MANAGEMENT_API_NAME, scopes: [...managementApi.scopes, ...added] });
  }
  if (!managementApi) {
    await createResourceServer(
      storage,
      {
        name: MANAGEMENT_API_NAME,
        identifier: audience,
        scopes: MANAGEMENT_SCOPES.map((value) => ({ value, description: value.replace(':', ' ') })),
      },
      { isSystem: true },
    ).catch((err) => {
      // Another node starting at the same moment created it first.
      if (!(err instanceof DomainError && err.kind === 'conflict')) throw err;
    });
  }

  let adminId = options.adminClientId;
  if (adminId && options.adminClientSecret) {
    const existing = await storage.clients.get(adminId);
    const digest = digester.digest(options.adminClientSecret);
    if (!existing) {
      await createClient(storage, digester, adminInput(options.adminClientSecret), { clientId: adminId, isSystem: true });
    } else if (!digester.verify(options.adminClientSecret, existing.secretDigest)) {
      await storage.clients.update(existing.client, digest);
    }
  } else if (result.tenantCreated) {
    const { client, secret } = await createClient(storage, digester, adminInput(undefined), { isSystem: true });
    adminId = client.client_id;
    result.generatedAdmin = { clientId: client.client_id, clientSecret: secret };
  }
  // Every admin client reaches the Management API of the current issuer, even after it changed.
  const adminIds = new Set(adminId ? [adminId] : []);
  for await (const c of everyItem((page) => storage.clients.list(page))) if (c.is_system) adminIds.add(c.client_id);
  for (const clientId of adminIds) {
    const grant = await storage.clientGrants.find(clientId, audience);
    if (!grant) {
      await storage.clientGrants.insert({ id: newClientGrantId(), client_id: clientId, audience, scope: [...MANAGEMENT_SCOPES] });
    } else if (missingScopes(grant.scope).length > 0) {
      await storage.clientGrants.update({ ...grant, scope: [...grant.scope, ...missingScopes(grant.scope)] });
    }
  }

  if (!(await storage.signingKeys.list()).some((k) => k.retiredAt === null)) {
    await keys.rotate(await maxTokenLifetimeSeconds(storage));
  }
  return result;
}

export class AdminRecoveryError extends Error {
  override name = 'AdminRecoveryError';
}

/**
 * The operator's way back into the Management API (`latchkey admin rotate-secret`): gives a system
 * (bootstrap admin) client a new secret. Without an id, the tenant must have exactly one. A client
 * whose secret comes from LATCHKEY_ADMIN_CLIENT_SECRET is refused, since the next start would set it back.
 */
export async function rotateAdminSecret(
  storage: Pick<Storage, 'clients'>,
  digester: SecretDigester,
  options: { clientId?: string; configuredAdminId?: string },
): Promise<{ clientId: string; clientSecret: string }> {
  const admins: string[] = [];
  for await (const c of everyItem((page) => storage.clients.list(page))) if (c.is_system) admins.push(c.client_id);
  if (admins.length === 0) throw new AdminRecoveryError('latchkey: no admin client yet; run `latchkey start` once to create the tenant');
  const clientId = options.clientId ?? (admins.length === 1 ? admins[0] : undefined);
  if (clientId === undefined) {
    throw new AdminRecoveryError(
      `latchkey: several admin clients (${admins.join(', ')}); name one: latchkey admin rotate-secret CLIENT_ID`,
    );
  }
  const record = await storage.clients.get(clientId);
  if (!record?.client.is_system)
    throw new AdminRecoveryError(`latchkey: ${clientId} is not an admin client (admin clients: ${admins.join(', ')})`);
  if (clientId === options.configuredAdminId) {
    throw new AdminRecoveryError(`latchkey: the secret of ${clientId} is set by LATCHKEY_ADMIN_CLIENT_SECRET; change it there and restart`);
  }
  const { secret } = await setNewClientSecret(storage, digester, record.client);
  return { clientId, clientSecret: secret };
}

function adminInput(secret: string | undefined) {
  return {
    name: 'latchkey admin (bootstrap)',
    description: 'Machine-to-machine client for the Management API, created at first start',
    app_type: 'non_interactive' as const,
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_post' as const,
    ...(secret !== undefined ? { client_secret: secret } : {}),
  };
}
