export interface ElectronExampleConfig {
  issuer?: string;
  domain?: string;
  clientId: string;
  audience: string;
  apiUrl: string;
  /** `loopback` (default) or `custom-scheme` (REDIRECT_URI below, registered with the OS). */
  redirect: 'loopback' | 'custom-scheme';
  customSchemeRedirectUri: string;
  /** `keychain` (default) or `safe-storage` (file encrypted with Electron's safeStorage). */
  store: 'keychain' | 'safe-storage';
}

export function readConfig(env: NodeJS.ProcessEnv): ElectronExampleConfig {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`Set ${name} (see README).`);
    return value;
  };
  if (!env.LATCHKEY_ISSUER && !env.AUTH0_DOMAIN) throw new Error('Set LATCHKEY_ISSUER or AUTH0_DOMAIN (see README).');
  return {
    ...(env.LATCHKEY_ISSUER ? { issuer: env.LATCHKEY_ISSUER } : { domain: env.AUTH0_DOMAIN! }),
    clientId: need('CLIENT_ID'),
    audience: need('AUDIENCE'),
    apiUrl: env.API_URL ?? 'http://localhost:3001',
    redirect: env.REDIRECT === 'custom-scheme' ? 'custom-scheme' : 'loopback',
    customSchemeRedirectUri: env.REDIRECT_URI ?? 'com.example.latchkey-electron:/callback',
    store: env.TOKEN_STORE === 'safe-storage' ? 'safe-storage' : 'keychain',
  };
}
