import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { withDefaultPicture } from '../domain/default-picture.js';
import { verifyOwnJwt } from '../oauth/own-jwt.js';
import { digestToken, profileClaims } from '../oauth/user-tokens.js';

interface TokenGrant {
  userId: string;
  scope: string[];
}

/**
 * `GET|POST /userinfo` (OIDC Core §5.3): the access token is either a JWT whose audience includes
 * `${issuer}userinfo`, or an opaque token issued when no API was asked for.
 */
export async function userinfoEndpoint(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const userinfoAudience = `${ctx.issuer}userinfo`;

  async function grantFor(token: string): Promise<TokenGrant | undefined> {
    if (token.split('.').length === 3) {
      try {
        const payload = await verifyOwnJwt(ctx.keys, ctx.issuer, token, { audience: userinfoAudience, currentDate: new Date(ctx.now()) });
        if (typeof payload.sub !== 'string') return undefined;
        if (typeof payload.azp === 'string' && !(await ctx.lookups.client(payload.azp))) return undefined;
        return { userId: payload.sub, scope: typeof payload.scope === 'string' ? payload.scope.split(' ') : [] };
      } catch {
        return undefined;
      }
    }
    const opaque = await ctx.storage.accessTokens.get(digestToken(token));
    if (!opaque || Date.parse(opaque.expiresAt) <= ctx.now()) return undefined;
    // Deleting a client ends what it was issued (Auth0 does the same for its stored tokens).
    if (!(await ctx.lookups.client(opaque.clientId))) return undefined;
    return { userId: opaque.userId, scope: opaque.scope };
  }

  // RFC 6750 §3: the challenge names the problem; no details about which check failed.
  const reject = (reply: FastifyReply, error: 'invalid_request' | 'invalid_token', description: string) =>
    reply
      .status(error === 'invalid_request' ? 400 : 401)
      .headers({
        'www-authenticate': `Bearer realm="${ctx.issuer}", error="${error}", error_description="${description}"`,
        'cache-control': 'no-store',
      })
      .send({ error, error_description: description });

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    const match = header ? /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(header) : null;
    if (!header) {
      return reply
        .status(401)
        .headers({ 'www-authenticate': `Bearer realm="${ctx.issuer}"`, 'cache-control': 'no-store' })
        .send({ error: 'invalid_token', error_description: 'Missing access token' });
    }
    if (!match || match[1]!.length > 8192) return reject(reply, 'invalid_request', 'Malformed Authorization header');
    const grant = await grantFor(match[1]!);
    if (!grant) return reject(reply, 'invalid_token', 'The access token is invalid or expired');
    const user = (await ctx.storage.users.get(grant.userId))?.user;
    if (!user || user.blocked) return reject(reply, 'invalid_token', 'The access token is invalid or expired');
    return reply
      .header('cache-control', 'no-store')
      .send({ sub: user.user_id, ...profileClaims(withDefaultPicture(user, ctx.pictures), grant.scope) });
  }

  app.get('/userinfo', handle);
  app.post('/userinfo', handle);
}
