import { randomBytes, randomInt } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function alphanumeric(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return out;
}

/** Identifier formats follow Auth0's, so code that sniffs them (e.g. `con_`, `auth0|`) keeps working. */
export const newClientId = () => alphanumeric(32);
export const newResourceServerId = () => randomBytes(12).toString('hex');
export const newClientGrantId = () => `cgr_${alphanumeric(16)}`;
export const newConnectionId = () => `con_${alphanumeric(16)}`;
export const newDatabaseUserId = () => `auth0|${randomBytes(12).toString('hex')}`;
export const newRoleId = () => `rol_${alphanumeric(16)}`;
