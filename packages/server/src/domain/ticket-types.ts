/** What a one-time link sent by email does when followed (domain/tickets.ts). */
export type TicketPurpose = 'reset' | 'verify' | 'unblock';

/** A ticket as stored: everything but the ticket itself, of which only a digest is kept. */
export interface TicketRecord {
  purpose: TicketPurpose;
  userId: string;
  /** The address the link was sent to (verify: the address it verifies; a changed email leaves it unverified). */
  email: string | null;
  connection: string | null;
  clientId: string | null;
  /** Where the page sends the user afterwards. */
  resultUrl: string | null;
  markEmailAsVerified: boolean;
  includeEmailInRedirect: boolean;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}
