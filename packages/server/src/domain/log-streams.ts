import { randomBytes } from 'node:crypto';
import type { Encrypter } from '../crypto/encryption.js';
import type { LogEvent, LogEventType } from '../events/types.js';
import type { LogStreamRecord, LogStreamSettings, Storage } from '../storage/types.js';
import { invalid, invalidField, notFound } from './errors.js';

/** Auth0's webhook stream. */
export const HTTP_STREAM = 'http';
/**
 * latchkey's own stream type: each event as one JSON line on the server's standard output (for a
 * container's log collector). Auth0's types are single lowercase words (http, datadog, splunk...);
 * a name with a vendor prefix and a dash cannot be one of them.
 */
export const STDOUT_STREAM = 'latchkey-stdout';
export const LOG_STREAM_TYPES = [HTTP_STREAM, STDOUT_STREAM] as const;

export const CONTENT_FORMATS = ['JSONLINES', 'JSONARRAY', 'JSONOBJECT'] as const;

/** Auth0's filter categories (LogStreamFilterGroupNameEnum). */
export const FILTER_CATEGORIES = [
  'auth.login.fail',
  'auth.login.notification',
  'auth.login.success',
  'auth.logout.fail',
  'auth.logout.success',
  'auth.signup.fail',
  'auth.signup.success',
  'auth.silent_auth.fail',
  'auth.silent_auth.success',
  'auth.token_exchange.fail',
  'auth.token_exchange.success',
  'management.fail',
  'management.success',
  'scim.event',
  'system.notification',
  'user.fail',
  'user.notification',
  'user.success',
  'actions',
  'other',
] as const;

/** The category of each event type latchkey records, as Auth0 groups its codes; anything else is `other`. */
const CATEGORY: Partial<Record<LogEventType, (typeof FILTER_CATEGORIES)[number]>> = {
  s: 'auth.login.success',
  f: 'auth.login.fail',
  fp: 'auth.login.fail',
  fu: 'auth.login.fail',
  limit_wc: 'auth.login.notification',
  limit_mu: 'auth.login.notification',
  ssa: 'auth.silent_auth.success',
  fsa: 'auth.silent_auth.fail',
  ss: 'auth.signup.success',
  fs: 'auth.signup.fail',
  slo: 'auth.logout.success',
  seacft: 'auth.token_exchange.success',
  sertft: 'auth.token_exchange.success',
  seccft: 'auth.token_exchange.success',
  sepft: 'auth.token_exchange.success',
  sede: 'auth.token_exchange.success',
  feacft: 'auth.token_exchange.fail',
  fertft: 'auth.token_exchange.fail',
  feccft: 'auth.token_exchange.fail',
  fepft: 'auth.token_exchange.fail',
  fede: 'auth.token_exchange.fail',
  sapi: 'management.success',
  fapi: 'management.fail',
  scp: 'user.success',
  sdu: 'user.success',
  fdeac: 'user.fail',
  fdecc: 'user.fail',
  actions_execution_failed: 'actions',
};

export const categoryOf = (type: LogEventType): string => CATEGORY[type] ?? 'other';

/** Whether a stream with these filters carries the event (no filters: every event, as in Auth0). */
export function streamCarries(filters: LogStreamSettings['filters'], event: LogEvent): boolean {
  if (filters.length === 0) return true;
  const category = categoryOf(event.type);
  return filters.some((f) => f.name === category);
}

export interface HttpSinkInput {
  httpEndpoint?: string;
  httpAuthorization?: string;
  httpContentFormat?: (typeof CONTENT_FORMATS)[number];
  httpContentType?: string;
  httpCustomHeaders?: Array<{ header: string; value: string }>;
}

export interface LogStreamInput {
  name?: string;
  type?: string;
  status?: 'active' | 'paused' | 'suspended';
  sink?: HttpSinkInput;
  filters?: Array<{ type: 'category'; name: string }>;
}

/** The sealed header is bound to its stream: a sealed value copied to another row does not decrypt. */
export const authorizationContext = (id: string) => `log stream ${id} authorization`;

