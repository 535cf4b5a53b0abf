import { connectionUsableBy } from '../../connections/database.js';
import { bounded } from './limits.js';
import { type AuthorizeCheck, AuthorizeError } from './types.js';

/** `connection=NAME` skips the choice of connection; the client must be allowed to use it. */
export const checkConnection: AuthorizeCheck = async (params, state, ctx) => {
  const name = bounded(params, 'connection');
  if (name === undefined) return;
  const client = state.client!;
  const connection = await ctx.lookups.connection(name);
  if (connection && !client.is_first_party && !connection.is_domain_connection) {
    throw new AuthorizeError(
      'invalid_request',
      `The connection ${params.connection} is not a domain connection: third-party applications can only use domain connections.`,
    );
  }
  if (!connection || !connectionUsableBy(connection, client)) {
    throw new AuthorizeError('invalid_request', `the connection was disabled or does not exist: ${params.connection}`);
  }
  state.request.connection = connection.name;
};
