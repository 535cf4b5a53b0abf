// Type-checked inside the temporary project the pack-and-install test creates: every entry point's
// `types` resolves from the installed tarball and describes the API (not `any`).
import { DesktopAuth, memoryStore, type TokenStore, type UserProfile } from '@latchkey/desktop';
import { forwardDeepLinks, safeStorageCipher } from '@latchkey/desktop/electron';
import { createNodeAuth, encryptedFileStore, loopbackRedirect, passphraseCipher } from '@latchkey/desktop/node';
import { forwardTauriDeepLinks, invokeStore } from '@latchkey/desktop/tauri';

const store: TokenStore = encryptedFileStore({ path: 'session.bin', cipher: passphraseCipher('secret') });
const auth: DesktopAuth = createNodeAuth({ issuer: 'https://id.example.com/', clientId: 'abc', store, redirect: loopbackRedirect() });
export const user: Promise<UserProfile | undefined> = auth.restore();
export const adapters = [memoryStore, forwardDeepLinks, safeStorageCipher, forwardTauriDeepLinks, invokeStore];

// @ts-expect-error clientId is required: fails to compile only if the types are real
new DesktopAuth({ issuer: 'https://id.example.com/' });
