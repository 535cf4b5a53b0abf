/**
 * PLACEHOLDER until branch wp-hashes lands: that branch owns this file and its real encoder
 * (Auth0's `custom_password_hash` algorithms). Same signature; here every custom hash is refused
 * per user, so an import that carries them reports those users instead of storing unverifiable hashes.
 */
export function encodeCustomPasswordHash(
  _input: unknown,
): { encoded: string } | { error: { code: string; message: string; path: string } } {
  return { error: { code: 'NOT_PASSED', message: 'custom_password_hash is not supported yet', path: 'custom_password_hash' } };
}
