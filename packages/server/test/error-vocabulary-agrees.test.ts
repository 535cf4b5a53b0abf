/**
 * The error vocabulary, its mappers and the docs agree (as fastify checks its error codes): every
 * kind maps to a 4xx on every surface, the table in docs/auth0-compatibility.md says what the
 * mappers do, and no code takes error messages apart with regexes or invents another error class.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DomainError, ERROR_KINDS } from '../src/domain/errors.js';
import {
  DBCONNECTIONS_ERRORS,
  dbconnectionsError,
  HOSTED_STATUS,
  MANAGEMENT_STATUS,
  managementError,
  OAUTH_ERRORS,
  oauthError,
  pageError,
  REGISTRATION_ERRORS,
  registrationError,
} from '../src/http/errors.js';

const root = new URL('../../..', import.meta.url).pathname;
const src = new URL('../src', import.meta.url).pathname;

test('every kind maps to a 4xx on every surface, and the mappers follow their tables', () => {
  for (const kind of ERROR_KINDS) {
    const error = new DomainError(kind, `some_${kind}_code`, `A ${kind} error`);
    const management = managementError(error);
    assert.equal(management.status, MANAGEMENT_STATUS[kind]);
    assert.deepEqual(management.body, {
      statusCode: management.status,
      error: management.body.error,
      message: `A ${kind} error`.replace(/^/, kind === 'password_policy' ? 'PasswordStrengthError: ' : ''),
      errorCode: `some_${kind}_code`,
    });
    const oauth = oauthError(error);
    assert.deepEqual([oauth.status, oauth.error], [OAUTH_ERRORS[kind].status, OAUTH_ERRORS[kind].error]);
    const db = dbconnectionsError(error);
    assert.deepEqual(db.body, {
      name: DBCONNECTIONS_ERRORS[kind].name,
      code: DBCONNECTIONS_ERRORS[kind].code,
      description: `A ${kind} error`,
      statusCode: db.status,
    });
    const registration = registrationError(error);
    assert.deepEqual([registration.status, registration.body.error], [REGISTRATION_ERRORS[kind].status, REGISTRATION_ERRORS[kind].error]);
    const page = pageError(error);
    assert.deepEqual([page.status, page.message, page.code], [HOSTED_STATUS[kind], `A ${kind} error`, `some_${kind}_code`]);
    for (const status of [management.status, oauth.status, db.status, registration.status, page.status]) {
      assert.ok(status >= 400 && status < 500, `${kind}: ${status}`);
    }
  }
});

test('unknown errors are a 500 without detail on every surface', () => {
  const secret = new Error('SQLITE_ERROR: no such table: users at /srv/x.js:1');
  const bodies = [
    managementError(secret).body,
    oauthError(secret).toJSON(),
    dbconnectionsError(secret).body,
    registrationError(secret).body,
    pageError(secret),
  ];
  for (const body of bodies) assert.doesNotMatch(JSON.stringify(body), /SQLITE|no such table|\/srv/);
  assert.equal(managementError(secret).status, 500);
  assert.equal(oauthError(secret).status, 500);
  assert.equal(dbconnectionsError(secret).status, 500);
  assert.equal(registrationError(secret).status, 500);
  assert.equal(pageError(secret).status, 500);
});

test('the docs table lists every kind with what each surface answers', () => {
  const docs = readFileSync(join(root, 'docs/auth0-compatibility.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of docs.split('\n')) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.length === 6) rows.set(cells[0]!, cells.slice(1));
  }
  for (const kind of ERROR_KINDS) {
    const row = rows.get(kind);
    assert.ok(row, `docs: no row for ${kind}`);
    assert.deepEqual(
      row,
      [
        String(MANAGEMENT_STATUS[kind]),
        `${OAUTH_ERRORS[kind].status} ${OAUTH_ERRORS[kind].error}`,
        String(HOSTED_STATUS[kind]),
        `${DBCONNECTIONS_ERRORS[kind].status} ${DBCONNECTIONS_ERRORS[kind].code}`,
        `${REGISTRATION_ERRORS[kind].status} ${REGISTRATION_ERRORS[kind].error}`,
      ],
      kind,
    );
  }
  const documented = [...rows.keys()].filter((k) => k !== 'kind' && k !== '---');
  assert.deepEqual(documented.sort(), [...ERROR_KINDS].sort(), 'the docs list no other kind');
});

function sources(dir: string): Array<[string, string]> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [[path.slice(src.length + 1), readFileSync(path, 'utf8')] as [string, string]] : [];
  });
}

test('no error message is taken apart, and domain and login throw no HTTP errors', () => {
  // The sandbox reads QuickJS's own error text; that is the script's error, not latchkey's vocabulary.
  for (const [path, text] of sources(src).filter(([p]) => /^(http|domain|login|oauth)\//.test(p))) {
    const parsesMessages = /\.(message|description)\.(replace|match|startsWith)\(|\.test\([^)]*\.(message|description)\)/.test(text);
    assert.equal(parsesMessages, false, `${path} takes an error message apart`);
    if (/^(domain|login)\//.test(path)) assert.equal(/statusCode|STATUS_CODES|from 'fastify'/.test(text), false, `${path} speaks HTTP`);
  }
});

test('error classes: the domain error, the protocol errors, and process-level ones only', () => {
  const allowed = new Set([
    'domain/errors.ts:DomainError',
    'oauth/errors.ts:OAuthError',
    'oauth/registration.ts:RegistrationError',
    'connections/upstream.ts:UpstreamLoginError',
    // A script's own failure (profile scripts, Actions): the caller ends that one sign-in with it.
    'connections/sandbox/run.ts:SandboxError',
    'actions/runtime.ts:ActionFailure',
    'connections/sandbox/host-request.ts:RequestFailure',
    'config.ts:ConfigError',
    'startup-checks.ts:StartupError',
    'domain/bootstrap.ts:AdminRecoveryError',
    'storage/kysely/clients.ts:CapReached',
    // A log stream's receiver refused a batch: retried in the background, never a request's answer.
    'events/log-stream-delivery.ts:DeliveryFailed',
  ]);
  const found = sources(src).flatMap(([path, text]) => [...text.matchAll(/class (\w+) extends Error\b/g)].map((m) => `${path}:${m[1]}`));
  assert.deepEqual(
    found.filter((f) => !allowed.has(f)),
    [],
  );
});
