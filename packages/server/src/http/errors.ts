import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lockHeaders } from '../connections/database.js';
import type { ServerContext } from '../context.js';
import { DomainError, type ErrorKind } from '../domain/errors.js';
import { OAuthError, type OAuthErrorCode } from '../oauth/errors.js';
import { RegistrationError } from '../oauth/registration.js';
import { sendPage, tenantBranding } from './login/html-response.js';
import { errorPage } from './login/views/pages.js';

/**
 * The one place where errors become answers. Logic throws a DomainError (what went wrong) or, in
 * the protocol layer, an OAuthError (an RFC 6749 code); each surface below maps both, and Fastify's
 * own failures (schema, body too large, bad JSON), to its wire shape. Unknown errors are a 500 with
 * no detail: the stack goes to the log, never to the client.
 */
export type Surface = 'management' | 'oauth' | 'dbconnections' | 'registration' | 'hosted';

/** What a JSON surface sends. */
export interface WireError {
  status: number;
  headers?: Record<string, string>;
  body: Record<string, unknown>;
}

// Per surface, the status (and wire code) of every kind. Records over ErrorKind: a new kind does
// not compile until every surface answers it; test/error-vocabulary-agrees.test.ts checks the docs.

/** Management API: Auth0's `{statusCode, error, message, errorCode}`, errorCode = the domain code. */
export const MANAGEMENT_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  unauthorized: 401,
  password_policy: 400,
  limit: 429,
};

/** OAuth endpoints (token, revoke, device code): RFC 6749 §5.2 `{error, error_description}`, Auth0's statuses. */
export const OAUTH_ERRORS: Record<ErrorKind, { error: OAuthErrorCode; status: number }> = {
  invalid: { error: 'invalid_request', status: 400 },
  not_found: { error: 'invalid_request', status: 400 },
  conflict: { error: 'invalid_request', status: 400 },
  forbidden: { error: 'access_denied', status: 403 },
  // Auth0: a wrong password at the token endpoint is 403 invalid_grant.
  unauthorized: { error: 'invalid_grant', status: 403 },
  password_policy: { error: 'invalid_request', status: 400 },
  limit: { error: 'too_many_requests', status: 429 },
};

/** `/dbconnections/*`: Auth0's Authentication API body `{name, code, description, statusCode}`. */
export const DBCONNECTIONS_ERRORS: Record<ErrorKind, { status: number; code: string; name: string }> = {
  invalid: { status: 400, code: 'invalid_signup', name: 'BadRequestError' },
  not_found: { status: 400, code: 'invalid_signup', name: 'BadRequestError' },
  // Auth0 answers a taken email with 400 user_exists, which Lock and auth0.js show as such.
  conflict: { status: 400, code: 'user_exists', name: 'BadRequestError' },
  forbidden: { status: 403, code: 'operation_not_allowed', name: 'BadRequestError' },
  unauthorized: { status: 401, code: 'unauthorized', name: 'UnauthorizedError' },
  password_policy: { status: 400, code: 'invalid_password', name: 'PasswordStrengthError' },
  limit: { status: 429, code: 'too_many_requests', name: 'TooManyRequestsError' },
};

/** RFC 7591 §3.2.2 `{error, error_description}` for /oidc/register and RFC 7592 management. */
export const REGISTRATION_ERRORS: Record<ErrorKind, { error: string; status: number }> = {
  invalid: { error: 'invalid_client_metadata', status: 400 },
  not_found: { error: 'invalid_client_metadata', status: 400 },
  conflict: { error: 'invalid_client_metadata', status: 400 },
  forbidden: { error: 'access_denied', status: 403 },
  unauthorized: { error: 'invalid_token', status: 401 },
  password_policy: { error: 'invalid_client_metadata', status: 400 },
  limit: { error: 'too_many_requests', status: 429 },
};

/** Hosted pages: the form shown again with the message, or the error page, at this status. */
export const HOSTED_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 400,
  forbidden: 403,
  // A wrong password re-shows the form: the request was understood, the input was wrong.
  unauthorized: 400,
  password_policy: 400,
  limit: 429,
};

/** Domain codes the Management API spells as Auth0 does. */
const MANAGEMENT_CODES: Record<string, string> = { user_exists: 'auth0_idp_error' };

/** Fastify's own refusals, named; anything else with a 4xx status is a malformed request. */
type FrameworkProblem =
  | { kind: 'validation'; where: string | undefined; keyword?: string; property?: string; message: string }
  | { kind: 'too_large' | 'media_type' | 'bad_json' | 'malformed'; status: number; message: string };

