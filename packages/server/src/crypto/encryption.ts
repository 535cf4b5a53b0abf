import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The master key encrypts secrets at rest (signing keys) and keys the client-secret digests. Each
 * use gets its own subkey through HKDF, so one purpose's output never doubles as another's key.
 */
export class MasterKey {
  private constructor(private readonly key: Buffer) {}

  static parse(text: string): MasterKey {
    const trimmed = text.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
    if (key.length !== 32) {
      throw new Error('LATCHKEY_MASTER_KEY must be 32 bytes, as 64 hex characters or base64');
    }
    return new MasterKey(key);
  }

  static generate(): MasterKey {
    return new MasterKey(randomBytes(32));
  }

  /**
   * Reads `master.key` from the data directory, creating it (mode 0600) on first start. Meant for
   * development and single-node installs; several nodes must share one key through the environment.
   */
  static loadOrCreate(dataDir: string): { key: MasterKey; created: boolean; path: string } {
    const path = join(dataDir, 'master.key');
    if (existsSync(path)) return { key: MasterKey.parse(readFileSync(path, 'utf8')), created: false, path };
    // Created owner-only, like the database beside it (storage/sqlite.ts).
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const key = MasterKey.generate();
    writeFileSync(path, `${key.key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return { key, created: true, path };
  }

  subkey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `latchkey ${purpose}`, 32));
  }

  toString(): string {
    return '[MasterKey]';
  }
}

/** AES-256-GCM; the output is `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export class Encrypter {
  private readonly key: Buffer;

  constructor(master: MasterKey, purpose: string) {
    this.key = master.subkey(`encryption ${purpose}`);
  }

  encrypt(plaintext: string, associatedData = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /** Throws when the data was altered or encrypted under another master key. */
  decrypt(sealed: string, associatedData = ''): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('Unknown encrypted format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }
}
