import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogEventInput } from './types.js';

/** Where events go: the server's EventLog (event-log.ts), or a test's collector. */
export interface EventSink {
  emit(event: LogEventInput): void;
}

/**
 * What the request (or background task) doing the work knows that the domain should not have to pass
 * along: the sink of the server that received it, and the request facts every Auth0 log event carries
 * (ip, user agent, host). Set once per request by the app (app.ts); the domain's functions keep their
 * signatures free of HTTP, as elsewhere, and an event recorded outside any request scope goes nowhere.
 */
export interface EventScope {
  sink: EventSink;
  ip?: string;
  userAgent?: string;
  hostname?: string;
  /**
   * Set once a failure was recorded (a wrong password, a refresh token reused), so that what wraps it
   * (the token endpoint's exchange) does not record the same failure again with less to say.
   */
  failureRecorded?: boolean;
}

export const eventScope = new AsyncLocalStorage<EventScope>();

/** Records what happened, in the scope of the current request. Never throws and never waits. */
export function recordEvent(event: LogEventInput): void {
  const scope = eventScope.getStore();
  if (!scope) return;
  if (event.type.startsWith('f') || event.type.startsWith('limit_')) scope.failureRecorded = true;
  scope.sink.emit({
    ...(scope.ip !== undefined ? { ip: scope.ip } : {}),
    ...(scope.userAgent !== undefined ? { user_agent: scope.userAgent } : {}),
    ...(scope.hostname !== undefined ? { hostname: scope.hostname } : {}),
    ...event,
  });
}

/** Whether this request already recorded a failure (wrong password, unknown user, lock, token reuse). */
export const failureRecorded = (): boolean => eventScope.getStore()?.failureRecorded === true;
