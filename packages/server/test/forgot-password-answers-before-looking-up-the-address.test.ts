/**
 * "Forgot password?" must not tell by its timing whether an address has an account: the answer is
 * the same, and the work that differs (the lookup, the ticket, the mail) starts only after the answer
 * has gone out. On SQLite every query runs synchronously, so a lookup started before would hold the
 * answer back for an existing user. Checked as an order of events, not as a timing: the server's own
 * log line for the answered request comes before the lookup of the address.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuthenticationClient } from 'auth0/legacy';
import { waitForMails } from './helpers/outbox.js';
import { backend, startTestServer, type TestServer, trustTestCa } from './helpers/server.js';
import { createNativeApp, createUser } from './helpers/tenant.js';

const events: string[] = [];
let server: TestServer;
let auth: AuthenticationClient;

before(async () => {
  const stream = {
    write(chunk: string) {
      const line = JSON.parse(chunk);
      if (line.msg === 'request completed' && String(line.req?.url).startsWith('/dbconnections/change_password')) events.push('answered');
    },
  };
  trustTestCa();
  server = await startTestServer({ https: true, config: { logLevel: 'info' }, logStream: stream });
  const app = await createNativeApp(server, ['http://127.0.0.1/callback']);
  auth = new AuthenticationClient({ domain: new URL(server.issuer).host, clientId: app.client_id });
  // The test's lens on the server: when the address is looked up.
  const users = server.ctx.storage.users;
  const findByEmail = users.findByEmail.bind(users);
  users.findByEmail = (...args: Parameters<typeof findByEmail>) => {
    events.push('lookup');
    return findByEmail(...args);
  };
});
after(() => server?.close());

test(`change_password answers before the address is looked up, for a user and for a stranger (${backend})`, async () => {
  const user = await createUser(server, 'answered-first@example.test');
  for (const email of [user.email, 'nobody-at-all@example.test']) {
    events.length = 0;
    const answer = await auth.database.changePassword({ email, connection: 'Username-Password-Authentication' });
    assert.equal(answer.status, 200);
    for (let i = 0; i < 100 && !events.includes('lookup'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(events, ['answered', 'lookup'], email);
  }
  await waitForMails(server, user.email, 'reset_email');
});
