import type { DeployedAction, TriggerId } from '../domain/actions.js';
import { everyItem } from '../domain/paging.js';
import type { ClientGrant, ClientRecord, Connection, ResourceServer, TenantSettings } from '../domain/types.js';
import { originKeys } from '../oauth/browser-origins.js';
import type { ChangeKind, Storage } from './types.js';

/**
 * A bounded map of in-flight or settled lookups. The promise itself is cached, so concurrent misses
 * share one query, and an invalidation that lands while a query runs wins: the stale result is
 * never stored. Misses (undefined) are not kept, so unknown ids cannot fill memory.
 */
class LookupCache<V> {
  private readonly entries = new Map<string, { value: Promise<V | undefined>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.clock()) return hit.value;
    const value = load();
    const entry = { value, expires: this.clock() + this.ttlMs };
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    value.then(
      (v) => {
        if (v === undefined && this.entries.get(key) === entry) this.entries.delete(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Origin answers kept: enough for every origin in use, bounded against Origin headers made up per request. */
const ORIGIN_ANSWERS = 5_000;
const MAX_ORIGIN_LENGTH = 2100;

/**
 * Hot-path reads of the token endpoint and the Management API guard, served from memory. Writes go
 * through Storage, which announces them on the change feed; every node (PostgreSQL NOTIFY) drops the
 * affected entry. The TTL bounds staleness should a notification ever be lost.
 */
export class Lookups {
  private readonly clients: LookupCache<ClientRecord>;
  private readonly resourceServers: LookupCache<ResourceServer>;
  private readonly clientGrants: LookupCache<ClientGrant>;
  private readonly connections: LookupCache<Connection>;
  private readonly tenant: LookupCache<TenantSettings>;
  private readonly origins: LookupCache<boolean>;
  private readonly upstream: LookupCache<Connection[]>;
  private readonly flows: LookupCache<DeployedAction[]>;

  constructor(
    private readonly storage: Storage,
    ttlMs: number,
    clock: () => number = Date.now,
  ) {
    this.clients = new LookupCache(ttlMs, clock);
    this.resourceServers = new LookupCache(ttlMs, clock);
    this.clientGrants = new LookupCache(ttlMs, clock);
    this.connections = new LookupCache(ttlMs, clock);
    this.tenant = new LookupCache(ttlMs, clock);
    this.origins = new LookupCache(ttlMs, clock, ORIGIN_ANSWERS);
    this.upstream = new LookupCache(ttlMs, clock);
    this.flows = new LookupCache(ttlMs, clock);
    const byKind: Record<ChangeKind, LookupCache<unknown> | undefined> = {
      client: this.clients,
      client_origin: this.origins,
      resource_server: this.resourceServers,
      client_grant: this.clientGrants,
      connection: this.connections,
      tenant: this.tenant,
      signing_key: undefined, // the KeyRing listens for these itself
      action_flow: this.flows,
      mail_outbox: undefined, // mail/delivery.ts listens for these itself
    };
    storage.changes.subscribe((kind, key) => {
      if (kind === '*') {
        for (const cache of Object.values(byKind)) cache?.clear();
        this.upstream.clear();
      } else {
        byKind[kind]?.delete(key);
        if (kind === 'connection') this.upstream.clear();
      }
    });
  }

  client(clientId: string): Promise<ClientRecord | undefined> {
    return this.clients.get(clientId, () => this.storage.clients.get(clientId));
  }

  resourceServer(identifier: string): Promise<ResourceServer | undefined> {
    return this.resourceServers.get(identifier, () => this.storage.resourceServers.getByIdentifier(identifier));
  }

  clientGrant(clientId: string, audience: string): Promise<ClientGrant | undefined> {
    return this.clientGrants.get(`${clientId} ${audience}`, () => this.storage.clientGrants.find(clientId, audience));
  }

  connection(name: string): Promise<Connection | undefined> {
    return this.connections.get(name, () => this.storage.connections.getByName(name));
  }

  async tenantSettings(): Promise<TenantSettings> {
    const settings = await this.tenant.get('default', () => this.storage.tenant.get());
    if (!settings) throw new Error('Tenant settings missing: the tenant was not bootstrapped');
    return settings;
  }

  /**
   * A trigger's deployed flow (domain/actions.ts `deployedFlow` loads and decrypts it): read on every
   * sign-in, so kept until a deploy, binding change or delete announces the trigger.
   */
  actionFlow(trigger: TriggerId, load: () => Promise<DeployedAction[]>): Promise<DeployedAction[]> {
    return this.flows.get(trigger, load) as Promise<DeployedAction[]>;
  }

  /** Every upstream (oauth2, oidc) connection, for the login page's buttons: a handful, read on every page view. */
  upstreamConnections(): Promise<Connection[]> {
    return this.upstream.get('all', async () => {
      const found: Connection[] = [];
      for (const strategy of ['oauth2', 'oidc']) {
        for await (const connection of everyItem((page) => this.storage.connections.list({ strategy }, page))) found.push(connection);
      }
      return found;
    }) as Promise<Connection[]>;
  }

  /**
   * Whether browsers may call the token, userinfo and revocation endpoints from `origin` (CORS): one
   * indexed lookup per origin key, remembered either way (a bounded number of answers), and dropped
   * when a client gains or loses that key, so no request scans the clients.
   */
  async originAllowed(origin: string): Promise<boolean> {
    // No stored origin is longer (URLs are at most 2048 characters), so longer headers are not looked up or kept.
    if (origin.length > MAX_ORIGIN_LENGTH) return false;
    for (const key of originKeys(origin)) {
      if (await this.origins.get(key, () => this.storage.clients.originExists(key))) return true;
    }
    return false;
  }
}
