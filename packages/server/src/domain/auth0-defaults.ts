import type { TenantSettings } from '../domain/types.js';

/**
 * The one tenant setting that trades latchkey's strict defaults for Auth0's, so apps written from
 * Auth0's tutorials run unchanged: PKCE optional for first-party public apps, non-rotating refresh
 * tokens for apps created while it is on, and implicit for apps that register themselves. Off in a
 * fresh tenant; `PATCH /api/v2/tenants/settings {"flags": {"auth0_compatible_defaults": true}}` (or
 * LATCHKEY_AUTH0_COMPATIBLE_DEFAULTS at start) turns it on.
 */
export const AUTH0_DEFAULTS_FLAG = 'auth0_compatible_defaults';

/** Ends every refusal that only a strict default causes, so the way out is named where it is hit. */
export const RELAXED_BY_AUTH0_DEFAULTS = `tenant setting flags.${AUTH0_DEFAULTS_FLAG} relaxes this`;

export function auth0DefaultsOn(settings: Pick<TenantSettings, 'flags'>): boolean {
  return settings.flags[AUTH0_DEFAULTS_FLAG] === true;
}
