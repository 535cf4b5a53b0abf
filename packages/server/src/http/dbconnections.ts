import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { databaseConnectionFor } from '../connections/database.js';
import type { ServerContext } from '../context.js';
import { invalid } from '../domain/errors.js';
import { requestPasswordReset, verifyAfterSignup } from '../login/account-mail.js';
import { signUp } from '../login/signup.js';
import { actionRequestInfo } from './action-request.js';
import { installErrorHandler } from './errors.js';

const text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** The body Auth0's /dbconnections/signup takes; anything else is refused as invalid_signup. */
const SignupBody = Type.Object(
  {
    client_id: text(64),
    email: text(254),
    password: text(1024),
    connection: text(128),
    username: Type.Optional(text(128)),
    name: Type.Optional(text(300)),
    given_name: Type.Optional(text(150)),
    family_name: Type.Optional(text(150)),
    nickname: Type.Optional(text(300)),
    picture: Type.Optional(text(2048)),
    user_metadata: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 500 }), { maxProperties: 10 })),
  },
  { additionalProperties: false },
);

/** Auth0's `/dbconnections/change_password` body (`username` is for username-only connections, which latchkey has not). */
const ChangePasswordBody = Type.Object(
  {
    client_id: text(64),
    email: Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' }),
    connection: text(128),
    organization: Type.Optional(text(64)),
  },
  { additionalProperties: false },
);

/** Auth0's answer, word for word, whether or not the address belongs to anyone. */
const CHANGE_PASSWORD_ANSWER = "We've just sent you an email to reset your password.";

/**
 * `POST /dbconnections/signup`: creates a database user for a client that has the connection.
 * `POST /dbconnections/change_password`: mails a reset link (login/account-mail.ts).
 */
export async function dbConnectionsEndpoints(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  installErrorHandler(app, 'dbconnections', ctx);

  const options = { schema: { body: SignupBody }, bodyLimit: 16 * 1024 };
  app.post<{ Body: Static<typeof SignupBody> }>('/dbconnections/signup', options, async (request, reply) => {
    const body = request.body;
    const client = (await ctx.lookups.client(body.client_id))?.client;
    if (!client) throw invalid('Unknown client', 'invalid_signup');
    const { client_id: _c, connection, ...profile } = body;
    // Its DomainErrors (user_exists, password policy, limits, signup disabled) are answered by the dbconnections mapper.
    const signedUp = await signUp(ctx, { client, connection, profile, ip: request.ip, request: actionRequestInfo(request) });
    const { user } = signedUp;
    verifyAfterSignup(ctx, user, signedUp.connection, client.client_id, request.log);
    return reply.send({ _id: user.user_id.replace(/^auth0\|/, ''), email: user.email, email_verified: user.email_verified });
  });

  const changeOptions = { schema: { body: ChangePasswordBody }, bodyLimit: 16 * 1024 };
  app.post<{ Body: Static<typeof ChangePasswordBody> }>('/dbconnections/change_password', changeOptions, async (request, reply) => {
    const body = request.body;
    const client = (await ctx.lookups.client(body.client_id))?.client;
    if (!client) throw invalid('Unknown client', 'invalid_request');
    const connection = await databaseConnectionFor(ctx.lookups, client, body.connection);
    if (!connection) throw invalid('The connection does not exist or is not enabled for this client', 'invalid_request');
    await requestPasswordReset(ctx, { email: body.email, connection, clientId: client.client_id, ip: request.ip }, request.log);
    return reply.type('text/plain; charset=utf-8').send(CHANGE_PASSWORD_ANSWER);
  });
}
