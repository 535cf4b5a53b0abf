import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import type { FetchLike } from '../../src/index.js';

export const FAKE_ISSUER = 'https://issuer.test/';
export const FAKE_CLIENT = 'fake-client';

type TokenHandler = (params: URLSearchParams) => { status: number; body: Record<string, unknown> };

/**
 * An in-memory OpenID provider behind an injected fetch, for what a real server will not do on
 * demand: sign a wrong id_token, answer slow_down, expire a device code. Keys are real (jose).
 */
export async function fakeIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const requests: { url: string; params: URLSearchParams }[] = [];
  let onToken: TokenHandler = () => ({ status: 400, body: { error: 'invalid_request' } });
  let onDevice: TokenHandler = () => ({ status: 400, body: { error: 'invalid_request' } });

  async function idToken(
    claims: JWTPayload,
    header: { alg?: string; kid?: string } = {},
    key: CryptoKey | Uint8Array = privateKey,
  ): Promise<string> {
    const nowSeconds = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: FAKE_ISSUER, aud: FAKE_CLIENT, sub: 'auth0|user1', iat: nowSeconds, exp: nowSeconds + 3600, ...claims })
      .setProtectedHeader({ alg: header.alg ?? 'RS256', kid: header.kid ?? 'k1' })
      .sign(key);
  }

  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  const fetch: FetchLike = async (input, init) => {
    const url = String(input);
    const params = new URLSearchParams(typeof init?.body === 'string' ? init.body : '');
    requests.push({ url, params });
    if (url === `${FAKE_ISSUER}.well-known/openid-configuration`) {
      return json(200, {
        issuer: FAKE_ISSUER,
        authorization_endpoint: `${FAKE_ISSUER}authorize`,
        token_endpoint: `${FAKE_ISSUER}oauth/token`,
        jwks_uri: `${FAKE_ISSUER}.well-known/jwks.json`,
        revocation_endpoint: `${FAKE_ISSUER}oauth/revoke`,
        device_authorization_endpoint: `${FAKE_ISSUER}oauth/device/code`,
        id_token_signing_alg_values_supported: ['RS256', 'HS256'],
      });
    }
    if (url === `${FAKE_ISSUER}.well-known/jwks.json`) return json(200, { keys: [jwk] });
    if (url === `${FAKE_ISSUER}oauth/token`) {
      const { status, body } = onToken(params);
      return json(status, body);
    }
    if (url === `${FAKE_ISSUER}oauth/device/code`) {
      const { status, body } = onDevice(params);
      return json(status, body);
    }
    if (url === `${FAKE_ISSUER}oauth/revoke`) return new Response('', { status: 200 });
    return json(404, { error: 'not_found' });
  };

  return {
    fetch,
    requests,
    idToken,
    tokenRequests: () => requests.filter((r) => r.url === `${FAKE_ISSUER}oauth/token`),
    onToken(handler: TokenHandler) {
      onToken = handler;
    },
    onDeviceCode(handler: TokenHandler) {
      onDevice = handler;
    },
  };
}
