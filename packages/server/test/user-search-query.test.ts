import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../src/domain/errors.js';
import type { User } from '../src/domain/types.js';
import { parseUserQuery, userComparator } from '../src/domain/user-search.js';

/** The subset of Auth0's Lucene user search (`q`, engine v3) that latchkey answers, and what it refuses. */
const user = (id: string, extra: Partial<User> = {}): User => ({
  user_id: id,
  email_verified: false,
  identities: [{ connection: 'Username-Password-Authentication', user_id: id.split('|')[1]!, provider: 'auth0', isSocial: false }],
  app_metadata: {},
  user_metadata: {},
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  logins_count: 0,
  blocked: false,
  ...extra,
});

const ada = user('auth0|a', {
  email: 'Ada@Example.com',
  name: 'Ada Lovelace',
  app_metadata: { plan: 'pro', roles: ['admin', 'dev'] },
  logins_count: 5,
});
const bob = user('auth0|b', { email: 'bob@example.com', name: 'Bob', email_verified: true, logins_count: 2, blocked: true });
const carol = user('oauth2|acme|c', {
  email: 'carol@acme.test',
  identities: [{ connection: 'acme', user_id: 'c', provider: 'oauth2', isSocial: true }],
  created_at: '2025-06-01T00:00:00.000Z',
});
const everyone = [ada, bob, carol];
const ids = (q: string) => everyone.filter(parseUserQuery(q)).map((u) => u.user_id);

test('field:value, quoted values and trailing wildcards; emails and names case-insensitively', () => {
  assert.deepEqual(ids('email:"ada@example.com"'), ['auth0|a']);
  assert.deepEqual(ids('email:bob@example.com'), ['auth0|b']);
  assert.deepEqual(ids('name:"Ada Lovelace"'), ['auth0|a']);
  assert.deepEqual(ids('name:"ada lovelace"'), ['auth0|a'], 'names compare case-insensitively, as in Auth0');
  assert.deepEqual(ids('app_metadata.plan:PRO'), [], 'metadata compares exactly');
  assert.deepEqual(ids('email:car*'), ['oauth2|acme|c']);
  assert.deepEqual(ids('identities.connection:"acme"'), ['oauth2|acme|c']);
  assert.deepEqual(ids('email_verified:true'), ['auth0|b']);
  assert.deepEqual(ids('app_metadata.plan:pro'), ['auth0|a']);
  assert.deepEqual(ids('app_metadata.roles:admin'), ['auth0|a'], 'an array matches on any element');
  assert.deepEqual(ids('user_id:"oauth2|acme|c"'), ['oauth2|acme|c']);
});

test('AND, OR and NOT', () => {
  assert.deepEqual(ids('identities.connection:"Username-Password-Authentication" AND blocked:true'), ['auth0|b']);
  assert.deepEqual(ids('email:ada* OR email:bob*'), ['auth0|a', 'auth0|b']);
  assert.deepEqual(ids('NOT blocked:true'), ['auth0|a', 'oauth2|acme|c']);
  assert.deepEqual(ids('NOT blocked:true AND email:ada*'), ['auth0|a']);
});

test('what it cannot answer is a 400 invalid_query_string, never a partial answer', () => {
  for (const q of [
    '',
    'ada',
    'email:a*',
    'password:x',
    'email:"x" AND name:y OR name:z',
    '(email:x)',
    'email:x name:y',
    'email:"unterminated',
    'name:Zoe~',
    'name:[a TO z]',
    'name:Zo?',
  ]) {
    assert.throws(
      () => parseUserQuery(q),
      (err: unknown) => err instanceof DomainError && err.kind === 'invalid' && err.code === 'invalid_query_string',
      q,
    );
  }
});

test('sort by a field ascending or descending, users without it last', () => {
  const sorted = (sort: string) => [...everyone].sort(userComparator(sort)).map((u) => u.user_id);
  assert.deepEqual(sorted('logins_count:-1'), ['auth0|a', 'auth0|b', 'oauth2|acme|c']);
  assert.deepEqual(sorted('created_at:1'), ['oauth2|acme|c', 'auth0|a', 'auth0|b']);
  assert.deepEqual(sorted('name:1'), ['auth0|a', 'auth0|b', 'oauth2|acme|c'], 'carol has no name');
  assert.throws(() => userComparator('password:1'), DomainError);
  assert.throws(() => userComparator('created_at'), DomainError);
});
