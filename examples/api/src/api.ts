import express, { type ErrorRequestHandler, type Express } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';

export interface ApiOptions {
  /** The issuer: `https://YOUR_DOMAIN/` for Auth0, the latchkey issuer otherwise. */
  issuerBaseURL: string;
  /** The API identifier registered at the server (the access token's `aud`). */
  audience: string;
}

/**
 * The API from Auth0's Electron tutorial: GET /private needs a valid access token for this API,
 * checked by express-oauth2-jwt-bearer (signature via JWKS, iss, aud, exp); anything else is a 401.
 */
export function createApi(options: ApiOptions): Express {
  const app = express();
  const checkJwt = auth({ issuerBaseURL: options.issuerBaseURL, audience: options.audience });

  app.get('/private', checkJwt, (req, res) => {
    res.json({ message: 'Your access token was successfully validated!', sub: req.auth?.payload.sub });
  });

  // The library's errors carry their status (401, 403) and a WWW-Authenticate header; keep both, no stack.
  const onError: ErrorRequestHandler = (err: Error & { status?: number; headers?: Record<string, string> }, _req, res, _next) => {
    res.set(err.headers ?? {});
    res.status(err.status ?? 500).json({ error: err.status ? err.message : 'Internal error' });
  };
  app.use(onError);
  return app;
}
