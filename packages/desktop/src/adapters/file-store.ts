import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { base64url } from 'jose';
import { DesktopAuthError, StorageFailed } from '../errors.js';
import type { TokenStore } from '../storage.js';

/** Encrypts the stored session. Electron: safeStorageCipher(); headless: passphraseCipher(). */
export interface Cipher {
  encrypt(plaintext: Uint8Array): Promise<Uint8Array>;
  decrypt(ciphertext: Uint8Array): Promise<Uint8Array>;
}

export interface EncryptedFileStoreOptions {
  path: string;
  cipher: Cipher;
}

/**
 * The session in a file, always encrypted: there is no plain-text mode. Written owner-only (0600)
 * to a temporary file and renamed, so a crash mid-write never leaves half a token behind.
 */
export function encryptedFileStore(options: EncryptedFileStoreOptions): TokenStore {
  return {
    async load() {
      let data: Buffer;
      try {
        data = await readFile(options.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new StorageFailed(`Cannot read ${options.path}: ${(error as Error).message}`, { cause: error });
      }
      try {
        return new TextDecoder().decode(await options.cipher.decrypt(data));
      } catch (cause) {
        throw new StorageFailed(`Cannot decrypt ${options.path} (another key or passphrase, or a damaged file).`, { cause });
      }
    },
    async save(value) {
      const encrypted = await options.cipher.encrypt(new TextEncoder().encode(value));
      const temporary = `${options.path}.${base64url.encode(crypto.getRandomValues(new Uint8Array(6)))}.tmp`;
      try {
        await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
        await writeFile(temporary, encrypted, { mode: 0o600 });
        await rename(temporary, options.path);
      } catch (cause) {
        // Not ENOENT-only: a path through a file fails with ENOTDIR, which must not hide the real error.
        await rm(temporary, { force: true }).catch(() => undefined);
        throw new StorageFailed(`Cannot write ${options.path}: ${(cause as Error).message}`, { cause });
      }
    },
    async clear() {
      await rm(options.path, { force: true });
    },
    // The cipher works (safeStorage available, passphrase usable) and the directory is writable.
    async check() {
      const probe = `${options.path}.probe.tmp`;
      try {
        const sealed = await options.cipher.encrypt(new TextEncoder().encode('probe'));
        await options.cipher.decrypt(sealed);
        await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
        await writeFile(probe, sealed, { mode: 0o600 });
      } catch (cause) {
        if (cause instanceof DesktopAuthError) throw cause;
        throw new StorageFailed(`Cannot keep a token in ${options.path}: ${(cause as Error).message}`, { cause });
      } finally {
        await rm(probe, { force: true }).catch(() => undefined);
      }
    },
  };
}

const FORMAT_VERSION = 1;
const SALT_BYTES = 16;
const IV_BYTES = 12;

/**
 * AES-256-GCM with a key derived from a passphrase by PBKDF2-SHA256 (WebCrypto). For machines
 * without a keychain, where the user opts in and supplies the passphrase (e.g. from an environment
 * variable). Layout: version(1) | salt(16) | iv(12) | ciphertext+tag. The derived key is kept per
 * salt, so only the first load or save pays for the 600 000 iterations (OWASP 2023 figure).
 */
export function passphraseCipher(passphrase: string, iterations = 600_000): Cipher {
  if (passphrase.length < 8) throw new TypeError('Use a passphrase of at least 8 characters.');
  let cached: { salt: Uint8Array<ArrayBuffer>; key: Promise<CryptoKey> } | undefined;
  const keyFor = (salt: Uint8Array<ArrayBuffer>) => {
    if (!cached || !equalBytes(cached.salt, salt)) cached = { salt, key: deriveKey(passphrase, salt, iterations) };
    return cached.key;
  };
  return {
    async encrypt(plaintext) {
      const salt = cached?.salt ?? crypto.getRandomValues(new Uint8Array(SALT_BYTES));
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await keyFor(salt), new Uint8Array(plaintext)));
      const out = new Uint8Array(1 + SALT_BYTES + IV_BYTES + sealed.length);
      out.set([FORMAT_VERSION], 0);
      out.set(salt, 1);
      out.set(iv, 1 + SALT_BYTES);
      out.set(sealed, 1 + SALT_BYTES + IV_BYTES);
      return out;
    },
    async decrypt(data) {
      if (data[0] !== FORMAT_VERSION || data.length < 1 + SALT_BYTES + IV_BYTES + 16) throw new Error('Not a latchkey token file');
      // Copies (new Uint8Array), so WebCrypto gets plain ArrayBuffer-backed views.
      const salt = new Uint8Array(data.subarray(1, 1 + SALT_BYTES));
      const iv = new Uint8Array(data.subarray(1 + SALT_BYTES, 1 + SALT_BYTES + IV_BYTES));
      const sealed = new Uint8Array(data.subarray(1 + SALT_BYTES + IV_BYTES));
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, await keyFor(salt), sealed));
    },
  };
}

async function deriveKey(passphrase: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material, { name: 'AES-GCM', length: 256 }, false, [
    'encrypt',
    'decrypt',
  ]);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
