import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessDenied, DesktopAuth, DeviceCodeExpired, type DeviceCodePrompt, KeychainUnavailable, LoginCancelled } from '../src/index.js';
import { FAKE_CLIENT, FAKE_ISSUER, fakeIssuer } from './helpers/fake-issuer.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A device flow whose token endpoint answers from a script, with time that moves only when the SDK waits. */
async function scripted(
  answers: Array<{ status: number; body: Record<string, unknown> } | 'tokens'>,
  deviceResponse: Record<string, unknown> = {},
) {
  const issuer = await fakeIssuer();
  const idToken = await issuer.idToken({ name: 'Ada' });
  issuer.onDeviceCode((params) => {
    assert.equal(params.get('client_id'), FAKE_CLIENT);
    assert.match(params.get('scope')!, /\bopenid\b/);
    return {
      status: 200,
      body: {
        device_code: 'dc-secret',
        user_code: 'WDJB-MJHT',
        verification_uri: `${FAKE_ISSUER}activate`,
        verification_uri_complete: `${FAKE_ISSUER}activate?user_code=WDJB-MJHT`,
        expires_in: 900,
        interval: 5,
        ...deviceResponse,
      },
    };
  });
  issuer.onToken((params) => {
    assert.equal(params.get('grant_type'), DEVICE_GRANT);
    assert.equal(params.get('device_code'), 'dc-secret');
    const answer = answers.shift() ?? 'tokens';
    return answer === 'tokens'
      ? { status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt', id_token: idToken } }
      : answer;
  });
  let clock = Date.now();
  const waits: number[] = [];
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    audience: 'https://api.test/',
    fetch: issuer.fetch,
    now: () => clock,
    sleep: async (ms, signal) => {
      if (signal.aborted) throw signal.reason;
      waits.push(ms);
      clock += ms;
    },
  });
  return { auth, issuer, waits };
}

const pending = { status: 403, body: { error: 'authorization_pending', error_description: 'User has yet to authorize device code.' } };
const slowDown = { status: 429, body: { error: 'slow_down' } };

test('shows the code, waits the interval between polls, keeps polling while pending, backs off 5 s on slow_down', async () => {
  const { auth, issuer, waits } = await scripted([pending, slowDown, pending, 'tokens']);
  const prompts: DeviceCodePrompt[] = [];
  const user = await auth.loginWithDeviceCode({ onPrompt: (prompt) => void prompts.push(prompt) });
  assert.equal(user.name, 'Ada');
  assert.deepEqual(prompts, [
    {
      userCode: 'WDJB-MJHT',
      verificationUri: `${FAKE_ISSUER}activate`,
      verificationUriComplete: `${FAKE_ISSUER}activate?user_code=WDJB-MJHT`,
      expiresIn: 900,
    },
  ]);
  assert.deepEqual(waits, [5000, 5000, 10000, 10000]);
  assert.equal(issuer.requests.find((r) => r.url.endsWith('/device/code'))!.params.get('audience'), 'https://api.test/');
  assert.equal(await auth.getAccessToken(), 'at');
  assert.equal(auth.status, 'signed-in');
});

test('expired_token, or running past expires_in, ends with DeviceCodeExpired', async () => {
  const expired = await scripted([pending, { status: 403, body: { error: 'expired_token' } }]);
  await assert.rejects(expired.auth.loginWithDeviceCode({ onPrompt: () => {} }), DeviceCodeExpired);
  assert.equal(expired.auth.status, 'signed-out');

  const forever = await scripted(
    Array.from({ length: 100 }, () => pending),
    { expires_in: 20 },
  );
  await assert.rejects(forever.auth.loginWithDeviceCode({ onPrompt: () => {} }), DeviceCodeExpired);
  assert.equal(forever.issuer.tokenRequests().length, 3, 'polls at 5, 10 and 15 s; gives up at 20 s without asking again');
});

test('access_denied (the user declined) ends with AccessDenied', async () => {
  const { auth } = await scripted([pending, { status: 403, body: { error: 'access_denied', error_description: 'User declined' } }]);
  await assert.rejects(
    auth.loginWithDeviceCode({ onPrompt: () => {} }),
    (error: unknown) => error instanceof AccessDenied && error.code === 'access_denied',
  );
});

test('aborting while polling ends with LoginCancelled and stops polling', async () => {
  const { auth, issuer } = await scripted(Array.from({ length: 100 }, () => pending));
  const controller = new AbortController();
  let polls = 0;
  issuer.onToken(() => {
    polls += 1;
    if (polls === 2) controller.abort();
    return pending;
  });
  await assert.rejects(auth.loginWithDeviceCode({ onPrompt: () => {}, signal: controller.signal }), LoginCancelled);
  assert.equal(polls, 2);
});

test('a store that refuses (no keychain) fails the login with KeychainUnavailable and revokes the unkept refresh token', async () => {
  const issuer = await fakeIssuer();
  const idToken = await issuer.idToken({});
  issuer.onDeviceCode(() => ({
    status: 200,
    body: { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: `${FAKE_ISSUER}activate`, expires_in: 900, interval: 5 },
  }));
  issuer.onToken(() => ({
    status: 200,
    body: { access_token: 'at', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-unkept', id_token: idToken },
  }));
  const refusingStore = {
    load: async () => null,
    save: async () => {
      throw new KeychainUnavailable('No Secret Service');
    },
    clear: async () => {},
  };
  const auth = new DesktopAuth({
    issuer: FAKE_ISSUER,
    clientId: FAKE_CLIENT,
    store: refusingStore,
    fetch: issuer.fetch,
    sleep: async () => {},
  });
  await assert.rejects(auth.loginWithDeviceCode({ onPrompt: () => {} }), KeychainUnavailable);
  assert.equal(auth.status, 'signed-out');
  assert.equal(auth.getProfile(), undefined);
  assert.equal(issuer.requests.find((r) => r.url.endsWith('/oauth/revoke'))?.params.get('token'), 'rt-unkept');
});
