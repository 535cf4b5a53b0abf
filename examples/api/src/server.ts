import { createApi } from './api.js';

const issuerBaseURL = process.env.ISSUER_BASE_URL ?? (process.env.AUTH0_DOMAIN ? `https://${process.env.AUTH0_DOMAIN}/` : undefined);
const audience = process.env.AUDIENCE;
if (!issuerBaseURL || !audience) {
  console.error('Set ISSUER_BASE_URL (or AUTH0_DOMAIN) and AUDIENCE.');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3001);
createApi({ issuerBaseURL, audience }).listen(port, () => console.log(`API listening on http://localhost:${port}`));
