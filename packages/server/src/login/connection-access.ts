import { connectionUsableBy } from '../connections/database.js';
import type { Client, Connection, Session } from '../domain/types.js';
import type { Lookups } from '../storage/cache.js';

const UPSTREAM_STRATEGIES = new Set(['oauth2', 'oidc']);

/** Upstream connections (custom OAuth2, OIDC) this client may sign in with, for the login page. */
export async function upstreamConnectionsFor(lookups: Lookups, client: Client): Promise<Connection[]> {
  return (await lookups.upstreamConnections()).filter((connection) => connectionUsableBy(connection, client));
}

export async function usableUpstreamConnection(
  lookups: Lookups,
  client: Client,
  name: string | undefined,
): Promise<Connection | undefined> {
  if (name === undefined) return undefined;
  const connection = await lookups.connection(name);
  return connection && UPSTREAM_STRATEGIES.has(connection.strategy) && connectionUsableBy(connection, client) ? connection : undefined;
}

/** Who an SSO session is asked to answer: a client, and the connection its request names, if any. */
export interface SessionAudience {
  client: Client;
  connection?: string | undefined;
}

/**
 * Whether an SSO session may answer a client without a new sign-in. A session stands for a sign-in
 * through one connection, so it serves only clients that may use that connection (the same rule as
 * the login page: enabled_clients, or a domain connection for third-party apps) and only a request
 * naming that connection, if it names one. Otherwise any app, even one enabled on no connection or a
 * registered third-party app, would get tokens for a user it could never sign in itself.
 * A session without a recorded connection (made before sessions recorded database sign-ins) serves
 * no one: its user signs in once more rather than being let through by guesswork.
 */
export async function sessionServes(lookups: Lookups, session: Pick<Session, 'connection'>, audience: SessionAudience): Promise<boolean> {
  if (session.connection === undefined) return false;
  if (audience.connection !== undefined && audience.connection !== session.connection) return false;
  const connection = await lookups.connection(session.connection);
  return connection !== undefined && connectionUsableBy(connection, audience.client);
}
