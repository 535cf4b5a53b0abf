import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MasterKey } from './encryption.js';

/**
 * Export files are fetched without a bearer token, as Auth0's `location` (a pre-signed S3 URL) is:
 * the link carries its expiry and an HMAC over the path and expiry, with a key of its own derived
 * from the master key, so only this server can mint one and a link stops working when it expires.
 */
export class DownloadLinks {
  private readonly key: Buffer;

  constructor(master: MasterKey) {
    this.key = master.subkey('export download links');
  }

  private mac(path: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${path}\n${expires}`).digest();
  }

  /** `path?expires=…&signature=…`, good until `expiresAt` (ms since the epoch). */
  sign(path: string, expiresAt: number): string {
    const expires = Math.floor(expiresAt / 1000);
    return `${path}?expires=${expires}&signature=${this.mac(path, expires).toString('base64url')}`;
  }

  /** Whether the signature is this server's for `path` and `expires`, and the link has not expired at `now`. */
  verify(path: string, expires: string, signature: string, now: number): boolean {
    if (!/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < now) return false;
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(path, Number(expires));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
