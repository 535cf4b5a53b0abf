import multipart, { type Multipart, type MultipartFile } from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ServerContext } from '../../context.js';
import { DomainError, invalidField } from '../../domain/errors.js';
import { createExport, getJob, type ImportRequest, jobErrors, MAX_JOB_ERRORS, presentJob, receiveImport } from '../../domain/jobs/jobs.js';
import type { JobRecord } from '../../domain/jobs/types.js';
import type { ManagementApp } from './plugin.js';
import { Id, IdParam, Strict, StringEnum } from './schemas.js';

/** How long a `location` link to an export file works (Auth0's pre-signed links are short-lived too). */
export const EXPORT_LINK_TTL_MS = 10 * 60_000;

const ConnectionId = Type.String({ minLength: 1, maxLength: 64, pattern: '^con_[A-Za-z0-9]+$' });
const FormBoolean = Type.Optional(StringEnum(['true', 'false'] as const));
/** The form fields of an import, as text (multipart has no types); the file is `users`. */
const ImportFields = Strict({
  connection_id: ConnectionId,
  upsert: FormBoolean,
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  send_completion_email: FormBoolean,
});

const ExportBody = Strict({
  connection_id: Type.Optional(ConnectionId),
  format: Type.Optional(StringEnum(['json', 'csv'] as const)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  fields: Type.Optional(
    Type.Array(
      Strict({
        name: Type.String({ minLength: 1, maxLength: 255 }),
        export_as: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
      }),
      {
        maxItems: 100,
      },
    ),
  ),
});

/**
 * The multipart parser's own errors (no boundary in the content type, a body that ends before its
 * closing boundary) are the client's malformed request; @fastify/multipart's limits carry a status already.
 */
function malformedUpload(err: unknown): unknown {
  // A second file part passes the parser's `files: 1` limit, which it reports as a 413; but nothing
  // was too large: the request is malformed (Auth0 takes exactly one users file).
  if ((err as { code?: string }).code === 'FST_FILES_LIMIT') return invalidField('users', 'Send exactly one file, users.');
  if (err instanceof DomainError || !(err instanceof Error) || (err as { statusCode?: number }).statusCode !== undefined) return err;
  return invalidField('users', `Malformed multipart/form-data body: ${err.message}`);
}

/** Where a job's export file is served, relative to the issuer. */
export const exportFilePath = (job: JobRecord) => `jobs/files/${job.id}.${job.data.format === 'csv' ? 'csv' : 'json'}.gz`;

export async function jobRoutes(app: ManagementApp, ctx: ServerContext): Promise<void> {
  const { storage, config } = ctx;
  // Only here: no other Management API route takes multipart. Limits bound what a request can make the parser hold.
  await app.register(multipart, {
    limits: { fileSize: config.jobsImportMaxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 },
  });

  // The export file holds every user of the connection: its link goes only to a token that may read
  // users (the job itself can be read with create:users alone, by whoever started an import).
  const present = (job: JobRecord, scopes: string[] = []) => {
    const body = presentJob(job, ctx.now());
    if (job.type === 'users_export' && job.status === 'completed' && scopes.includes('read:users')) {
      body.location = `${ctx.issuer}${ctx.downloads.sign(exportFilePath(job), ctx.now() + EXPORT_LINK_TTL_MS)}`;
    }
    return body;
  };

  app.post('/jobs/users-imports', { config: { scope: 'create:users' } }, async (request, reply) => {
    if (!request.isMultipart()) throw invalidField('users', 'Request must be multipart/form-data with a users file');
    const parts = request.parts();
    const nextPart = () => parts.next().catch((err: unknown) => Promise.reject(malformedUpload(err)));
    const values: Record<string, string> = {};
    const field = (part: Multipart) => {
      if (part.type === 'field') values[part.fieldname] = String(part.value);
    };
    // Fields sent before the file are read first; the parts iterator must not be closed (a for-await
    // with break would end the request), so it is advanced by hand.
    let file: MultipartFile | undefined;
    for (let next = await nextPart(); !next.done; next = await nextPart()) {
      if (next.value.type === 'file') {
        if (next.value.fieldname !== 'users') throw invalidField('users', `Unexpected file field '${next.value.fieldname}'`);
        file = next.value;
        break;
      }
      field(next.value);
    }
    if (!file) throw invalidField('users', 'Missing required property: users');
    const upload = file;
    const fileBytes = (async function* () {
      try {
        for await (const chunk of upload.file) yield chunk as Buffer;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 413) {
          throw Object.assign(new Error(`The users file is larger than the ${config.jobsImportMaxBytes} bytes allowed.`), {
            statusCode: 413,
          });
        }
        throw malformedUpload(err);
      }
      if (upload.file.truncated) {
        throw Object.assign(new Error(`The users file is larger than the ${config.jobsImportMaxBytes} bytes allowed.`), {
          statusCode: 413,
        });
      }
    })();
    const fields = async (): Promise<ImportRequest> => {
      for (let next = await nextPart(); !next.done; next = await nextPart()) field(next.value);
      if (!Value.Check(ImportFields, values)) {
        const first = [...Value.Errors(ImportFields, values)][0];
        const property = first?.path.slice(1) || 'connection_id';
        throw invalidField(property, `'${first?.message ?? 'invalid'}' on property ${property}`);
      }
      return {
        connection_id: values.connection_id!,
        upsert: values.upsert === 'true',
        send_completion_email: values.send_completion_email !== 'false',
        ...(values.external_id !== undefined ? { external_id: values.external_id } : {}),
      };
    };
    const job = await receiveImport(storage, ctx.jobs.nodeId, fileBytes, fields, ctx.now(), config.requestTimeoutMs + 60_000);
    ctx.jobs.wake();
    // The multipart parser stops at the closing boundary; whatever the client sent after it is left
    // unread, and Node then resets the socket the client would reuse for its next call (seen as
    // ECONNRESET on the first poll). Closing the connection with the answer spares the client that.
    return reply.status(201).header('connection', 'close').send(present(job));
  });

  app.post('/jobs/users-exports', { config: { scope: 'read:users' }, schema: { body: ExportBody } }, async (request, reply) => {
    const job = await createExport(storage, request.body, ctx.now());
    ctx.jobs.wake();
    return reply.status(201).send(present(job, request.managementScopes));
  });

  app.get('/jobs/:id', { config: { scope: ['read:users', 'create:users'] }, schema: { params: IdParam } }, async (request) =>
    present(await getJob(storage, request.params.id, ctx.now()), request.managementScopes),
  );

  // Auth0: the failed users with why; the job itself (with status_details) when it failed as a whole; 204 when nothing failed.
  app.get(
    '/jobs/:id/errors',
    { config: { scope: ['read:users', 'create:users'] }, schema: { params: Strict({ id: Id }) } },
    async (request, reply) => {
      const job = await getJob(storage, request.params.id, ctx.now());
      const errors = await jobErrors(storage, job, MAX_JOB_ERRORS);
      if (errors.length > 0) return errors;
      if (job.status === 'failed') return present(job);
      return reply.status(204).send();
    },
  );
}
