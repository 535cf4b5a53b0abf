import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { ServerContext } from '../context.js';
import { lockHeaders } from '../connections/database.js';
import { SignupError, signUp } from '../login/signup.js';

interface SignupBody {
  client_id: string;
  email: string;
  password: string;
  connection: string;
  username?: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  nickname?: string;
  picture?: string;
  user_metadata?: Record<string, string>;
}

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });

const signupSchema = {
  type: 'object',
  required: ['client_id', 'email', 'password', 'connection'],
  additionalProperties: false,
  properties: {
    client_id: text(64),
    email: text(254),
    password: text(1024),
    connection: text(128),
    username: text(128),
    name: text(300),
    given_name: text(150),
    family_name: text(150),
    nickname: text(300),
    picture: text(2048),
    user_metadata: { type: 'object', maxProperties: 10, additionalProperties: { type: 'string', maxLength: 500 } },
  },
} as const;

/** Auth0's Authentication API error body for sign-up: `{name, code, description, statusCode}`. */
function signupError(reply: FastifyReply, status: number, code: string, description: string, name = 'BadRequestError') {
  return reply.status(status).send({ name, code, description, statusCode: status });
}

/** `POST /dbconnections/signup`: creates a database user for a client that has the connection. */
export async function dbConnectionsEndpoints(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'signup error');
    return signupError(reply, status, status === 500 ? 'server_error' : 'invalid_signup', status === 500 ? 'Internal error' : error.message);
  });

  app.post<{ Body: SignupBody }>('/dbconnections/signup', { schema: { body: signupSchema }, bodyLimit: 16 * 1024 }, async (request, reply) => {
    const body = request.body;
    const client = (await ctx.lookups.client(body.client_id))?.client;
    if (!client) return signupError(reply, 400, 'invalid_signup', 'Unknown client');
    const { client_id: _c, connection, ...profile } = body;
    try {
      const { user } = await signUp(ctx, { client, connection, profile, ip: request.ip });
      return reply.send({ _id: user.user_id.replace(/^auth0\|/, ''), email: user.email, email_verified: user.email_verified });
    } catch (err) {
      if (!(err instanceof SignupError)) throw err;
      switch (err.reason) {
        case 'too_many_signups':
          reply.headers(lockHeaders(err.lock!, ctx.now()));
          return signupError(reply, 429, 'too_many_requests', err.message, 'TooManyRequestsError');
        case 'signup_disabled':
          return signupError(reply, 403, 'operation_not_allowed', err.message);
        case 'invalid_password':
          return signupError(reply, 400, 'invalid_password', err.message, 'PasswordStrengthError');
        case 'user_exists':
          // Auth0's answer, which Lock and auth0.js show as "The user already exists."
          return signupError(reply, 400, 'user_exists', err.message);
        default:
          return signupError(reply, 400, 'invalid_signup', err.message);
      }
    }
  });
}
