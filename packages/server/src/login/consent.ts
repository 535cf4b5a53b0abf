import type { Client, ResourceServer, Storage } from '../storage/types.js';

/**
 * Whether the user must be asked before the client gets these scopes. First-party clients are not
 * asked when the API lets verifiable first-party clients skip consent (Auth0's default); third-party
 * clients always are, unless the user already granted every scope now asked for.
 */
export async function consentNeeded(
  storage: Storage,
  client: Client,
  api: ResourceServer | undefined,
  userId: string,
  scope: string[],
  prompt: string[],
): Promise<boolean> {
  if (prompt.includes('consent')) return true;
  if (client.is_first_party && (!api || api.skip_consent_for_verifiable_first_party_clients)) return false;
  const consent = await storage.getConsent(userId, client.client_id, api?.identifier ?? '');
  return !consent || scope.some((s) => !consent.scope.includes(s));
}

export async function recordConsent(
  storage: Storage,
  client: Client,
  api: ResourceServer | undefined,
  userId: string,
  scope: string[],
  now: number,
): Promise<void> {
  const audience = api?.identifier ?? '';
  const existing = await storage.getConsent(userId, client.client_id, audience);
  await storage.putConsent(userId, {
    clientId: client.client_id,
    audience,
    scope: [...new Set([...(existing?.scope ?? []), ...scope])],
    updatedAt: new Date(now).toISOString(),
  });
}
