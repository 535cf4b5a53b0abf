import type { UserProfile } from './id-token.js';

/** What became of the sign-in a callback carried: a loopback page shows it to the user. */
export type LoginOutcome = { ok: true; user: UserProfile } | { ok: false; error: Error };

/** Hands a received callback URL to the login in progress; settles once the sign-in is complete. */
export type DeliverCallback = (callbackUrl: string) => Promise<LoginOutcome>;

/**
 * How the browser gets the authorization response back to the app. `open` is called once per
 * login and prepares to receive exactly one callback; `close` is called when the login settles.
 */
export interface RedirectStrategy {
  open(deliver: DeliverCallback): Promise<OpenRedirect>;
}

export interface OpenRedirect {
  redirectUri: string;
  close(): Promise<void>;
}

/**
 * A custom scheme (`com.example.app:/callback`, RFC 8252 §7.1) or a claimed https link. The OS
 * starts or focuses the app with the URL; the app passes it to `auth.handleRedirect(url)`
 * (Electron `open-url` / `second-instance`, Tauri's deep-link plugin).
 */
export function deepLinkRedirect(redirectUri: string): RedirectStrategy {
  const url = new URL(redirectUri);
  if (url.search || url.hash) throw new TypeError('The redirect URI must not carry a query or fragment: the response goes there.');
  return { open: async () => ({ redirectUri, close: async () => {} }) };
}
