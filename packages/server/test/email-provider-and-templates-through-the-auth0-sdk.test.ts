/**
 * The email provider and email templates through Auth0's own Node SDK (`auth0` v7), with Auth0's status
 * codes: a provider is created once (409 after), read without its password (which is sealed at rest
 * and never in a response or a log line), and changed only with the password again when it would go
 * to another server. Templates read 404 until stored, refuse Liquid that does not parse or reaches
 * for files, and what is stored is what a real SMTP server receives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManagementClient, ManagementError } from 'auth0';
import type { User } from '../src/domain/types.js';
import { startTestServer, type TestServer, trustTestCa } from './helpers/server.js';
import { TestSmtp } from './helpers/smtp.js';
import { createUser } from './helpers/tenant.js';

const PASSWORD = 'smtp-pass-Very-Secret-7781';

let server: TestServer;
let smtp: TestSmtp;
let management: ManagementClient;
/** Every log line, at debug level: the SMTP password must never be among them. */
const logged: string[] = [];
/** Every Management API response body seen by the SDK. */
const responses: string[] = [];

before(async () => {
  trustTestCa();
  smtp = await TestSmtp.start({ auth: { user: 'latchkey', pass: PASSWORD } });
  server = await startTestServer({
    https: true,
    config: { logLevel: 'debug' },
    logStream: { write: (chunk: string) => void logged.push(chunk) },
  });
  management = new ManagementClient({
    domain: new URL(server.issuer).host,
    clientId: server.admin.clientId,
    clientSecret: server.admin.clientSecret,
  });
});
after(async () => {
  await server.close();
  await smtp.stop();
  for (const text of [...logged, ...responses]) assert.ok(!text.includes(PASSWORD), 'the SMTP password never leaves the API');
});

async function rejection(call: () => Promise<unknown>): Promise<ManagementError> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof ManagementError, String(err));
    responses.push(JSON.stringify(err.body));
    return err;
  }
  assert.fail('expected the call to be refused');
}

const seen = <T>(value: T): T => {
  responses.push(JSON.stringify(value));
  return value;
};

test('the email provider: 404 until created, created once, read without its password', async () => {
  const missing = await rejection(() => management.emails.provider.get());
  assert.equal(missing.statusCode, 404);
  assert.equal((missing.body as Record<string, unknown>).errorCode, 'inexistent_email_provider');

  const created = seen(
    await management.emails.provider.create({
      name: 'smtp',
      credentials: smtp.credentials(),
      default_from_address: 'accounts@mail.example',
      settings: { headers: { 'X-Tenant': 'test' } },
    }),
  );
  assert.equal(created.name, 'smtp');
  assert.equal(created.enabled, true);
  assert.deepEqual(created.credentials, { smtp_host: '127.0.0.1', smtp_port: smtp.port, smtp_user: 'latchkey' });

  const again = await rejection(() => management.emails.provider.create({ name: 'smtp', credentials: smtp.credentials() }));
  assert.equal(again.statusCode, 409);

  const read = seen(await management.emails.provider.get());
  assert.deepEqual(read.credentials, { smtp_host: '127.0.0.1', smtp_port: smtp.port, smtp_user: 'latchkey' });
  assert.equal(read.default_from_address, 'accounts@mail.example');
  const fields = seen(await management.emails.provider.get({ fields: 'name,enabled', include_fields: true }));
  assert.deepEqual(Object.keys(fields).sort(), ['enabled', 'name']);

  // At rest the password is sealed: not in the stored document.
  const stored = await server.ctx.storage.emailProvider.get();
  assert.ok(stored?.smtpPassSealed && !JSON.stringify(stored).includes(PASSWORD));
});

test('the provider refuses what latchkey cannot send through, and a password moved to another server', async () => {
  const other = await rejection(() => management.emails.provider.update({ name: 'sendgrid', credentials: { api_key: 'x' } }));
  assert.equal(other.statusCode, 400);
  const moved = await rejection(() =>
    management.emails.provider.update({ credentials: { smtp_host: 'smtp.attacker.example', smtp_port: 25 } }),
  );
  assert.equal(moved.statusCode, 400);
  assert.match(moved.message, /smtp_pass is required/);
  const badSetting = await rejection(() => management.emails.provider.update({ settings: { headers: { 'Bad\nName': 'x' } } }));
  assert.equal(badSetting.statusCode, 400);
  assert.equal((await server.ctx.storage.emailProvider.get())?.credentials.smtp_host, '127.0.0.1');

  // Re-applying what a read returned (auth0-deploy-cli does) keeps the password.
  const read = await management.emails.provider.get();
  const updated = seen(await management.emails.provider.update({ ...read, name: 'smtp', enabled: true }));
  assert.equal(updated.credentials?.smtp_host, '127.0.0.1');
  assert.ok((await server.ctx.storage.emailProvider.get())?.smtpPassSealed);
});