function frameworkProblem(error: FastifyError): FrameworkProblem | undefined {
  if (error.validation) {
    const first = error.validation[0];
    const additional = first?.params && 'additionalProperty' in first.params ? String(first.params.additionalProperty) : undefined;
    const path = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : undefined;
    return {
      kind: 'validation',
      where: error.validationContext,
      ...(first?.keyword ? { keyword: first.keyword } : {}),
      ...((additional ?? path) ? { property: additional ?? path } : {}),
      message: first?.message ?? error.message,
    };
  }
  const status = error.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  if (status === 413) return { kind: 'too_large', status, message: 'Request body too large' };
  if (status === 415) return { kind: 'media_type', status, message: 'Unsupported content type' };
  if (error.code === 'FST_ERR_CTP_INVALID_JSON' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { kind: 'bad_json', status, message: 'Invalid request payload JSON format' };
  }
  return { kind: 'malformed', status, message: 'Malformed request' };
}

/** Validation failures as one sentence that names the field. */
function validationText(problem: Extract<FrameworkProblem, { kind: 'validation' }>): string {
  const message = problem.keyword === 'additionalProperties' ? 'Additional properties not allowed' : problem.message;
  return `'${message}'${problem.property ? ` on property ${problem.property}` : ''}`;
}

export const managementBody = (status: number, errorCode: string, message: string): WireError => ({
  status,
  body: { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, errorCode },
});

/** The Management API's message for a domain error, with the prefixes Auth0's clients see. */
function managementMessage(error: DomainError): string {
  if (error.kind === 'password_policy') return `PasswordStrengthError: ${error.message}`;
  if (error.code === 'invalid_query_string') return `Query validation error: ${error.message}`;
  if (error.details.field !== undefined) return `Payload validation error: ${error.message}`;
  return error.message;
}

export function managementError(error: unknown): WireError {
  if (error instanceof DomainError) {
    return managementBody(MANAGEMENT_STATUS[error.kind], MANAGEMENT_CODES[error.code] ?? error.code, managementMessage(error));
  }
  const problem = error instanceof Error ? frameworkProblem(error as FastifyError) : undefined;
  if (!problem) return managementBody(500, 'internal_error', 'Internal error');
  if (problem.kind === 'validation') {
    if (problem.where === 'querystring') {
      const where = problem.property ? ` on property ${problem.property}` : '';
      return managementBody(400, 'invalid_query_string', `Query validation error: '${problem.message}'${where}.`);
    }
    if (problem.where === 'params') return managementBody(400, 'invalid_uri', `Path validation error: '${problem.message}'.`);
    return managementBody(400, 'invalid_body', `Payload validation error: ${validationText(problem)}.`);
  }
  const code =
    problem.kind === 'too_large' ? 'payload_too_large' : problem.kind === 'media_type' ? 'unsupported_media_type' : 'invalid_body';
  return managementBody(problem.status, code, problem.kind === 'bad_json' ? problem.message : (error as Error).message);
}

export function oauthError(error: unknown, now = Date.now()): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error instanceof DomainError) {
    const { error: code, status } = OAUTH_ERRORS[error.kind];
    const lock = error.details.lock;
    return new OAuthError(code, error.message, status, lock ? lockHeaders(lock, now) : {});
  }
  const problem = error instanceof Error ? frameworkProblem(error as FastifyError) : undefined;
  if (!problem) return new OAuthError('server_error', 'The server could not process the request', 500);
  switch (problem.kind) {
    case 'validation':
      return new OAuthError('invalid_request', `Invalid request: ${validationText(problem)}`);
    case 'too_large':
      return new OAuthError('invalid_request', 'Request body too large', 413);
    case 'media_type':
      return new OAuthError('invalid_request', 'Unsupported content type: send application/x-www-form-urlencoded or application/json', 415);
    default:
      return new OAuthError('invalid_request', 'Malformed request body', problem.status);
  }
}

export function dbconnectionsError(error: unknown, now = Date.now()): WireError {
  const body = (status: number, code: string, description: string, name = 'BadRequestError') => ({
    name,
    code,
    description,
    statusCode: status,
  });
  if (error instanceof DomainError) {
    const { status, code: kindCode, name } = DBCONNECTIONS_ERRORS[error.kind];
    // A pre-user-registration Action's denial keeps Auth0's own code for it.
    const code = error.code === 'extensibility_error' ? error.code : kindCode;
    const lock = error.details.lock;
    return { status, ...(lock ? { headers: lockHeaders(lock, now) } : {}), body: body(status, code, error.message, name) };
  }
  const problem = error instanceof Error ? frameworkProblem(error as FastifyError) : undefined;
  if (!problem) return { status: 500, body: body(500, 'server_error', 'Internal error', 'InternalServerError') };
  const status = problem.kind === 'validation' ? 400 : problem.status;
  const description = problem.kind === 'validation' ? `Invalid sign up: ${validationText(problem)}` : problem.message;
  return { status, body: body(status, 'invalid_signup', description) };
}

