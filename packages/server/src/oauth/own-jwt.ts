import { type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { KeyRing } from '../crypto/keys.js';

/** Resolves a token's `kid` to one of our published keys; unknown kids fail verification. */
export function ownKeyResolver(keys: KeyRing): JWTVerifyGetKey {
  return async (header) => {
    const key = header.kid ? await keys.verificationKey(header.kid) : undefined;
    if (!key) throw new Error('Unknown signing key');
    return key.publicKey;
  };
}

/** Verifies a JWT this server signed (access token, id_token hint): RS256 and our issuer only. */
export async function verifyOwnJwt(
  keys: KeyRing,
  issuer: string,
  token: string,
  options: Omit<JWTVerifyOptions, 'issuer' | 'algorithms'> = {},
): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, ownKeyResolver(keys), { ...options, issuer, algorithms: ['RS256'] });
  return payload;
}
