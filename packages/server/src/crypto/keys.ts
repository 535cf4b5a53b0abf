import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import type { SigningKeyRecord } from '../domain/types.js';
import type { ChangeFeed, Storage } from '../storage/types.js';
import type { Encrypter } from './encryption.js';

export interface SigningKey {
  kid: string;
  alg: 'RS256';
  privateKey: KeyObject;
}

export interface PublishedKey {
  kid: string;
  alg: 'RS256';
  jwk: JWK;
  publicKey: CryptoKey;
}

/** A 2048-bit RS256 key whose kid is its RFC 7638 thumbprint; the private half sealed for storage. */
export async function generateSigningKey(encrypter: Encrypter, now: Date): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { kty, n, e } = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  const kid = await calculateJwkThumbprint({ kty, n, e });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    kid,
    alg: 'RS256',
    publicJwk: { kty, n, e },
    // The kid is bound as associated data, so a sealed key cannot be swapped under another kid.
    privateKeyEncrypted: encrypter.encrypt(pem, kid),
    createdAt: now.toISOString(),
    retiredAt: null,
    publishUntil: null,
  };
}

interface LoadedKeys {
  /** When a retired key leaves the JWKS, or the cache TTL ends: reload then. */
  validUntil: number;
  current: SigningKey;
  published: PublishedKey[];
  byKid: Map<string, PublishedKey>;
  jwks: { keys: JWK[] };
}

/**
 * The signing keys in memory: the current private key (decrypted once) and the public keys still
 * published. Reloaded when the change feed says the keys changed, on this node or another.
 */
export class KeyRing {
  private loaded: Promise<LoadedKeys> | undefined;

  constructor(
    private readonly store: Pick<Storage, 'signingKeys'>,
    private readonly encrypter: Encrypter,
    changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
    private readonly ttlMs = 300_000,
  ) {
    changes.subscribe((kind) => {
      if (kind === 'signing_key' || kind === '*') this.loaded = undefined;
    });
  }

  /** Creates the first key on a new tenant. */
  async ensureKey(): Promise<void> {
    const keys = await this.store.signingKeys.list();
    if (keys.some((k) => k.retiredAt === null)) return;
    await this.rotate(0);
  }

  /**
   * Makes a new key current. The previous one keeps verifying (stays in the JWKS) for
   * `maxTokenLifetimeSeconds`, so every token it signed expires before it disappears.
   */
  async rotate(maxTokenLifetimeSeconds: number): Promise<SigningKeyRecord> {
    const now = new Date(this.clock());
    const next = await generateSigningKey(this.encrypter, now);
    const publishUntil = new Date(now.getTime() + maxTokenLifetimeSeconds * 1000).toISOString();
    await this.store.signingKeys.rotate(next, publishUntil);
    this.loaded = undefined;
    return next;
  }

  async current(): Promise<SigningKey> {
    return (await this.load()).current;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    return (await this.load()).jwks;
  }

  async verificationKey(kid: string): Promise<PublishedKey | undefined> {
    return (await this.load()).byKid.get(kid);
  }

  private async load(): Promise<LoadedKeys> {
    const pending = this.loaded;
    if (pending) {
      // A failed load is not cached: the next caller tries again.
      const keys = await pending.catch(() => undefined);
      if (keys && keys.validUntil > this.clock()) return keys;
      if (this.loaded === pending) this.loaded = undefined;
    }
    this.loaded ??= this.read();
    return this.loaded;
  }

  private async read(): Promise<LoadedKeys> {
    const records = await this.store.signingKeys.list();
    const nowIso = new Date(this.clock()).toISOString();
    const currentRecord = records.filter((r) => r.retiredAt === null).at(-1);
    if (!currentRecord) throw new Error('No signing key: run `latchkey keys rotate` or start the server once');
    let pem: string;
    try {
      pem = this.encrypter.decrypt(currentRecord.privateKeyEncrypted, currentRecord.kid);
    } catch {
      throw new Error('Cannot decrypt the signing key: LATCHKEY_MASTER_KEY is not the key it was stored with');
    }
    const current: SigningKey = { kid: currentRecord.kid, alg: 'RS256', privateKey: createPrivateKey(pem) };
    const published: PublishedKey[] = [];
    let validUntil = this.clock() + this.ttlMs;
    // Newest first: JWKS consumers that take the first key get the current one.
    for (const r of [...records].reverse()) {
      if (r.retiredAt !== null && (r.publishUntil === null || r.publishUntil <= nowIso)) continue;
      if (r.publishUntil !== null) validUntil = Math.min(validUntil, Date.parse(r.publishUntil));
      const jwk: JWK = { ...r.publicJwk, kid: r.kid, use: 'sig', alg: r.alg };
      published.push({ kid: r.kid, alg: r.alg, jwk, publicKey: (await importJWK(jwk, r.alg)) as CryptoKey });
    }
    return {
      validUntil,
      current,
      published,
      byKid: new Map(published.map((k) => [k.kid, k])),
      jwks: { keys: published.map((k) => k.jwk) },
    };
  }
}
