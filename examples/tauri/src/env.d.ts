// The build-time variables main.ts reads (Vite's import.meta.env).
interface ImportMetaEnv {
  readonly VITE_LATCHKEY_ISSUER: string;
  readonly VITE_CLIENT_ID: string;
  readonly VITE_AUDIENCE: string;
  readonly VITE_API_URL: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
