// node-oidc-provider (v9) set up to do what latchkey does for an M2M client: client_credentials with
// client_secret_post, answering with an RS256 JWT access token for one API (RFC 8707 resource
// indicator). Started by client-credentials.ts; plain JavaScript so it runs on bare `node`, exactly
// like latchkey's built dist/, with no loader in the way.
//
// Environment: BENCH_OIDC_PORT, BENCH_OIDC_CLIENT_ID, BENCH_OIDC_CLIENT_SECRET, BENCH_OIDC_RESOURCE,
// BENCH_OIDC_SCOPE.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const port = Number(required('BENCH_OIDC_PORT'));
const resource = required('BENCH_OIDC_RESOURCE');
const scope = required('BENCH_OIDC_SCOPE');

// The same key type and size latchkey signs with (RSA 2048), so both pay the same signature cost.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };

const tokenLifetimeSeconds = 86400; // latchkey's (and Auth0's) default API token lifetime

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: required('BENCH_OIDC_CLIENT_ID'),
      client_secret: required('BENCH_OIDC_CLIENT_SECRET'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope,
    },
  ],
  jwks: { keys: [signingKey] },
  // Scopes a client may be registered with; the resource server below narrows what a token carries.
  scopes: [scope],
  // Same path as latchkey (and Auth0), so the load generator's request differs only in its body.
  routes: { token: '/oauth/token' },
  ttl: { ClientCredentials: tokenLifetimeSeconds },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope,
          audience: resource,
          accessTokenTTL: tokenLifetimeSeconds,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

createServer(provider.callback()).listen(port, '127.0.0.1');

// Exit through process.exit on SIGTERM, so `node --cpu-prof` can write its profile when stopped.
process.once('SIGTERM', () => process.exit(0));
