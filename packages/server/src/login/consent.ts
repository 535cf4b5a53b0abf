import type { Client, ResourceServer } from '../domain/types.js';
import { recordEvent } from '../events/emit.js';
import { OIDC_SCOPES } from '../oauth/scope.js';
import type { Storage } from '../storage/types.js';

/**
 * Whether the user must be asked before the client gets these scopes. First-party clients are not
 * asked when the API lets verifiable first-party clients skip consent (Auth0's default); third-party
 * clients always are, unless the user already granted every scope now asked for.
 */
export async function consentNeeded(
  storage: Pick<Storage, 'consents'>,
  client: Client,
  api: ResourceServer | undefined,
  userId: string,
  scope: string[],
  prompt: string[],
): Promise<boolean> {
  if (prompt.includes('consent')) return true;
  if (client.is_first_party && (!api || api.skip_consent_for_verifiable_first_party_clients)) return false;
  const consent = await storage.consents.get(userId, client.client_id, api?.identifier ?? '');
  return !consent || scope.some((s) => !consent.scope.includes(s));
}

export async function recordConsent(
  storage: Pick<Storage, 'consents'>,
  client: Client,
  api: ResourceServer | undefined,
  userId: string,
  scope: string[],
  now: number,
): Promise<void> {
  const audience = api?.identifier ?? '';
  const existing = await storage.consents.get(userId, client.client_id, audience);
  await storage.consents.put({
    userId,
    clientId: client.client_id,
    audience,
    scope: [...new Set([...(existing?.scope ?? []), ...scope])],
    updatedAt: new Date(now).toISOString(),
  });
  recordEvent({
    type: 'consent_given',
    client_id: client.client_id,
    client_name: client.name,
    user_id: userId,
    ...(api ? { audience: api.identifier } : {}),
    scope: scope.join(' '),
  });
}

const OIDC_SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm your identity',
  profile: 'See your name, nickname and picture',
  email: 'See your email address',
  phone: 'See your phone number',
  address: 'See your address',
  offline_access: 'Stay signed in when you are not using it',
};

/** Scopes in words, for the consent and device confirmation pages; API scopes name their API. */
export function describeScopes(scope: readonly string[], api: ResourceServer | undefined): Array<{ name: string; description: string }> {
  const apiScopes = new Map(api?.scopes.map((s) => [s.value, s.description ?? s.value]));
  return scope.map((value) => ({
    name: OIDC_SCOPES.has(value) || !api ? value : `${value} (${api.name})`,
    description: OIDC_SCOPE_DESCRIPTIONS[value] ?? apiScopes.get(value) ?? value,
  }));
}

/**
 * Where accepting sends the user, as the consent page of a third-party app shows it: the host of a
 * web or loopback redirect, or the whole custom scheme of a native app's (`com.example.app:`), the
 * one part of the app the user can check, as its name is whatever its registrant typed.
 */
export function redirectDestination(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.host : url.protocol;
}

/**
 * Withdraws consent: the next sign-in asks again, and the refresh tokens the client holds for the
 * user stop working at once: taking access back must not wait for tokens to expire. By id (one API),
 * or for a whole user or user and client.
 */
export async function revokeConsent(
  storage: Pick<Storage, 'transaction'>,
  which: { id: string } | { userId: string; clientId?: string },
  now: number,
): Promise<boolean> {
  const nowIso = new Date(now).toISOString();
  // One transaction: a consent gone with its tokens still live (or the reverse) is never seen.
  return storage.transaction(async (tx) => {
    if ('id' in which) {
      const removed = await tx.consents.delete(which.id);
      if (removed) await tx.refreshTokens.revokeAllOf(removed.userId, removed.clientId, nowIso);
      return removed !== undefined;
    }
    await tx.consents.deleteAllOf(which.userId, which.clientId);
    await tx.refreshTokens.revokeAllOf(which.userId, which.clientId, nowIso);
    return true;
  });
}
