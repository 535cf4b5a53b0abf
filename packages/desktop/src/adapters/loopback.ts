import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedirectUnavailable } from '../errors.js';
import type { UserProfile } from '../id-token.js';
import type { DeliverCallback, LoginOutcome, RedirectStrategy } from '../redirect.js';

export interface LoopbackOptions {
  /** `127.0.0.1` (default; RFC 8252 §8.3 prefers it to `localhost`) or `::1`. */
  host?: '127.0.0.1' | '::1';
  /** Default `/callback`. Register `http://127.0.0.1/callback` (no port): any port then matches (RFC 8252 §7.3). */
  path?: string;
  /** Default 0: an ephemeral port chosen by the OS, so two apps (or two logins) never collide. */
  port?: number;
  /** The page the browser shows once signed in. */
  successPage?: (user: UserProfile) => string;
  /** The page shown when the sign-in failed (error message escaped for you). */
  failurePage?: (error: Error) => string;
}

const SECURITY_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The page shows a message and nothing else: no scripts, no requests, no framing.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  connection: 'close',
};

/**
 * Receives the authorization response on a loopback listener that exists only while one login
 * waits: opened by login(), closed as soon as it settles (success, error, cancel or timeout).
 */
export function loopbackRedirect(options: LoopbackOptions = {}): RedirectStrategy {
  const host = options.host ?? '127.0.0.1';
  // From plain JS (or `as any`) a host such as 0.0.0.0 would open the listener to the network,
  // where anyone can send a matching Host header: loopback literals only (RFC 8252 §8.3).
  if (host !== '127.0.0.1' && host !== '::1')
    throw new TypeError(`loopbackRedirect() listens on 127.0.0.1 or ::1 only, not ${String(host)}.`);
  const path = options.path ?? '/callback';
  const successPage = options.successPage ?? defaultSuccessPage;
  const failurePage = options.failurePage ?? defaultFailurePage;

  return {
    async open(deliver: DeliverCallback) {
      const responses = new Set<Promise<void>>();
      let redirectUri = '';
      let authority = '';
      const server = createServer((request, response) => {
        const done = respond(request, response).catch(() => void response.destroy());
        responses.add(done);
        void done.finally(() => responses.delete(done));
      });

      async function respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
        // A Host other than our IP literal is a DNS-rebinding page talking to the listener.
        if (request.headers.host !== authority) return void response.writeHead(400, SECURITY_HEADERS).end();
        const url = new URL(request.url ?? '/', `http://${authority}`);
        if (request.method !== 'GET' || url.pathname !== path) return void response.writeHead(404, SECURITY_HEADERS).end();
        const outcome: LoginOutcome = await deliver(`${redirectUri}${url.search}`);
        response
          .writeHead(outcome.ok ? 200 : 400, SECURITY_HEADERS)
          .end(outcome.ok ? successPage(outcome.user) : failurePage(outcome.error));
      }

      await new Promise<void>((resolve, reject) => {
        server.once('error', (cause: NodeJS.ErrnoException) => {
          const where = `${host === '::1' ? '[::1]' : host}:${options.port ?? 0}`;
          const why =
            cause.code === 'EADDRINUSE'
              ? 'the port is in use by another program'
              : cause.code === 'EADDRNOTAVAIL'
                ? `${host} is not configured on this machine`
                : cause.message;
          reject(new RedirectUnavailable(`Cannot receive the sign-in response on ${where}: ${why}.`, { cause }));
        });
        server.listen(options.port ?? 0, host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      authority = `${host === '::1' ? '[::1]' : host}:${port}`;
      redirectUri = `http://${authority}${path}`;
      const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));

      return {
        redirectUri,
        async close() {
          server.close();
          // Let the result page reach the browser, then drop keep-alive sockets so the port is free.
          await Promise.allSettled([...responses]);
          server.closeAllConnections();
          await closed;
        },
      };
    },
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:16px system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#222}
main{max-width:28rem;text-align:center}</style>
</head><body><main>${body}</main></body></html>`;
}

function defaultSuccessPage(): string {
  return page('Signed in', '<h1>You are signed in</h1><p>You may close this tab and return to the app.</p>');
}

function defaultFailurePage(error: Error): string {
  return page('Sign-in failed', `<h1>Sign-in failed</h1><p>${escapeHtml(error.message)}</p><p>Return to the app to try again.</p>`);
}
