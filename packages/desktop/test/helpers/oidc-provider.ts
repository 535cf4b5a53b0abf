import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { Page } from 'playwright-core';

export const OP_CLIENT_ID = 'desktop-app';
export const OP_USER = 'grace';

export interface PlainProvider {
  /** As oidc-provider writes it: no trailing slash. */
  issuer: string;
  /** Takes the server off the network (the provider's state, in memory, survives). */
  stop(): Promise<void>;
  /** Listens again on the same port: the outage is over. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * node-oidc-provider as a plain OpenID provider, nothing Auth0 about it: an issuer without a
 * trailing slash, no `audience`, `/session/end` for logout, no `/v2/logout`, opaque access tokens,
 * rotating refresh tokens. One native public client with a loopback redirect (any port, RFC 8252
 * §7.3) and PKCE; the development login and consent pages stand in for a real login.
 */
export async function startPlainProvider(): Promise<PlainProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: OP_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        post_logout_redirect_uris: [`${issuer}/signed-out`],
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'op-1', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: ['test-cookie-key'] },
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    // Profile claims in the id_token too (as Auth0, Keycloak and Entra do), not only at /userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, revocation: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    findAccount: (_ctx, accountId) => ({
      accountId,
      claims: () => ({ sub: accountId, name: 'Grace Hopper', email: 'grace@example.com', email_verified: true }),
    }),
  });
  server.on('request', provider.callback());
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    issuer,
    stop,
    start: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}

/** The development login page (any login and password) and the consent page, as a user clicks them. */
export async function signInAtPlainProvider(page: Page): Promise<void> {
  await page.locator('input[name=login]').fill(OP_USER);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}
