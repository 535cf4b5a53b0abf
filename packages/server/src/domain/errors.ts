import { STATUS_CODES } from 'node:http';

/**
 * An error of the Management API, sent as Auth0 does:
 * `{statusCode, error: <reason phrase>, message, errorCode}`.
 */
export class ManagementApiError extends Error {
  override name = 'ManagementApiError';

  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }

  toJSON(): { statusCode: number; error: string; message: string; errorCode: string } {
    return {
      statusCode: this.statusCode,
      error: STATUS_CODES[this.statusCode] ?? 'Error',
      message: this.message,
      errorCode: this.errorCode,
    };
  }
}

export const badRequest = (message: string, errorCode = 'invalid_body') => new ManagementApiError(400, errorCode, message);
export const notFound = (message: string, errorCode: string) => new ManagementApiError(404, errorCode, message);
export const conflict = (message: string, errorCode = 'conflict') => new ManagementApiError(409, errorCode, message);
export const forbidden = (message: string, errorCode = 'operation_not_supported') =>
  new ManagementApiError(403, errorCode, message);
