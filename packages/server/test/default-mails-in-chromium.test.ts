/**
 * latchkey's default mails as a mail client shows them: each template is queued (no provider: it
 * waits in the outbox), read back through the Management API's outbox, and rendered in Chromium
 * offline with scripts off, as webmail does. Its button opens the link, the link is also written out,
 * nothing overflows a phone's width, and the text part carries the link too. Screenshots land in
 * test-artifacts/screenshots/mail-*.png for people to look at; nothing compares pixels.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { User } from '../src/domain/types.js';
import { SENT_TEMPLATES } from '../src/mail/types.js';
import { launchChromium } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createUser } from './helpers/tenant.js';

const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'screenshots');
const VIEWPORTS = { desktop: { width: 900, height: 800 }, mobile: { width: 375, height: 740 } } as const;

let server: TestServer;
let browser: Browser;
let user: User;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  browser = await launchChromium();
  await server.management('PATCH', '/tenants/settings', { friendly_name: 'Acme Robotics', support_email: 'help@acme.test' });
  user = (await createUser(server, 'pat.jones@acme.test', { given_name: 'Pat', name: 'Pat Jones' })) as User;
});

after(async () => {
  await browser?.close();
  await server?.close();
});

for (const template of SENT_TEMPLATES) {
  test(`the default ${template} mail`, async () => {
    const url = template === 'welcome_email' ? undefined : `${server.issuer}u/${template}?ticket=Zm9vYmFyYmF6cXV4cXV1eA#${template}`;
    const queued = await server.ctx.storage.transaction((tx) =>
      server.ctx.mail.queue(tx, { template, to: user.email!, user, ...(url ? { url } : {}) }),
    );
    assert.equal(queued, true);
    const list = await server.management('GET', '/emails/outbox?per_page=100');
    const listed = (list.body as Array<{ id: string; template: string }>).find((m) => m.template === template);
    assert.ok(listed);
    const { body: mail } = await server.management('GET', `/emails/outbox/${listed.id}`);
    assert.ok(!/\{\{|\{%/.test(mail.html + mail.text + mail.subject), 'no Liquid left unrendered');
    assert.match(mail.subject, /Acme Robotics/);
    assert.match(mail.text, /Hi Pat,/);
    if (url) assert.ok(mail.text.includes(url), 'the text part carries the link');

    const context = await browser.newContext({ javaScriptEnabled: false, offline: true });
    try {
      const page = await context.newPage();
      await page.setContent(mail.html);
      assert.ok(await page.getByText('Hi Pat,').isVisible());
      assert.ok(await page.getByText('Sent by Acme Robotics').isVisible());
      if (url) {
        const button = page.getByRole('link', { name: /Verify email|Reset password|Change password|Unblock my account/ });
        assert.ok(await button.isVisible());
        assert.equal(await button.getAttribute('href'), url);
        assert.ok(await page.getByRole('link', { name: url }).isVisible(), 'the link is written out too');
      }
      for (const [viewport, size] of Object.entries(VIEWPORTS)) {
        await page.setViewportSize(size);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `${template} overflows the ${viewport} width by ${overflow}px`);
        await page.screenshot({ path: join(SCREENSHOTS, `mail-${template}-${viewport}.png`), fullPage: true });
      }
    } finally {
      await context.close();
    }
  });
}
