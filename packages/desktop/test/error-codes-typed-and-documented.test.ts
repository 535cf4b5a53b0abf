import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as sdk from '../src/index.js';
import { DESKTOP_AUTH_ERROR_CODES, DesktopAuthError, type DesktopAuthErrorCode } from '../src/index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const errorTable = README.slice(README.indexOf('## Errors'), README.indexOf('## Size'));

test('every error code is in the README table, and the table names no other code', () => {
  const documented = [...errorTable.matchAll(/^\| `\w+`\s*\| `([a-z_]+)`/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), [...DESKTOP_AUTH_ERROR_CODES].sort());
});

test('every exported error class carries a code from the list, and `code` is the union type', () => {
  const classes = Object.values(sdk).filter(
    (value): value is typeof DesktopAuthError => typeof value === 'function' && value.prototype instanceof DesktopAuthError,
  );
  assert.ok(classes.length >= 14);
  for (const ErrorClass of classes) assert.match(errorTable, new RegExp(`\\| \`${ErrorClass.name}\``), `${ErrorClass.name} is documented`);
  const code: DesktopAuthErrorCode = new sdk.LoginRequired().code;
  // @ts-expect-error: a code outside the union does not type-check
  const bogus: DesktopAuthErrorCode = 'no_such_code';
  assert.ok(DESKTOP_AUTH_ERROR_CODES.includes(code) && !DESKTOP_AUTH_ERROR_CODES.includes(bogus));
});
