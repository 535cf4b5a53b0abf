import type { Config } from './config.js';
import { Encrypter, MasterKey } from './crypto/encryption.js';
import { KeyRing } from './crypto/keys.js';
import { SecretDigester } from './crypto/secrets.js';
import type { PictureSettings } from './model/default-picture.js';
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
  now: () => number;
}

export interface OpenedContext {
  ctx: ServerContext;
  masterKeyCreatedAt?: string;
}

export function masterKeyFor(config: Config): { key: MasterKey; createdAt?: string } {
  if (config.masterKey) return { key: MasterKey.parse(config.masterKey) };
  const { key, created, path } = MasterKey.loadOrCreate(config.dataDir);
  return created ? { key, createdAt: path } : { key };
}

/** Opens the database, runs migrations and loads the master key. Does not bootstrap the tenant. */
export async function openContext(config: Config, now: () => number = Date.now): Promise<OpenedContext> {
  const { key, createdAt } = masterKeyFor(config);
  const storage = await openStorage(config.databaseUrl);
  try {
    await storage.migrate();
  } catch (err) {
    await storage.close();
    throw err;
  }
  const ctx: ServerContext = {
    config,
    issuer: config.issuer,
    storage,
    lookups: new Lookups(storage, config.cacheTtlSeconds * 1000, now),
    keys: new KeyRing(storage, new Encrypter(key, 'signing keys'), storage.changes, now, config.cacheTtlSeconds * 1000),
    digester: new SecretDigester(key),
    secrets: new Encrypter(key, 'upstream secrets'),
    pictures: { issuer: config.issuer, mode: config.defaultPicture },
    now,
  };
  return createdAt ? { ctx, masterKeyCreatedAt: createdAt } : { ctx };
}
