import type { DesktopAuth, UserProfile } from '@latchkey/desktop';
import type { ProfileView, StatusView } from './ipc.js';

export interface AuthServiceOptions {
  auth: DesktopAuth;
  /** Where the example API runs (GET /private). */
  apiUrl: string;
  /** shell.openExternal in Electron: the logout URL ends the browser's session too. */
  openExternal: (url: string) => Promise<void>;
  /** Where /v2/logout returns the browser (must be an Allowed Logout URL). */
  logoutReturnTo?: string;
  fetch?: typeof fetch;
}

/**
 * Everything the main process does for the window, without Electron imports, so it runs (and is
 * tested) in plain Node. Tokens stay in the main process; the renderer only ever sees the profile.
 */
export function createAuthService(options: AuthServiceOptions) {
  const { auth } = options;
  const fetchImpl = options.fetch ?? fetch;
  return {
    /** Silent sign-in at start-up from the refresh token in the keychain. */
    async start(): Promise<ProfileView | null> {
      const user = await auth.restore().catch(() => undefined);
      return user ? profileView(user) : null;
    },
    async login(): Promise<ProfileView> {
      return profileView(await auth.login());
    },
    profile(): ProfileView | null {
      const user = auth.getProfile();
      return user ? profileView(user) : null;
    },
    /** The tutorial's "Get Private Message": GET /private with the access token. */
    async privateMessage(): Promise<string> {
      const response = await fetchImpl(new URL('/private', options.apiUrl), { headers: { authorization: `Bearer ${await auth.getAccessToken()}` } });
      const body = (await response.json()) as { message?: string; error?: string };
      if (!response.ok) throw new Error(`The API answered ${response.status}: ${body.error ?? ''}`);
      return body.message ?? '';
    },
    async logout(): Promise<void> {
      const { logoutUrl } = await auth.logout(options.logoutReturnTo ? { returnTo: options.logoutReturnTo } : {});
      await options.openExternal(logoutUrl);
    },
    onStatus(listener: (status: StatusView) => void): () => void {
      return auth.on('status', listener);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

function profileView(user: UserProfile): ProfileView {
  return {
    name: String(user.name ?? user.nickname ?? user.email ?? user.sub),
    ...(typeof user.picture === 'string' ? { picture: user.picture } : {}),
    ...(typeof user.email === 'string' ? { email: user.email } : {}),
  };
}
