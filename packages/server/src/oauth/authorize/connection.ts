import { AuthorizeError, type AuthorizeCheck } from './types.js';

/** `connection=NAME` skips the choice of connection; it must exist and be enabled for the client. */
export const checkConnection: AuthorizeCheck = async (params, state, ctx) => {
  if (params.connection === undefined) return;
  const connection = await ctx.lookups.connection(params.connection);
  if (!connection || !connection.enabled_clients.includes(state.client!.client_id)) {
    throw new AuthorizeError('invalid_request', `the connection was disabled or does not exist: ${params.connection}`);
  }
  state.request.connection = connection.name;
};
