import type { TenantSettings } from '../domain/types.js';
import type { Storage } from '../storage/types.js';
import { AUTH0_DEFAULTS_FLAG } from './auth0-defaults.js';
import { assertUrls } from './urls.js';

export function defaultTenantSettings(friendlyName: string): TenantSettings {
  return {
    friendly_name: friendlyName,
    allowed_logout_urls: [],
    default_audience: '',
    default_directory: '',
    session_lifetime: 168,
    idle_session_lifetime: 72,
    // Listed, so an admin reading the settings sees the switch to Auth0's defaults exists.
    flags: { enable_dynamic_client_registration: false, [AUTH0_DEFAULTS_FLAG]: false },
  };
}

export type TenantSettingsInput = Partial<Omit<TenantSettings, 'flags'>> & { flags?: Record<string, boolean> };

/** Top-level fields replace; `flags` merges, so toggling one flag leaves the others alone. */
export async function updateTenantSettings(storage: Pick<Storage, 'tenant'>, patch: TenantSettingsInput): Promise<TenantSettings> {
  const existing = (await storage.tenant.get()) ?? defaultTenantSettings('latchkey');
  assertUrls('allowed_logout_urls', patch.allowed_logout_urls);
  const settings: TenantSettings = { ...existing, ...patch, flags: { ...existing.flags, ...patch.flags } };
  await storage.tenant.put(settings);
  return settings;
}
