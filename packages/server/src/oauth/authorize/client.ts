import { type AuthorizeCheck, AuthorizeError } from './types.js';

export const checkClient: AuthorizeCheck = async (params, state, ctx) => {
  if (!params.client_id) throw new AuthorizeError('invalid_request', 'Missing required parameter: client_id', false);
  const record = await ctx.lookups.client(params.client_id);
  if (!record) throw new AuthorizeError('invalid_request', `Unknown client: ${params.client_id}`, false, 'Unknown application');
  state.client = record.client;
  state.request.clientId = record.client.client_id;
};
