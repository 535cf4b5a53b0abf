/**
 * The example's own IPC, next to the SDK's bridge (`window.latchkey`): one channel for the
 * tutorial's "Get Private Message", answered in main with the access token, which stays there.
 */
export const PRIVATE_MESSAGE_CHANNEL = 'example:private-message';

/** `window.exampleApi` in the renderer. */
export interface ExampleApi {
  getPrivateMessage(): Promise<string>;
}