/** Headers fetch sets itself or that would change what is sent: a custom header may not replace them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'authorization', 'transfer-encoding', 'connection']);

function checkedSink(type: string, sink: HttpSinkInput | undefined): Record<string, unknown> {
  if (type === STDOUT_STREAM) {
    if (sink && Object.keys(sink).length > 0) throw invalidField('sink', `A ${STDOUT_STREAM} stream has no sink properties`);
    return {};
  }
  if (!sink?.httpEndpoint) throw invalidField('sink', "Missing required property 'sink.httpEndpoint'");
  let url: URL;
  try {
    url = new URL(sink.httpEndpoint);
  } catch {
    throw invalidField('sink.httpEndpoint', 'httpEndpoint must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidField('sink.httpEndpoint', 'httpEndpoint must be an http(s) URL');
  for (const { header } of sink.httpCustomHeaders ?? []) {
    if (RESERVED_HEADERS.has(header.toLowerCase())) {
      throw invalidField('sink.httpCustomHeaders', `The header ${header} cannot be set as a custom header`);
    }
  }
  return {
    httpEndpoint: sink.httpEndpoint,
    httpContentFormat: sink.httpContentFormat ?? 'JSONLINES',
    httpContentType: sink.httpContentType ?? 'application/json',
    ...(sink.httpCustomHeaders ? { httpCustomHeaders: sink.httpCustomHeaders } : {}),
  };
}

/**
 * A stream as the Management API answers it. The receiver's authorization header is never returned,
 * although Auth0's documented responses echo `httpAuthorization`: anyone holding read:log_streams
 * would otherwise read a credential for another system, and a deploy tool exporting the tenant would
 * write it to disk. Re-sending the sink without it keeps the stored header (see updateLogStream).
 */
export function presentLogStream(stream: LogStreamRecord): Record<string, unknown> {
  return {
    id: stream.id,
    name: stream.name,
    type: stream.type,
    status: stream.status,
    ...(stream.type === HTTP_STREAM ? { sink: stream.sink } : {}),
    ...(stream.filters.length > 0 ? { filters: stream.filters } : {}),
  };
}

export async function listLogStreams(storage: Pick<Storage, 'logStreams'>): Promise<LogStreamRecord[]> {
  return storage.logStreams.list();
}

export async function getLogStream(storage: Pick<Storage, 'logStreams'>, id: string): Promise<LogStreamRecord> {
  const stream = await storage.logStreams.get(id);
  if (!stream) throw notFound('The log stream does not exist', 'inexistent_log_stream');
  return stream;
}

export const MAX_LOG_STREAMS = 20;

/** Auth0's ids look like `lst_0000000000012345`. */
const newLogStreamId = () => `lst_${randomBytes(8).toString('hex')}`;

export async function createLogStream(
  storage: Pick<Storage, 'logStreams'>,
  input: LogStreamInput & { type: string },
  secrets: Encrypter,
  now: Date,
): Promise<LogStreamRecord> {
  // Each stream costs a delivery loop on every node: bounded like everything else stored.
  if ((await storage.logStreams.list()).length >= MAX_LOG_STREAMS) {
    throw invalid(`A tenant can have at most ${MAX_LOG_STREAMS} log streams`, 'too_many_entities');
  }
  const id = newLogStreamId();
  const sink = checkedSink(input.type, input.sink);
  const authorization = input.type === HTTP_STREAM && input.sink?.httpAuthorization ? input.sink.httpAuthorization : undefined;
  return storage.logStreams.create({
    id,
    name: input.name ?? `${input.type} stream`,
    type: input.type,
    status: 'active',
    sink,
    authorization: authorization ? secrets.encrypt(authorization, authorizationContext(id)) : null,
    filters: input.filters ?? [],
    created_at: now.toISOString(),
  });
}

/**
 * Auth0's PATCH: name, status (active or paused; suspended is the server's to set), sink and filters.
 * Setting `active` resumes from the stream's cursor at once, its backoff cleared. A sink sent without
 * `httpAuthorization` keeps the stored one (it is never returned, so a client cannot send it back).
 */
export async function updateLogStream(
  storage: Pick<Storage, 'logStreams'>,
  id: string,
  input: LogStreamInput,
  secrets: Encrypter,
): Promise<LogStreamRecord> {
  const stream = await getLogStream(storage, id);
  if (input.type !== undefined && input.type !== stream.type) throw invalidField('type', 'The type of a log stream cannot be changed');
  if (input.status === 'suspended') throw invalidField('status', 'A log stream can be set active or paused');
  const changes: Partial<LogStreamSettings> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.status !== undefined) changes.status = input.status;
  if (input.filters !== undefined) changes.filters = input.filters;
  if (input.sink !== undefined) {
    changes.sink = checkedSink(stream.type, { ...stream.sink, ...input.sink });
    if (input.sink.httpAuthorization !== undefined) {
      changes.authorization =
        input.sink.httpAuthorization === '' ? null : secrets.encrypt(input.sink.httpAuthorization, authorizationContext(id));
    }
  }
  if (!(await storage.logStreams.update(id, changes, input.status === 'active'))) {
    throw notFound('The log stream does not exist', 'inexistent_log_stream');
  }
  return getLogStream(storage, id);
}

export async function deleteLogStream(storage: Pick<Storage, 'logStreams'>, id: string): Promise<void> {
  if (!(await storage.logStreams.delete(id))) throw notFound('The log stream does not exist', 'inexistent_log_stream');
}