test('templates: 404 until stored, Liquid checked at write, PATCH and PUT as in Auth0', async () => {
  const missing = await rejection(() => management.emailTemplates.get('verify_email'));
  assert.equal(missing.statusCode, 404);

  const broken = await rejection(() =>
    management.emailTemplates.create({ template: 'verify_email', body: '{% if user.email %}unclosed', syntax: 'liquid', enabled: true }),
  );
  assert.equal(broken.statusCode, 400);
  const files = await rejection(() =>
    management.emailTemplates.create({ template: 'verify_email', body: "{% include '/etc/passwd' %}", syntax: 'liquid', enabled: true }),
  );
  assert.equal(files.statusCode, 400);
  const unknownName = await rejection(() => management.emailTemplates.update('no_such_template' as 'verify_email', { enabled: false }));
  assert.equal(unknownName.statusCode, 400);

  const created = seen(
    await management.emailTemplates.create({
      template: 'verify_email',
      body: '<p>Welcome {{ user.name }} to {{ application.name }}: <a href="{{ url }}">verify</a></p>',
      from: '{{ friendly_name }} <hello@mail.example>',
      subject: 'Verify {{ user.email }}',
      syntax: 'liquid',
      resultUrl: 'https://app.example/verified',
      urlLifetimeInSeconds: 3600,
      enabled: true,
    }),
  );
  assert.equal(created.template, 'verify_email');
  assert.equal(created.urlLifetimeInSeconds, 3600);
  const twice = await rejection(() => management.emailTemplates.create({ template: 'verify_email', body: '<p>x</p>', enabled: true }));
  assert.equal(twice.statusCode, 409);

  const patched = seen(await management.emailTemplates.update('verify_email', { subject: 'Please verify {{ user.email }}' }));
  assert.equal(patched.subject, 'Please verify {{ user.email }}');
  assert.equal(patched.resultUrl, 'https://app.example/verified', 'PATCH keeps what it does not name');
  const got = seen(await management.emailTemplates.get('verify_email'));
  assert.equal(got.subject, 'Please verify {{ user.email }}');
  assert.equal(got.syntax, 'liquid');

  const settings = await server.ctx.mail.templateSettings(server.ctx.storage, 'verify_email');
  assert.deepEqual(settings, {
    enabled: true,
    resultUrl: 'https://app.example/verified',
    urlLifetimeInSeconds: 3600,
    includeEmailInRedirect: true,
  });

  const putAbsent = await rejection(() =>
    management.emailTemplates.set('blocked_account', { template: 'blocked_account', body: '<p>x</p>' }),
  );
  assert.equal(putAbsent.statusCode, 404);
  await management.emailTemplates.create({ template: 'reset_email', body: '<p>old</p>', subject: 'old', enabled: true });
  const replaced = seen(await management.emailTemplates.set('reset_email', { template: 'reset_email', body: '<p>new {{ url }}</p>' }));
  assert.equal(replaced.body, '<p>new {{ url }}</p>');
  assert.equal(replaced.subject, null, 'PUT replaces the whole template');
});

test('what is stored is what the SMTP server receives, through the provider, with its headers', async () => {
  const { client_id } = await management.clients.create({
    name: 'Billing portal',
    app_type: 'regular_web',
    callbacks: ['https://app.example/cb'],
  });
  const user = (await createUser(server, 'ada@mail.example', { name: 'Ada <Lovelace>' })) as User;
  const queued = await server.ctx.storage.transaction((tx) =>
    server.ctx.mail.queue(tx, {
      template: 'verify_email',
      to: 'ada@mail.example',
      user,
      clientId: client_id,
      url: 'https://id.example/v?t=1&u=2',
    }),
  );
  assert.equal(queued, true);
  const mail = await smtp.waitFor((m) => m.envelope.to.includes('ada@mail.example'));
  assert.equal(mail.subject, 'Please verify ada@mail.example');
  assert.equal(mail.user, 'latchkey', 'sent with the provider credentials');
  assert.match(mail.from, /hello@mail\.example/);
  assert.ok(mail.html.includes('Welcome Ada &lt;Lovelace&gt; to Billing portal'), mail.html);
  assert.ok(mail.html.includes('href="https://id.example/v?t=1&amp;u=2"'), mail.html);
  assert.match(mail.text, /verify \(https:\/\/id\.example\/v\?t=1&u=2\)/);
  assert.equal(mail.headers['x-tenant'], 'test');

  // A disabled template sends nothing at all.
  await management.emailTemplates.update('verify_email', { enabled: false });
  const disabled = await server.ctx.storage.transaction((tx) =>
    server.ctx.mail.queue(tx, { template: 'verify_email', to: 'grace@mail.example', user, url: 'https://id.example/v?t=2' }),
  );
  assert.equal(disabled, false);
  // The next mail queued after it arrives, and nothing for grace came before it.
  await server.ctx.storage.transaction((tx) => server.ctx.mail.queue(tx, { template: 'welcome_email', to: 'marker@mail.example', user }));
  await smtp.waitFor((m) => m.envelope.to.includes('marker@mail.example'));
  assert.equal(smtp.to('grace@mail.example').length, 0);
});
