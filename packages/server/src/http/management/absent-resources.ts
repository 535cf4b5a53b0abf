import { isDeepStrictEqual } from 'node:util';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import {
  ABSENT_RESOURCES,
  type AbsentAnswer,
  type AbsentResource,
  type AbsentResourceFacts,
  absentTypeRefusal,
} from '../../domain/absent-resources.js';
import { DomainError } from '../../domain/errors.js';
import { THROTTLE } from '../../login/throttle.js';
import { managementError } from '../errors.js';
import type { ManagementApp } from './plugin.js';

/**
 * Read-only answers for the Auth0 resource types latchkey lacks (the table is
 * domain/absent-resources.ts), and one refusal for writing them.
 *
 * Why a refusal at the write, and not before the import writes anything: auth0-deploy-cli (v8)
 * imports by running every handler's `validate` (local checks; only the rules handler reads the
 * tenant, and only a list) and then each handler's `processChanges` in a fixed order, each reading
 * its type and writing it before the next handler starts. The server sees nothing of the files but
 * the reads, and a read of `/rules` or `/hooks` looks the same for a file that lists none as for one
 * that lists some (Auth0's own exports write `rules: []`). So the first request that reveals content
 * is that type's first write. deploy-cli 8.44 runs `processChanges` by its `@order` (default 50),
 * ties in its handler table's order (lib/tools/auth0/handlers/index.js):
 *   40 clientAuthCredentialsPre (writes only with AUTH0_ALLOW_DELETE)
 *   50 rules, rulesConfigs, hooks, pages, | resourceServers, clients, guardianFactors,
 *      guardianFactorProviders, guardianFactorTemplates, guardianPolicies,
 *      guardianPhoneFactorSelectedProvider, guardianPhoneFactorMessageTypes, actionModules,
 *      attackProtection, riskAssessment, customDomains, networkACLs, userAttributeProfiles,
 *      connectionProfiles, rateLimitPolicies
 *   51 actions; 60 databases, connections, emailProvider, clientGrants, roles, phoneProviders, themes,
 *      selfServiceProfiles; 65 phoneTemplates, tokenExchangeProfiles; 70 emailTemplates, branding,
 *      organizations, logStreams, flowVaultConnections, clientAuthCredentials; 75 eventStreams;
 *   80 prompts, triggers, flows; 90 forms; 100 tenant, supplementalSignals.
 * So content for rules, rulesConfigs, hooks or pages (domain ABSENT_FIELDS) is refused before anything
 * is written; content for every absent type after the bar is refused at its own write, after the APIs
 * and applications before it were applied (applying again is idempotent). The refusal names the type
 * and the `AUTH0_EXCLUDED` value that leaves every absent type out: that setting is the pre-flight,
 * since the server cannot see the other types before they are written.
 */

/** Path parameters of the absent routes: any value Auth0 would take, bounded. */
const AnyParams = Type.Record(Type.String(), Type.String({ maxLength: 200 }));
const AnyQuery = Type.Record(Type.String(), Type.Union([Type.String({ maxLength: 1024 }), Type.Array(Type.String({ maxLength: 1024 }))]));

const FACTS: AbsentResourceFacts = { accountMaxFailures: THROTTLE.account.maxFailures };

function numberParam(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** An empty list in the shape the request asked for (see plugin.ts listBody). */
function emptyList(key: string, query: Record<string, unknown>): unknown {
  if (query.from !== undefined || query.take !== undefined) return { [key]: [] };
  if (query.include_totals !== 'true') return [];
  const limit = Math.min(numberParam(query.per_page, 50), 100);
  return { start: numberParam(query.page, 0) * limit, limit, length: 0, total: 0, [key]: [] };
}

/** What an absent resource reads as; `undefined` when Auth0 answers an error there. */
function documentOf(answer: AbsentAnswer, f: AbsentResourceFacts): unknown {
  if (answer.kind === 'document') return answer.value(f);
  if (answer.kind === 'list') return { [answer.key]: [] };
  return undefined;
}

/**
 * A write that changes nothing is a tool re-applying what it read (auth0-deploy-cli sets every
 * settings type it exported, default or not): it is answered as the read is. `rest` is the path
 * below the route, e.g. `sms` for PUT /guardian/factors/sms against the factor list.
 */
function changesNothing(current: unknown, body: unknown, rest: string): boolean {
  let target = current;
  if (rest !== '') {
    if (!Array.isArray(target)) return false;
    target = target.find(
      (item) => item && typeof item === 'object' && ((item as { name?: string }).name ?? (item as { id?: string }).id) === rest,
    );
  }
  if (Array.isArray(body)) return isDeepStrictEqual(target, body);
  if (!target || typeof target !== 'object' || !body || typeof body !== 'object') return false;
  const record = target as Record<string, unknown>;
  return Object.entries(body).every(([key, value]) => isDeepStrictEqual(record[key], value));
}

const WRITE_VERBS: Record<string, string[]> = {
  POST: ['create'],
  PUT: ['update', 'create'],
  PATCH: ['update'],
  DELETE: ['delete'],
};

export async function absentResourceRoutes(app: ManagementApp): Promise<void> {
  for (const resource of ABSENT_RESOURCES) {
    const { path, answer, scope } = resource;
    app.get(path, { config: { scope: `read:${scope}` }, schema: { params: AnyParams, querystring: AnyQuery } }, async (request, reply) => {
      if (answer.kind === 'unavailable') {
        const wire = managementError(new DomainError(answer.status === 404 ? 'not_found' : 'forbidden', answer.errorCode, answer.message));
        return reply.status(wire.status).send(wire.body);
      }
      if (answer.kind === 'list') return emptyList(answer.key, request.query as Record<string, unknown>);
      return answer.value(FACTS);
    });
  }

  // Writes: each route path once (several table rows share a path prefix), and everything below it.
  const writeRoutes = new Map<string, AbsentResource>();
  for (const resource of ABSENT_RESOURCES) {
    if (!writeRoutes.has(resource.path)) writeRoutes.set(resource.path, resource);
    const below = `${resource.path}/*`;
    if (!writeRoutes.has(below)) writeRoutes.set(below, resource);
    if (resource.createdAt && !writeRoutes.has(resource.createdAt)) writeRoutes.set(resource.createdAt, resource);
  }
  for (const [url, resource] of writeRoutes) {
    for (const [method, verbs] of Object.entries(WRITE_VERBS)) {
      app.route({
        method,
        url,
        config: { scope: verbs.map((verb) => `${verb}:${resource.scope}`) },
        schema: { params: AnyParams, querystring: AnyQuery },
        handler: async (request: FastifyRequest) => {
          const rest = url.endsWith('/*') ? String((request.params as Record<string, string>)['*'] ?? '') : '';
          const current = documentOf(resource.answer, FACTS);
          if (method !== 'DELETE' && current !== undefined && changesNothing(current, request.body, rest)) {
            return rest === '' ? current : (current as Array<{ name?: string }>).find((i) => i.name === rest);
          }
          throw absentTypeRefusal(resource.type);
        },
      });
    }
  }
}
