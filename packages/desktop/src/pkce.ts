import { base64url } from 'jose';

/** 32 random bytes, base64url: the size RFC 7636 §4.1 recommends, also used for state and nonce. */
export function randomToken(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}

/** RFC 7636 §4.2 S256: BASE64URL(SHA-256(ASCII(code_verifier))). */
export async function codeChallengeS256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url.encode(new Uint8Array(digest));
}