export function registrationError(error: unknown, now = Date.now()): WireError {
  if (error instanceof RegistrationError) return { status: 400, body: error.toJSON() };
  if (error instanceof DomainError) {
    const { error: code, status } = REGISTRATION_ERRORS[error.kind];
    const lock = error.details.lock;
    const challenge: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {};
    const headers = { ...(lock ? lockHeaders(lock, now) : {}), ...challenge };
    return { status, headers, body: { error: code, error_description: error.message } };
  }
  if (error instanceof OAuthError) return { status: error.status, headers: error.headers, body: error.toJSON() };
  const problem = error instanceof Error ? frameworkProblem(error as FastifyError) : undefined;
  if (!problem) return { status: 500, body: { error: 'server_error', error_description: 'Internal error' } };
  const description = problem.kind === 'validation' ? `Invalid client metadata: ${validationText(problem)}` : problem.message;
  const status = problem.kind === 'validation' ? 400 : problem.status;
  return { status, body: { error: 'invalid_client_metadata', error_description: description } };
}

/** What a hosted page shows for an error: re-shown in the form (`message`) or on the error page. */
export interface PageError {
  status: number;
  title: string;
  message: string;
  code: string;
}

/** Where the page words a domain error more kindly than the domain's own message. */
const PAGE_MESSAGES: Record<string, (error: DomainError) => string> = {
  too_many_attempts: (e) =>
    `Too many failed attempts. Your account is locked until ${e.details.lock?.until.toUTCString() ?? 'later'}; try again then.`,
  too_many_signups: (e) => `Too many sign-ups from your network. Try again after ${e.details.lock?.until.toUTCString() ?? 'later'}.`,
  blocked: () => 'Your account has been blocked. Contact your administrator.',
  user_exists: () => 'An account with this email address already exists.',
};

export function pageError(error: unknown): PageError {
  if (error instanceof DomainError) {
    const message = PAGE_MESSAGES[error.code]?.(error) ?? error.message;
    return { status: HOSTED_STATUS[error.kind], title: 'Something went wrong', message, code: error.code };
  }
  if (error instanceof OAuthError) {
    return { status: error.status, title: 'Something went wrong', message: error.description, code: error.error };
  }
  const problem = error instanceof Error ? frameworkProblem(error as FastifyError) : undefined;
  if (!problem) {
    return { status: 500, title: 'Something went wrong', message: 'The server could not process the request.', code: 'server_error' };
  }
  const status = problem.kind === 'validation' ? 400 : problem.status;
  const message = problem.kind === 'validation' ? `Invalid request: ${validationText(problem)}` : problem.message;
  return { status, title: 'Invalid request', message, code: 'invalid_request' };
}

/** Sends a JSON surface's answer. */
function sendWire(reply: FastifyReply, wire: WireError): FastifyReply {
  return reply
    .status(wire.status)
    .headers(wire.headers ?? {})
    .send(wire.body);
}

/**
 * Installs `surface`'s error handler on a plugin scope: the one triage of every failure there.
 * Also used by the app's root scope ('oauth': requests that reach no endpoint).
 */
export function installErrorHandler(app: FastifyInstance, surface: Surface, ctx: Pick<ServerContext, 'lookups' | 'now'>): void {
  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const now = ctx.now();
    let status: number;
    switch (surface) {
      case 'management': {
        const wire = managementError(error);
        status = wire.status;
        sendWire(reply, wire);
        break;
      }
      case 'oauth': {
        const oauth = oauthError(error, now);
        status = oauth.status;
        reply
          .status(status)
          .headers({ 'cache-control': 'no-store', ...oauth.headers })
          .send(oauth.toJSON());
        break;
      }
      case 'dbconnections': {
        const wire = dbconnectionsError(error, now);
        status = wire.status;
        sendWire(reply, wire);
        break;
      }
      case 'registration': {
        const wire = registrationError(error, now);
        status = wire.status;
        sendWire(reply.header('cache-control', 'no-store'), wire);
        break;
      }
      case 'hosted': {
        const shown = pageError(error);
        status = shown.status;
        if (error instanceof DomainError && error.details.lock) reply.headers(lockHeaders(error.details.lock, now));
        sendPage(reply, errorPage(await tenantBranding(ctx.lookups), shown.title, shown.message, shown.code), status);
        break;
      }
    }
    if (status >= 500) request.log.error({ err: error, surface }, 'request failed');
    return reply;
  });
}
