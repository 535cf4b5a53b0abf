import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type JWTPayload, errors as joseErrors } from 'jose';
import type { ServerContext } from '../../context.js';
import { DomainError, invalidField } from '../../domain/errors.js';
import { managementAudience } from '../../domain/resource-servers.js';
import type { Page, PageRequest } from '../../domain/types.js';
import { verifyOwnJwt } from '../../oauth/own-jwt.js';
import { decodeCheckpoint } from '../../storage/kysely/index.js';
import { installErrorHandler, managementError } from '../errors.js';
import { absentResourceRoutes } from './absent-resources.js';
import { actionRoutes } from './actions.js';
import { clientGrantRoutes } from './client-grants.js';
import { clientRoutes } from './clients.js';
import { connectionRoutes } from './connections.js';
import { emailOutboxRoutes } from './email-outbox.js';
import { emailProviderRoutes } from './email-provider.js';
import { emailTemplateRoutes } from './email-templates.js';
import { grantRoutes } from './grants.js';
import { jobRoutes } from './jobs.js';
import { logStreamRoutes } from './log-streams.js';
import { logRoutes } from './logs.js';
import { resourceServerRoutes } from './resource-servers.js';
import { roleRoutes } from './roles.js';
import { tenantRoutes } from './tenant.js';
import { ticketRoutes } from './tickets.js';
import { userRoutes } from './users.js';
import { verificationEmailJobRoute } from './verification-email-job.js';

// biome-ignore lint/suspicious/noExplicitAny: every route plugin accepts any server, request, reply and logger types here.
export type ManagementApp = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The Management API scope a route requires: any one of the list, where an entry that is itself a
     * list needs all of its scopes (Auth0's role-member routes take read:users with read:roles, or read:role_members).
     */
    scope?: string | Array<string | string[]>;
  }
  interface FastifyRequest {
    /** Scopes of the verified Management API token, for routes whose answer depends on them. */
    managementScopes?: string[];
    /** The client the Management API token was issued to: the actor of `sapi`/`fapi` events. */
    managementClientId?: string;
  }
}

/** Paging as the Management API offers it: page/per_page (offset) or from/take (checkpoint). */
export const PagingQuery = {
  page: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  include_totals: Type.Optional(Type.Boolean()),
  from: Type.Optional(Type.String({ maxLength: 512 })),
  take: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};

export const FieldsQuery = {
  fields: Type.Optional(Type.String({ maxLength: 1024 })),
  include_fields: Type.Optional(Type.Boolean()),
};

type PagingQueryValue = { [K in keyof typeof PagingQuery]?: Static<(typeof PagingQuery)[K]> };
type FieldsQueryValue = { fields?: string; include_fields?: boolean };

export function pageRequest(query: PagingQueryValue): PageRequest {
  if (query.from !== undefined || query.take !== undefined) {
    if (query.from !== undefined && !decodeCheckpoint(query.from)) {
      throw invalidField('from', "'from' is not a valid checkpoint", 'invalid_query_string');
    }
    return { kind: 'checkpoint', from: query.from, take: query.take ?? 50 };
  }
  return offsetPageRequest(query);
}

/** The offset part of PagingQuery, for lists Auth0 pages by offset only (a function: plugin.ts and the routes import each other). */
export const OffsetPagingQuery = () => ({
  page: PagingQuery.page,
  per_page: PagingQuery.per_page,
  include_totals: PagingQuery.include_totals,
});

export function offsetPageRequest(query: Pick<PagingQueryValue, 'page' | 'per_page' | 'include_totals'>): PageRequest & { kind: 'offset' } {
  const limit = query.per_page ?? 50;
  return { kind: 'offset', offset: (query.page ?? 0) * limit, limit, includeTotal: query.include_totals === true };
}

/** `fields=a,b` keeps (or with include_fields=false drops) those top-level properties. */
export function project<T extends object>(item: T, query: FieldsQueryValue): Partial<T> {
  if (!query.fields) return item;
  const names = new Set(query.fields.split(',').map((f) => f.trim()));
  const keep = query.include_fields !== false;
  return Object.fromEntries(Object.entries(item).filter(([k]) => names.has(k) === keep)) as Partial<T>;
}

/** A bare array, `{start, limit, length, total, <key>}` with include_totals, or `{<key>, next}` with checkpoints. */
export function listBody<T extends object>(
  key: string,
  page: Page<T>,
  request: PageRequest,
  query: FieldsQueryValue,
  present: (item: T) => object = (item) => item,
): unknown {
  const items = page.items.map((item) => project(present(item), query));
  if (request.kind === 'checkpoint') return { [key]: items, ...(page.next ? { next: page.next } : {}) };
  if (!request.includeTotal) return items;
  return { start: request.offset, limit: request.limit, length: items.length, total: page.total ?? items.length, [key]: items };
}

