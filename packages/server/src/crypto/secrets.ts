import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MasterKey } from './encryption.js';

/** 256 random bits, base64url: 43 characters. */
export const MIN_CLIENT_SECRET_LENGTH = 43;

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Client secrets are server-generated with 256 bits of entropy, so a keyed SHA-256 digest is as
 * strong at rest as a slow KDF and keeps the token endpoint fast. The key (from the master key)
 * means a leaked database alone does not allow offline checks of guessed secrets.
 */
export class SecretDigester {
  private readonly key: Buffer;

  constructor(master: MasterKey) {
    this.key = master.subkey('client secret digest');
  }

  digest(secret: string): string {
    return createHmac('sha256', this.key).update(secret, 'utf8').digest('base64url');
  }

  verify(secret: string, digest: string): boolean {
    const actual = Buffer.from(this.digest(secret), 'base64url');
    const expected = Buffer.from(digest, 'base64url');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
