import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { invalid } from '../domain/errors.js';
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

/** `POST /dbconnections/signup`: creates a database user for a client that has the connection. */
export async function dbConnectionsEndpoints(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  installErrorHandler(app, 'dbconnections', ctx);

  const options = { schema: { body: SignupBody }, bodyLimit: 16 * 1024 };
  app.post<{ Body: Static<typeof SignupBody> }>('/dbconnections/signup', options, async (request, reply) => {
    const body = request.body;
    const client = (await ctx.lookups.client(body.client_id))?.client;
    if (!client) throw invalid('Unknown client', 'invalid_signup');
    const { client_id: _c, connection, ...profile } = body;
    // Its DomainErrors (user_exists, password policy, limits, signup disabled) are answered by the dbconnections mapper.
    const { user } = await signUp(ctx, { client, connection, profile, ip: request.ip, request: actionRequestInfo(request) });
    return reply.send({ _id: user.user_id.replace(/^auth0\|/, ''), email: user.email, email_verified: user.email_verified });
  });
}
