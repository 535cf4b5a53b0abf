import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DesktopAuth, DiscoveryFailed, deepLinkRedirect, type FetchLike } from '../src/index.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';

/** The fake issuer with its discovery document changed: what a compromised or misconfigured provider publishes. */
async function issuerPublishing(overrides: Record<string, unknown>) {
  const issuer = await fakeIssuer();
  const fetch: FetchLike = async (input, init) => {
    const response = await issuer.fetch(input, init);
    if (String(input) !== `${FAKE_ISSUER}.well-known/openid-configuration`) return response;
    return Response.json({ ...((await response.json()) as object), ...overrides });
  };
  const opened: string[] = [];
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    fetch,
    redirect: deepLinkRedirect('com.example.app:/callback'),
    openUrl: (url) => void opened.push(url),
  });
  return { auth, opened, issuer };
}

test('a plain-http token endpoint (not loopback) is refused before the browser opens: no code or refresh token goes in clear', async () => {
  const { auth, opened, issuer } = await issuerPublishing({ token_endpoint: 'http://issuer.test/oauth/token' });
  await assert.rejects(
    auth.login(),
    (error: unknown) => error instanceof DiscoveryFailed && /token_endpoint is not an https URL/.test(error.message),
  );
  assert.deepEqual(opened, []);
  assert.equal(issuer.requests.filter((r) => r.url.startsWith('http:')).length, 0);
});

for (const endSession of [
  'http://issuer.test/logout',
  'file:///C:/Windows/System32/calc.exe',
  'smb://attacker.example/share/run.exe',
  'javascript:alert(1)',
]) {
  test(`an end_session_endpoint of ${endSession.split(':')[0]}: is refused: no id_token_hint sent, no URL to openExternal`, async () => {
    const { auth } = await issuerPublishing({ end_session_endpoint: endSession });
    await assert.rejects(
      auth.logoutUrl(),
      (error: unknown) => error instanceof DiscoveryFailed && /end_session_endpoint/.test(error.message),
    );
  });
}

test('https endpoints on another host stay accepted (OpenID Discovery allows them; the issuer check is what binds them)', async () => {
  const { auth } = await issuerPublishing({ end_session_endpoint: 'https://logout.example/end', revocation_endpoint: null });
  const url = new URL((await auth.logoutUrl({ returnTo: 'com.example.app:/bye' }))!);
  assert.equal(url.origin + url.pathname, 'https://logout.example/end');
  assert.equal(url.searchParams.get('post_logout_redirect_uri'), 'com.example.app:/bye');
});

test('a provider without end_session_endpoint, not laid out like Auth0 (Google), gets no logout URL, no /v2/logout that 404s', async () => {
  const { auth } = await issuerPublishing({ token_endpoint: 'https://oauth2.issuer-apis.test/token' });
  assert.equal(await auth.logoutUrl({ returnTo: 'com.example.app:/bye' }), undefined);
  assert.equal(await auth.logoutUrl({ federated: true }), undefined);
  const { logoutUrl } = await auth.logout();
  assert.equal(logoutUrl, undefined);
  // The Auth0 layout (token endpoint at ISSUER/oauth/token, no end_session_endpoint) keeps /v2/logout.
  const auth0 = await issuerPublishing({});
  assert.equal(new URL((await auth0.auth.logoutUrl({ federated: true }))!).pathname, '/v2/logout');
});
