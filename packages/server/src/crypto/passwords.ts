import { hash, verify } from '@node-rs/argon2';
import { verify as verifyBcrypt } from '@node-rs/bcrypt';
import { DomainError } from '../domain/errors.js';
import { isImportedCustomHash, verifyCustomPasswordHash } from './imported-hashes.js';

/** `Algorithm.Argon2id`; the package declares it as a const enum, which isolated modules cannot import. */
const ARGON2ID = 2;

/** OWASP's argon2id baseline (19 MiB, 2 passes): about 20 ms a hash on this class of machine. */
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

/**
 * bcrypt in modular crypt format, as other systems (and Auth0's user import) export it, of a cost a
 * wrong guess can afford (MAX_BCRYPT_COST): one stored with more verifies nothing.
 */
export const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|1[0-5])\$[./A-Za-z0-9]{53}$/;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** Whether an imported hash is one latchkey can verify (bcrypt); it is replaced at the next login. */
export function isImportableHash(encoded: string): boolean {
  return BCRYPT_HASH.test(encoded);
}

/**
 * A stored hash that is not argon2id (imported bcrypt, an imported `custom_password_hash`, older argon2 variants)
 * is upgraded once the password is known to be right.
 */
export function needsRehash(encoded: string): boolean {
  return !encoded.startsWith('$argon2id$');
}

/** argon2's verify, as verifyPassword calls it; a parameter so a test can count what a sign-in pays (connections/database.ts). */
export type Argon2Verify = (encoded: string, password: string) => Promise<boolean>;
export const verifyArgon2: Argon2Verify = (encoded, password) => verify(encoded, password);

export async function verifyPassword(password: string, encoded: string, argon2: Argon2Verify = verifyArgon2): Promise<boolean> {
  try {
    if (encoded.startsWith('$argon2')) return await argon2(encoded, password);
    if (BCRYPT_HASH.test(encoded)) return await verifyBcrypt(password, encoded);
    if (isImportedCustomHash(encoded)) return await verifyCustomPasswordHash(password, encoded);
    return false;
  } catch (err) {
    // Not a wrong password: the check could not run now (crypto/imported-hashes.ts, a full queue).
    if (err instanceof DomainError && err.kind === 'limit') throw err;
    return false;
  }
}
