/**
 * Delivery that loses nothing: without a provider, mails wait in the outbox (readable through the
 * Management API) and go out once one is configured; an SMTP outage when a mail is queued delays it
 * and it arrives once SMTP is back, exactly once; two nodes on one database deliver each mail once;
 * a recipient the server refuses, or a server that stays down, fails the mail visibly.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { User } from '../src/domain/types.js';
import type { OutboxMailRecord } from '../src/mail/types.js';
import { backend, freePort, startTestServer, type TestServer } from './helpers/server.js';
import { TestSmtp } from './helpers/smtp.js';
import { createUser } from './helpers/tenant.js';

let server: TestServer;
let smtp: TestSmtp;
let user: User;
const logged: string[] = [];

// Retries a second apart, so an outage in the test is short; several attempts before giving up.
const FAST = { mailRetrySeconds: 1, mailRetryMaxSeconds: 2, mailMaxAttempts: 20 };

before(async () => {
  smtp = await TestSmtp.start();
  server = await startTestServer({
    config: { ...FAST, logLevel: 'warn' },
    logStream: { write: (chunk: string) => void logged.push(chunk) },
  });
  user = (await createUser(server, 'ada@delivery.example', { given_name: 'Ada' })) as User;
});
after(async () => {
  await server.close();
  await smtp.stop();
});

async function queue(on: TestServer, to: string, url = `https://id.example/ticket#${to}`): Promise<void> {
  const queued = await on.ctx.storage.transaction((tx) => on.ctx.mail.queue(tx, { template: 'reset_email', to, user, url }));
  assert.equal(queued, true);
}

async function outboxMail(to: string): Promise<OutboxMailRecord & { to: string }> {
  const list = await server.management('GET', '/emails/outbox?per_page=100');
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const found = (list.body as Array<OutboxMailRecord & { to: string }>).find((m) => m.to === to);
  assert.ok(found, `no mail to ${to} in the outbox`);
  return found;
}

async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('without a provider, mails wait in the outbox, readable by an admin, and go out once one is configured', async () => {
  await queue(server, 'ada@delivery.example', 'https://id.example/reset?ticket=abc123');
  const listed = await outboxMail('ada@delivery.example');
  assert.equal(listed.status, 'pending');
  assert.equal(listed.attempts, 0, 'nothing is tried without a provider');
  assert.ok(logged.some((line) => line.includes('no email provider is enabled') && line.includes(listed.id)));

  const one = await server.management('GET', `/emails/outbox/${listed.id}`);
  assert.equal(one.status, 200);
  assert.ok(one.body.html.includes('href="https://id.example/reset?ticket=abc123"'));
  assert.match(one.body.text, /https:\/\/id\.example\/reset\?ticket=abc123/);
  assert.equal((await server.management('GET', '/emails/outbox/mail_nope')).status, 404);
  // Reading the outbox (it holds one-time links) needs its own scope: the provider's is not enough.
  const providerReader = await server.managementToken('read:email_provider');
  assert.equal((await server.management('GET', '/emails/outbox', undefined, providerReader)).status, 403);

  const created = await server.management('POST', '/emails/provider', { name: 'smtp', credentials: smtp.credentials() });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await smtp.waitFor((m) => m.envelope.to.includes('ada@delivery.example'));
  const sent = await until(async () => {
    const mail = await outboxMail('ada@delivery.example');
    return mail.status === 'sent' ? mail : undefined;
  }, 'the mail to be marked sent');
  assert.equal(sent.attempts, 1);
});

test('SMTP down when a mail is queued: it arrives after SMTP is back, once', async () => {
  await smtp.stop();
  await queue(server, 'outage@delivery.example');
  const failing = await until(async () => {
    const mail = await outboxMail('outage@delivery.example');
    return mail.attempts >= 2 ? mail : undefined;
  }, 'two failed attempts');
  assert.equal(failing.status, 'pending');
  assert.match(String((failing as { last_error?: string }).last_error), /ECONNREFUSED/);

  await smtp.start();
  await smtp.waitFor((m) => m.envelope.to.includes('outage@delivery.example'));
  await until(async () => ((await outboxMail('outage@delivery.example')).status === 'sent' ? true : undefined), 'sent');
  // A few more polling rounds on both nodes: still one copy.
  await sleep(2500);
  assert.equal(smtp.to('outage@delivery.example').length, 1);
});

// Several nodes share PostgreSQL; SQLite is the single-node backend (one connection, whose transactions
// never overlap; two processes on one file would see SQLITE_BUSY, as for every other write).
test('two nodes on one PostgreSQL database deliver each mail once', { skip: backend !== 'postgres' }, async (t) => {
  const nodeB = await startTestServer({ shareWith: server, config: FAST });
  t.after(() => nodeB.close());
  const recipients = Array.from({ length: 16 }, (_, i) => `bulk${i}@delivery.example`);
  await Promise.all(recipients.map((to, i) => queue(i % 2 === 0 ? server : nodeB, to)));
  for (const to of recipients) await smtp.waitFor((m) => m.envelope.to.includes(to));
  await sleep(2500);
  for (const to of recipients) assert.equal(smtp.to(to).length, 1, `${to} received once`);
  const { body } = await server.management('GET', '/emails/outbox?status=sent&per_page=100');
  for (const to of recipients) assert.equal((body as Array<{ to: string }>).filter((m) => m.to === to).length, 1);
});

test('a recipient the server refuses fails the mail at once, visibly; an admin can send it again', async () => {
  await queue(server, 'rejected@delivery.example');
  const failed = await until(async () => {
    const mail = await outboxMail('rejected@delivery.example');
    return mail.status === 'failed' ? mail : undefined;
  }, 'the mail to fail');
  assert.equal(failed.attempts, 1, 'a 5xx to RCPT TO is not retried');
  assert.match(String((failed as { last_error?: string }).last_error), /550/);

  const retried = await server.management('POST', `/emails/outbox/${failed.id}/retry`);
  assert.equal(retried.status, 200, JSON.stringify(retried.body));
  assert.equal(retried.body.attempts, 0);
  await until(async () => {
    const mail = await outboxMail('rejected@delivery.example');
    return mail.status === 'failed' && mail.attempts === 1 ? mail : undefined;
  }, 'the retried mail to fail again');
  assert.equal(
    (await server.management('POST', `/emails/outbox/${failed.id}/retry`, undefined, await server.managementToken('read:email_outbox')))
      .status,
    403,
  );
});

test('a server that stays down: the mail fails after the configured attempts, with the error kept', async () => {
  const lonely = await startTestServer({ config: { mailRetrySeconds: 1, mailRetryMaxSeconds: 1, mailMaxAttempts: 2 } });
  try {
    const closedPort = await freePort();
    const created = await lonely.management('POST', '/emails/provider', {
      name: 'smtp',
      credentials: { smtp_host: '127.0.0.1', smtp_port: closedPort },
    });
    assert.equal(created.status, 201);
    const other = (await createUser(lonely, 'down@delivery.example')) as User;
    await lonely.ctx.storage.transaction((tx) =>
      lonely.ctx.mail.queue(tx, { template: 'welcome_email', to: 'down@delivery.example', user: other }),
    );
    const failed = await until(async () => {
      const { items } = await lonely.ctx.storage.mailOutbox.list(
        { status: 'failed' },
        { kind: 'offset', offset: 0, limit: 10, includeTotal: false },
      );
      return items[0];
    }, 'the mail to fail');
    assert.equal(failed.attempts, 2);
    assert.match(String(failed.lastError), /ECONNREFUSED/);
  } finally {
    await lonely.close();
  }
});

test('require_tls: a server that offers no STARTTLS gets nothing', async () => {
  const strict = await startTestServer({ config: { mailRetrySeconds: 1, mailMaxAttempts: 1 } });
  try {
    const created = await strict.management('POST', '/emails/provider', {
      name: 'smtp',
      credentials: smtp.credentials(),
      settings: { require_tls: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const other = (await createUser(strict, 'plain@delivery.example')) as User;
    await strict.ctx.storage.transaction((tx) =>
      strict.ctx.mail.queue(tx, { template: 'welcome_email', to: 'plain@delivery.example', user: other }),
    );
    const failed = await until(async () => {
      const { items } = await strict.ctx.storage.mailOutbox.list(
        { status: 'failed' },
        { kind: 'offset', offset: 0, limit: 10, includeTotal: false },
      );
      return items[0];
    }, 'the mail to fail');
    assert.match(String(failed.lastError), /^ETLS/, 'refused for want of TLS');
    assert.equal(smtp.to('plain@delivery.example').length, 0);
  } finally {
    await strict.close();
  }
});

test('a node that died holding a mail: the mail goes out once its claim runs out', async () => {
  const node = await startTestServer({ config: FAST });
  try {
    const other = (await createUser(node, 'orphan@delivery.example')) as User;
    await node.ctx.storage.transaction((tx) =>
      node.ctx.mail.queue(tx, { template: 'welcome_email', to: 'orphan@delivery.example', user: other }),
    );
    // A node claims it and dies before sending: its lease (2 s) is left behind.
    const now = Date.now();
    const claimed = await node.ctx.storage.mailOutbox.claim('dead-node', new Date(now).toISOString(), new Date(now + 2000).toISOString());
    assert.ok(claimed);
    const created = await node.management('POST', '/emails/provider', { name: 'smtp', credentials: smtp.credentials() });
    assert.equal(created.status, 201);
    const received = await smtp.waitFor((m) => m.envelope.to.includes('orphan@delivery.example'));
    assert.match(received.subject, /Welcome to/);
    const mail = await until(async () => {
      const stored = await node.ctx.storage.mailOutbox.get(claimed.id);
      return stored?.status === 'sent' ? stored : undefined;
    }, 'the mail to be marked sent');
    assert.equal(mail.attempts, 2, 'the dead node’s attempt counts');
    assert.equal(smtp.to('orphan@delivery.example').length, 1);
  } finally {
    await node.close();
  }
});