/** The token's client: `azp`, or the `sub` of a client_credentials token (`{client_id}@clients`). */
function actorOf(payload: JWTPayload): string | undefined {
  if (typeof payload.azp === 'string') return payload.azp;
  return typeof payload.sub === 'string' ? payload.sub.replace(/@clients$/, '') : undefined;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The fields a request body set, as dotted paths two levels deep: the names only, never a value. */
function fieldsOf(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const fields: string[] = [];
  for (const [key, value] of Object.entries(body).slice(0, 100)) {
    const nested = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value).slice(0, 50) : [];
    if (nested.length === 0 || key.endsWith('metadata')) fields.push(key);
    else fields.push(...nested.map((inner) => `${key}.${inner}`));
  }
  return fields;
}

/**
 * Every Management API write is recorded, as Auth0's `sapi` (answered 2xx/3xx) or `fapi` events: the
 * actor (the token's client), method, path and the names of the fields the body set. Values are
 * never recorded: a body may carry a password, a client secret or an Action's secrets. Here rather
 * than in each domain function because the actor and the outcome are only known at this layer, and
 * one hook cannot forget a route.
 */
function recordWrites(app: ManagementApp, ctx: ServerContext): void {
  app.addHook('onResponse', async (request, reply) => {
    if (!WRITES.has(request.method)) return;
    const pattern = request.routeOptions.url ?? '';
    const path = request.url.split('?')[0]!.slice(0, 512);
    const status = reply.statusCode;
    const userAgent = request.headers['user-agent']?.slice(0, 512);
    ctx.events.emit({
      type: status < 400 ? 'sapi' : 'fapi',
      description: `${request.method} ${pattern || path}`,
      ...(request.managementClientId ? { client_id: request.managementClientId } : {}),
      ip: request.ip,
      hostname: new URL(ctx.issuer).host,
      ...(userAgent ? { user_agent: userAgent } : {}),
      details: {
        request: { method: request.method.toLowerCase(), path, fields: fieldsOf(request.body) },
        response: { statusCode: status },
      },
    });
  });
}

const unauthorized = (message: string) => new DomainError('unauthorized', 'invalid_token', message);

/**
 * Every route needs a Management API access token (client_credentials, audience `${issuer}api/v2/`)
 * carrying the scope the route names. Verified locally against our own keys: no network hop.
 */
function guard(ctx: ServerContext) {
  const audience = managementAudience(ctx.issuer);
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) throw unauthorized('Missing authentication');
    const match = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(header);
    if (!match) throw unauthorized('Bad HTTP authentication header format');
    let scopes: string[];
    let payload: JWTPayload;
    try {
      payload = await verifyOwnJwt(ctx.keys, ctx.issuer, match[1]!, { audience, currentDate: new Date(ctx.now()) });
      scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('Expired token received for JSON Web Token validation');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') throw unauthorized(`Bad audience: ${audience}`);
      throw unauthorized('Invalid token');
    }
    request.managementScopes = scopes;
    request.managementClientId = actorOf(payload);
    const required = request.routeOptions.config.scope;
    if (required === undefined) return;
    const anyOf = Array.isArray(required) ? required : [required];
    const holds = (entry: string | string[]) => (Array.isArray(entry) ? entry.every((s) => scopes.includes(s)) : scopes.includes(entry));
    if (!anyOf.some(holds)) {
      const expected = anyOf.map((entry) => (Array.isArray(entry) ? entry.join('+') : entry)).join(',');
      throw new DomainError('forbidden', 'insufficient_scope', `Insufficient scope, expected any of: ${expected}`);
    }
  };
}

export async function managementApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.addHook('onRequest', guard(ctx));
  recordWrites(api, ctx);
  installErrorHandler(api, 'management', ctx);
  api.setNotFoundHandler((_request, reply) => {
    const wire = managementError(new DomainError('not_found', 'not_found', 'Not Found'));
    return reply.status(wire.status).send(wire.body);
  });
  await api.register(async (scoped) => clientRoutes(scoped, ctx));
  await api.register(async (scoped) => resourceServerRoutes(scoped, ctx));
  await api.register(async (scoped) => clientGrantRoutes(scoped, ctx));
  await api.register(async (scoped) => connectionRoutes(scoped, ctx));
  await api.register(async (scoped) => userRoutes(scoped, ctx));
  await api.register(async (scoped) => roleRoutes(scoped, ctx));
  await api.register(async (scoped) => tenantRoutes(scoped, ctx));
  await api.register(async (scoped) => grantRoutes(scoped, ctx));
  await api.register(async (scoped) => jobRoutes(scoped, ctx));
  await api.register(async (scoped) => actionRoutes(scoped, ctx));
  await api.register(async (scoped) => emailProviderRoutes(scoped, ctx));
  await api.register(async (scoped) => emailOutboxRoutes(scoped, ctx));
  await api.register(async (scoped) => emailTemplateRoutes(scoped, ctx));
  await api.register(async (scoped) => ticketRoutes(scoped, ctx));
  await api.register(async (scoped) => verificationEmailJobRoute(scoped, ctx));
  await api.register(async (scoped) => logRoutes(scoped, ctx));
  await api.register(async (scoped) => logStreamRoutes(scoped, ctx));
  await api.register(async (scoped) => absentResourceRoutes(scoped));
}
