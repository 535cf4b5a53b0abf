import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../src/domain/errors.js';
import { parseLogQuery } from '../src/events/log-query.js';

/** The log search syntax latchkey answers exactly (Auth0's Lucene subset), and what it refuses. */
test('field:value, quoted values, OR lists and AND parse into exact filters', () => {
  assert.deepEqual(parseLogQuery(undefined), { equals: {} });
  assert.deepEqual(parseLogQuery('  '), { equals: {} });
  assert.deepEqual(parseLogQuery('type:fp'), { equals: { type: ['fp'] } });
  assert.deepEqual(parseLogQuery('type:(s OR ssa) AND user_id:"auth0|abc def" client_id:xyz'), {
    equals: { type: ['s', 'ssa'], user_id: ['auth0|abc def'], client_id: ['xyz'] },
  });
  assert.deepEqual(parseLogQuery('user_name:"a \\"quoted\\" name"'), { equals: { user_name: ['a "quoted" name'] } });
  assert.deepEqual(parseLogQuery('user_id:oauth2|github|42'), { equals: { user_id: ['oauth2|github|42'] } });
});

test('date ranges: inclusive [ ], exclusive { }, open *, dates alone at midnight UTC', () => {
  assert.deepEqual(parseLogQuery('date:[2026-01-01 TO 2026-01-31]').date, {
    after: '2026-01-01T00:00:00.000Z',
    afterInclusive: true,
    before: '2026-01-31T00:00:00.000Z',
    beforeInclusive: true,
  });
  assert.deepEqual(parseLogQuery('date:{2026-01-01T10:00:00+02:00 TO *}').date, {
    after: '2026-01-01T08:00:00.000Z',
    afterInclusive: false,
  });
  assert.deepEqual(parseLogQuery('date:[* TO 2026-02-01T00:00:00.5Z}').date, {
    before: '2026-02-01T00:00:00.500Z',
    beforeInclusive: false,
  });
  assert.deepEqual(parseLogQuery('type:s date:[2026-01-01 TO *]').equals, { type: ['s'] });
});

test('anything else is invalid_query_string, never a partial answer', () => {
  const bad = [
    'fp',
    'type:',
    'type:fp OR type:s',
    'NOT type:fp',
    'type:f*',
    'type:fp~',
    'description:x',
    'date:2026-01-01',
    'date:[yesterday TO *]',
    'date:[2026-13-45 TO *]',
    'type:(s OR',
    'type:(s AND f)',
    'type:s type:f',
    'type:s AND',
    `type:(${Array.from({ length: 60 }, (_, i) => `t${i}`).join(' OR ')})`,
    'x'.repeat(1025),
    'user_id:"\u0000"',
  ];
  for (const q of bad) {
    assert.throws(
      () => parseLogQuery(q),
      (err: unknown) => err instanceof DomainError && err.kind === 'invalid' && err.code === 'invalid_query_string',
      q,
    );
  }
});
