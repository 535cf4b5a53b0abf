import { hash, verify } from '@node-rs/argon2';

/** `Algorithm.Argon2id`; the package declares it as a const enum, which isolated modules cannot import. */
const ARGON2ID = 2;

/** OWASP's argon2id baseline (19 MiB, 2 passes): about 20 ms a hash on this class of machine. */
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  if (!phc.startsWith('$argon2')) return false;
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}
