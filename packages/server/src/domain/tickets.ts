import { randomBytes } from 'node:crypto';
import { digestToken } from '../oauth/user-tokens.js';
import type { Repositories, Storage } from '../storage/types.js';
import type { TicketPurpose, TicketRecord } from './ticket-types.js';

/**
 * Where each kind of ticket is followed, relative to the issuer, as Auth0 names them: the classic
 * reset page `/lo/reset`, New Universal Login's `/u/email-verification`, and `/u/unblock` for the
 * link in the blocked-account mail. Links are always built from the issuer, never from a request's
 * Host header: a forged Host would otherwise send the ticket to someone else's server.
 */
export const TICKET_PATHS: Record<TicketPurpose, string> = {
  reset: 'lo/reset',
  verify: 'u/email-verification',
  unblock: 'u/unblock',
};

/** Auth0's defaults: reset and verification links live 5 days (urlLifetimeInSeconds 432000); an unblock link, a day. */
export const TICKET_TTL_SECONDS: Record<TicketPurpose, number> = { reset: 432_000, verify: 432_000, unblock: 86_400 };

/** Auth0's `ttl_sec` upper bound for tickets (30 days). */
export const MAX_TICKET_TTL_SECONDS = 30 * 86_400;

/** The ticket's URL. Auth0 ends ticket URLs with `#` (an empty fragment), which latchkey keeps. */
export function ticketUrl(issuer: string, purpose: TicketPurpose, ticket: string): string {
  return `${issuer}${TICKET_PATHS[purpose]}?ticket=${ticket}#`;
}

export interface TicketInput {
  purpose: TicketPurpose;
  userId: string;
  email?: string | undefined;
  connection?: string | undefined;
  clientId?: string | undefined;
  resultUrl?: string | undefined;
  markEmailAsVerified?: boolean | undefined;
  includeEmailInRedirect?: boolean | undefined;
  /** Defaults to TICKET_TTL_SECONDS for the purpose. */
  ttlSeconds?: number | undefined;
}

/** A new ticket, not yet stored: 256 random bits, its URL, and the record kept under its digest. */
export function prepareTicket(issuer: string, input: TicketInput, now: number): { ticket: string; url: string; record: TicketRecord } {
  const ticket = randomBytes(32).toString('base64url');
  const ttl = input.ttlSeconds && input.ttlSeconds > 0 ? input.ttlSeconds : TICKET_TTL_SECONDS[input.purpose];
  const record: TicketRecord = {
    purpose: input.purpose,
    userId: input.userId,
    email: input.email ?? null,
    connection: input.connection ?? null,
    clientId: input.clientId ?? null,
    resultUrl: input.resultUrl ?? null,
    markEmailAsVerified: input.markEmailAsVerified === true,
    includeEmailInRedirect: input.includeEmailInRedirect === true,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + Math.min(ttl, MAX_TICKET_TTL_SECONDS) * 1000).toISOString(),
    usedAt: null,
  };
  return { ticket, url: ticketUrl(issuer, input.purpose, ticket), record };
}

/** Stores a prepared ticket (inside the caller's transaction when given one): only its digest is kept. */
export async function storeTicket(storage: Pick<Storage, 'tickets'>, prepared: { ticket: string; record: TicketRecord }): Promise<void> {
  await storage.tickets.insert(digestToken(prepared.ticket), prepared.record);
}

/** Issues a ticket: prepareTicket, then storeTicket. */
export async function issueTicket(
  storage: Pick<Storage, 'tickets'>,
  issuer: string,
  input: TicketInput,
  now: number,
): Promise<{ ticket: string; url: string; record: TicketRecord }> {
  const prepared = prepareTicket(issuer, input, now);
  await storeTicket(storage, prepared);
  return prepared;
}

export type TicketState =
  | { state: 'valid'; record: TicketRecord }
  | { state: 'used' | 'expired'; record: TicketRecord }
  /** No such ticket for this purpose (never issued, mistyped, swept, or another purpose's ticket). */
  | { state: 'unknown' };

/** Tickets are 43 characters of base64url; anything else is not one and costs no lookup. */
const TICKET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** What a presented ticket is, without using it (for showing the right page). */
export async function inspectTicket(
  storage: Pick<Storage, 'tickets'>,
  ticket: string | undefined,
  purpose: TicketPurpose,
  now: number,
): Promise<TicketState> {
  if (!ticket || !TICKET_SHAPE.test(ticket)) return { state: 'unknown' };
  const record = await storage.tickets.get(digestToken(ticket));
  if (!record || record.purpose !== purpose) return { state: 'unknown' };
  if (record.usedAt !== null) return { state: 'used', record };
  if (Date.parse(record.expiresAt) <= now) return { state: 'expired', record };
  return { state: 'valid', record };
}

/**
 * Uses the ticket: a compare-and-set, so of any number of parallel uses exactly one gets the
 * record; the others (and every later one) get what the ticket has become instead.
 */
export async function useTicket(
  storage: Pick<Storage, 'tickets'>,
  ticket: string | undefined,
  purpose: TicketPurpose,
  now: number,
): Promise<TicketState> {
  if (!ticket || !TICKET_SHAPE.test(ticket)) return { state: 'unknown' };
  const record = await storage.tickets.use(digestToken(ticket), purpose, new Date(now).toISOString());
  if (record) return { state: 'valid', record };
  const seen = await inspectTicket(storage, ticket, purpose, now);
  // Valid a moment ago but not ours: another use won the race.
  return seen.state === 'valid' ? { state: 'used', record: seen.record } : seen;
}

/** Tickets a user's change makes void: a new password voids reset links, a new email voids reset and verification links. */
export async function voidTicketsAfterChange(
  tx: Pick<Repositories, 'tickets'>,
  userId: string,
  change: { password: boolean; email: boolean },
  now: number,
): Promise<void> {
  const purposes: TicketPurpose[] = [];
  if (change.password || change.email) purposes.push('reset');
  if (change.email) purposes.push('verify');
  await tx.tickets.invalidate(userId, purposes, new Date(now).toISOString());
}
