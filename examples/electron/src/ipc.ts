/** The channels between the main process and the preload script, and what travels on them. */
export const CHANNELS = {
  login: 'auth:login',
  logout: 'auth:logout',
  profile: 'auth:profile',
  privateMessage: 'api:private-message',
  status: 'auth:status',
} as const;

/** What the renderer may know about the user: the id_token's display claims, never a token. */
export interface ProfileView {
  name: string;
  picture?: string;
  email?: string;
}

export type StatusView = 'signed-out' | 'signing-in' | 'signed-in';

/** The API the preload script exposes as `window.auth` (contextBridge). */
export interface RendererAuthApi {
  login(): Promise<ProfileView>;
  logout(): Promise<void>;
  getProfile(): Promise<ProfileView | null>;
  getPrivateMessage(): Promise<string>;
  onStatus(listener: (status: StatusView) => void): () => void;
}
