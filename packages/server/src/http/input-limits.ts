import type { FastifyRequest } from 'fastify';

/**
 * Deeper than any real metadata or connection options, and far below where JSON.stringify (used to
 * store free-form fields) overflows the stack: a 5000-deep `user_metadata` used to become a 500.
 */
export const MAX_JSON_DEPTH = 32;

type Part = 'params' | 'querystring' | 'body';

/** Shaped like a Fastify validation error, so each endpoint's error handler answers in its own format. */
function invalidInput(part: Part, path: string, message: string): Error {
  return Object.assign(new Error(message), {
    statusCode: 400,
    validationContext: part,
    validation: [{ keyword: 'input', instancePath: path, schemaPath: '', params: {}, message }],
  });
}

/** The path of the first NUL or too-deep spot in `value`, or undefined. Stops descending at the limit. */
function firstProblem(value: unknown, path: string, depth: number): { path: string; message: string } | undefined {
  if (typeof value === 'string') {
    return value.includes('\u0000') ? { path, message: 'must not contain NUL characters' } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH) return { path, message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` };
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return { path, message: 'must not contain NUL characters' };
    const problem = firstProblem(item, `${path}/${key}`, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Rejects, as 400, request input no storage can hold: NUL characters (PostgreSQL text refuses them,
 * which surfaced as 500s on lookups like `GET /api/v2/users/auth0|%00`) and JSON nested past
 * MAX_JSON_DEPTH. Runs on every route, before schema validation.
 */
export async function rejectUnstorableInput(request: FastifyRequest): Promise<void> {
  const parts: Array<[Part, unknown]> = [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ];
  for (const [part, value] of parts) {
    const problem = firstProblem(value, '', 0);
    if (problem) throw invalidInput(part, problem.path, problem.message);
  }
}
