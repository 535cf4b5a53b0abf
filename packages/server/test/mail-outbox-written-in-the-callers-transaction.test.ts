/**
 * A mail exists iff the state it announces commits: ctx.mail.queue writes the rendered mail into the
 * outbox inside the caller's transaction. The content is sealed at rest (it carries one-time links),
 * a disabled template queues nothing, and the outbox refuses more than its per-recipient backstop.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { User } from '../src/domain/types.js';
import { openMail } from '../src/mail/mailer.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createUser } from './helpers/tenant.js';

let server: TestServer;
let user: User;

before(async () => {
  server = await startTestServer({ config: { mailPerRecipientPerHour: 3 } });
  user = (await createUser(server, 'ada@outbox.example', { name: 'Ada Lovelace', given_name: 'Ada' })) as User;
});
after(() => server.close());

const link = 'https://id.example.test/reset?ticket=secret-ticket-value';

test('a rolled-back transaction leaves no mail; a committed one leaves exactly its mail, sealed', async () => {
  await assert.rejects(
    server.ctx.storage.transaction(async (tx) => {
      assert.equal(await server.ctx.mail.queue(tx, { template: 'reset_email', to: user.email!, user, url: link }), true);
      throw new Error('the state change failed');
    }),
    /the state change failed/,
  );
  assert.equal((await server.ctx.storage.mailOutbox.list({}, { kind: 'offset', offset: 0, limit: 10, includeTotal: true })).total, 0);

  await server.ctx.storage.transaction((tx) => server.ctx.mail.queue(tx, { template: 'reset_email', to: user.email!, user, url: link }));
  const { items } = await server.ctx.storage.mailOutbox.list({}, { kind: 'offset', offset: 0, limit: 10, includeTotal: false });
  assert.equal(items.length, 1);
  const [mail] = items;
  assert.equal(mail!.status, 'pending');
  assert.equal(mail!.template, 'reset_email');
  assert.ok(!mail!.sealed.includes('secret-ticket-value') && !mail!.sealed.includes('ada@'), 'the content is encrypted at rest');

  const content = openMail(server.ctx.secrets, mail!);
  assert.equal(content.to, 'ada@outbox.example');
  assert.match(content.subject, /Reset your .* password/);
  assert.ok(content.html.includes('href="https://id.example.test/reset?ticket=secret-ticket-value"'));
  assert.match(content.html, /Hi Ada,/);
  assert.match(content.text, /Reset password: https:\/\/id\.example\.test\/reset\?ticket=secret-ticket-value/);
  assert.equal(content.from, 'no-reply@127.0.0.1');
  // A sealed content moved to another row does not open.
  assert.throws(() => openMail(server.ctx.secrets, { id: 'mail_other', sealed: mail!.sealed }));
});

test('a disabled template queues nothing', async () => {
  const created = await server.management('POST', '/email-templates', {
    template: 'welcome_email',
    body: '<p>Hello {{ user.email }}</p>',
    from: 'team@outbox.example',
    subject: 'Hello',
    syntax: 'liquid',
    enabled: false,
  });
  // Until the Management API route exists, write the template through the repository.
  if (created.status !== 201) {
    await server.ctx.storage.emailTemplates.insert({
      template: 'welcome_email',
      body: '<p>Hello</p>',
      from: null,
      subject: 'Hello',
      syntax: 'liquid',
      resultUrl: null,
      urlLifetimeInSeconds: null,
      includeEmailInRedirect: true,
      enabled: false,
    });
  }
  const other = (await createUser(server, 'grace@outbox.example')) as User;
  const queued = await server.ctx.storage.transaction((tx) =>
    server.ctx.mail.queue(tx, { template: 'welcome_email', to: other.email!, user: other }),
  );
  assert.equal(queued, false);
  const { items } = await server.ctx.storage.mailOutbox.list({}, { kind: 'offset', offset: 0, limit: 10, includeTotal: false });
  assert.ok(!items.some((m) => m.template === 'welcome_email'));
});

test('one recipient gets at most the configured number of mails an hour, whatever the letter case', async () => {
  const other = (await createUser(server, 'many@outbox.example')) as User;
  const results: boolean[] = [];
  for (const to of ['many@outbox.example', 'MANY@outbox.example', 'Many@Outbox.Example', 'many@outbox.example']) {
    results.push(
      await server.ctx.storage.transaction((tx) => server.ctx.mail.queue(tx, { template: 'verify_email', to, user: other, url: link })),
    );
  }
  assert.deepEqual(results, [true, true, true, false]);
});

test('a stored template reaches only its variables, and one that exceeds a render limit is replaced by the default', async () => {
  const other = (await createUser(server, 'limits@outbox.example', { app_metadata: { plan: 'gold' } })) as User;
  const stored = await server.management('POST', '/email-templates', {
    template: 'blocked_account',
    body:
      '<p>[{{ user.constructor }}][{{ user.__proto__ }}][{{ user.app_metadata.plan }}][{{ process.env.HOME }}]</p>' +
      '<a href="{{ url }}">unblock</a>',
    subject: 'Locked',
    syntax: 'liquid',
    enabled: true,
  });
  assert.equal(stored.status, 201, JSON.stringify(stored.body));
  await server.ctx.storage.transaction((tx) =>
    server.ctx.mail.queue(tx, { template: 'blocked_account', to: other.email!, user: other, url: 'https://id.example/unblock' }),
  );
  const first = await mailTo('limits@outbox.example');
  assert.ok(first.html.includes('<p>[][][gold][]</p>'), first.html);

  // Parses (so it is stored), but loops far past the render time and memory limits when sent.
  const patched = await server.management('PATCH', '/email-templates/blocked_account', {
    body: '{% for i in (1..100000000) %}{{ user.email }}{% endfor %}',
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  const queued = await server.ctx.storage.transaction((tx) =>
    server.ctx.mail.queue(tx, {
      template: 'blocked_account',
      to: 'limits2@outbox.example',
      user: other,
      url: 'https://id.example/unblock',
    }),
  );
  assert.equal(queued, true, 'the mail is still queued');
  const fallback = await mailTo('limits2@outbox.example');
  assert.match(fallback.html, /Your account was locked/);
  assert.ok(fallback.html.includes('href="https://id.example/unblock"'));
});

async function mailTo(to: string) {
  const { items } = await server.ctx.storage.mailOutbox.list({}, { kind: 'offset', offset: 0, limit: 100, includeTotal: false });
  const found = items.map((mail) => openMail(server.ctx.secrets, mail)).find((content) => content.to === to);
  assert.ok(found, `no mail to ${to}`);
  return found;
}
