import { type DesktopAuthError, OAuthRequestFailed } from '@latchkey/desktop';
import { CLI_NAME, type CliConfig } from './config.js';

/**
 * The SDK's errors in this CLI's own terms: its flags and environment variables, not the SDK's
 * function names. Codes the CLI has nothing to add to are printed as the SDK words them.
 */
export function explain(error: DesktopAuthError, config: CliConfig | undefined): string {
  switch (error.code) {
    case 'keychain_unavailable':
      return [
        `The OS keychain cannot be used here: ${firstSentence(error.message)}`,
        `Keep the session in an encrypted file instead: set LATCHKEY_CLI_STORE_PASSPHRASE and run \`${CLI_NAME} login --store file\``,
        '(or LATCHKEY_CLI_STORE=file). Nothing was sent to the browser; no token was issued.',
      ].join('\n');
    case 'storage_failed':
      return `${error.message}\nCheck --store-path (LATCHKEY_CLI_STORE_PATH) and LATCHKEY_CLI_STORE_PASSPHRASE.`;
    case 'discovery_failed':
      return (
        `Cannot use the issuer ${config?.issuer ?? config?.domain ?? ''}: ${error.message}\n` +
        'Check --issuer / --domain (LATCHKEY_CLI_ISSUER / LATCHKEY_CLI_DOMAIN) and that the server is up.'
      );
    case 'redirect_unavailable':
      return `${error.message}\nOr sign in without a local listener: \`${CLI_NAME} login --device\`.`;
    case 'login_cancelled':
      return 'Sign-in cancelled.';
    case 'oauth_error':
      if (error instanceof OAuthRequestFailed && error.error === 'unauthorized_client' && config?.device) {
        return [
          'This application does not allow the device flow.',
          'Enable the Device Code grant (urn:ietf:params:oauth:grant-type:device_code) for it: in the',
          "application's settings, or with the Management API (add it to the application's grant_types).",
          `Or sign in through the browser: \`${CLI_NAME} login\` without --device.`,
        ].join('\n');
      }
      return `${error.code}: ${error.message}`;
    default:
      return `${error.code}: ${error.message}`;
  }
}

function firstSentence(message: string): string {
  const end = message.indexOf('. ');
  return end === -1 ? message : message.slice(0, end + 1);
}
