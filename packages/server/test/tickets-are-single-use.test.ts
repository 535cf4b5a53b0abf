import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { inspectTicket, issueTicket, ticketUrl, useTicket, voidTicketsAfterChange } from '../src/domain/tickets.js';
import { digestToken } from '../src/oauth/user-tokens.js';
import type { Storage } from '../src/storage/types.js';
import { backend } from './helpers/server.js';
import { twoNodesOnOneDatabase } from './helpers/storage.js';

/**
 * Tickets (password reset, email verification, unblock links) on the real backends: stored as digests,
 * used once however many uses race (on one storage and across two, as two nodes), bound to their
 * purpose, expiring, voided by a change, swept when expired.
 */
const N = 20;
const ISSUER = 'https://id.example.test/';
const T0 = Date.UTC(2026, 0, 1);

describe(`tickets are single-use (${backend})`, () => {
  const nodes = twoNodesOnOneDatabase();
  let storage: Storage;
  let other: Storage;
  before(() => {
    ({ storage, other } = nodes);
  });

  const issue = (purpose: 'reset' | 'verify' | 'unblock', userId = 'auth0|u1', ttlSeconds?: number) =>
    issueTicket(storage, ISSUER, { purpose, userId, email: 'u1@example.test', connection: 'db', ttlSeconds }, T0);

  test('only a digest is stored, and the URL is built from the issuer', async () => {
    const { ticket, url } = await issue('reset');
    assert.equal(url, `${ISSUER}lo/reset?ticket=${ticket}#`);
    assert.equal(ticketUrl(ISSUER, 'verify', ticket), `${ISSUER}u/email-verification?ticket=${ticket}#`);
    assert.equal(await storage.tickets.get(ticket), undefined, 'the ticket itself is no key');
    assert.equal((await storage.tickets.get(digestToken(ticket)))?.userId, 'auth0|u1');
  });

  test('of N parallel uses, on one storage and across two, exactly one wins', async () => {
    for (const pick of [() => storage, (i: number) => (i % 2 === 0 ? storage : other)]) {
      const { ticket } = await issue('reset');
      const results = await Promise.all(Array.from({ length: N }, (_, i) => useTicket(pick(i), ticket, 'reset', T0 + 1000)));
      assert.equal(results.filter((r) => r.state === 'valid').length, 1);
      assert.equal(results.filter((r) => r.state === 'used').length, N - 1);
      assert.equal((await inspectTicket(storage, ticket, 'reset', T0 + 2000)).state, 'used');
    }
  });

  test('a ticket is bound to its purpose, and expires', async () => {
    const { ticket } = await issue('verify', 'auth0|u2', 60);
    assert.equal((await useTicket(storage, ticket, 'reset', T0 + 1000)).state, 'unknown', 'a verification ticket resets nothing');
    assert.equal((await useTicket(storage, ticket, 'unblock', T0 + 1000)).state, 'unknown');
    assert.equal((await useTicket(storage, ticket, 'verify', T0 + 61_000)).state, 'expired');
    assert.equal((await inspectTicket(storage, ticket, 'verify', T0 + 1000)).state, 'valid', 'still valid before expiry');
    assert.equal((await useTicket(storage, ticket, 'verify', T0 + 1000)).state, 'valid');
    assert.equal((await useTicket(storage, 'x'.repeat(43), 'verify', T0)).state, 'unknown');
    assert.equal((await useTicket(storage, 'not a ticket', 'verify', T0)).state, 'unknown');
  });

  test('a password change voids reset tickets; an email change voids verification tickets too', async () => {
    const reset = await issue('reset', 'auth0|u3');
    const verify = await issue('verify', 'auth0|u3');
    const unblock = await issue('unblock', 'auth0|u3');
    const othersReset = await issue('reset', 'auth0|u4');
    await voidTicketsAfterChange(storage, 'auth0|u3', { password: true, email: false }, T0 + 1000);
    assert.equal((await inspectTicket(storage, reset.ticket, 'reset', T0 + 2000)).state, 'used');
    assert.equal((await inspectTicket(storage, verify.ticket, 'verify', T0 + 2000)).state, 'valid');
    await voidTicketsAfterChange(storage, 'auth0|u3', { password: false, email: true }, T0 + 3000);
    assert.equal((await inspectTicket(storage, verify.ticket, 'verify', T0 + 4000)).state, 'used');
    assert.equal((await inspectTicket(storage, unblock.ticket, 'unblock', T0 + 4000)).state, 'valid');
    assert.equal((await inspectTicket(storage, othersReset.ticket, 'reset', T0 + 4000)).state, 'valid', 'another user is untouched');
  });

  test('the sweep deletes expired tickets and keeps live ones', async () => {
    const short = await issue('unblock', 'auth0|u5', 10);
    const long = await issue('unblock', 'auth0|u5', 3600);
    await storage.sweepExpired(new Date(T0 + 60_000).toISOString());
    assert.equal(await storage.tickets.get(digestToken(short.ticket)), undefined);
    assert.ok(await storage.tickets.get(digestToken(long.ticket)));
  });

  test('lockIfOpen: of N parallel locks of one key exactly one locks it (one blocked-account mail per lock)', async () => {
    const key = 'user:auth0|locked';
    const now = new Date(T0).toISOString();
    await storage.throttles.recordFailure(key, now, new Date(T0 - 60_000).toISOString());
    const until = new Date(T0 + 900_000).toISOString();
    const results = await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 ? storage : other).throttles.lockIfOpen(key, until, now)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await storage.throttles.get(key))?.lockedUntil, until);
    // Once the lock has run out, the next lock is a new one.
    const later = new Date(T0 + 1_000_000).toISOString();
    assert.equal(await storage.throttles.lockIfOpen(key, new Date(T0 + 2_000_000).toISOString(), later), true);
  });
});
