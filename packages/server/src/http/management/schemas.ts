import { type TLiteral, type TOptional, type TSchema, type TUnion, Type } from '@sinclair/typebox';

/** Request bodies reject properties they do not know (Auth0 answers 400 too). */
export const Strict = <T extends Record<string, TSchema>>(properties: T) => Type.Object(properties, { additionalProperties: false });

export const Url = Type.String({ minLength: 1, maxLength: 2048 });
export const UrlList = Type.Array(Url, { maxItems: 100 });
export const Name = Type.String({ minLength: 1, maxLength: 128 });
export const Metadata = Type.Record(Type.String({ maxLength: 255 }), Type.Unknown(), { maxProperties: 100 });
export const StringMap = Type.Record(Type.String({ maxLength: 255 }), Type.String({ maxLength: 255 }), { maxProperties: 10 });
/** An id in a path or a filter: a client id, user id, grant id... */
export const Id = Type.String({ minLength: 1, maxLength: 300 });
export const IdParam = Strict({ id: Id });

/** One of a fixed set of strings, typed as their union. */
export const StringEnum = <const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> =>
  Type.Union(values.map((v) => Type.Literal(v)));

/** Every field optional: PATCH bodies, and the optional part of POST bodies. */
export const OptionalFields = <T extends Record<string, TSchema>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof T]: TOptional<T[K]> };

/** Auth0's `{permissions: [{resource_server_identifier, permission_name}]}`, for users' and roles' permissions. */
export const PermissionsBody = Strict({
  permissions: Type.Array(
    Strict({
      resource_server_identifier: Type.String({ minLength: 1, maxLength: 600 }),
      permission_name: Type.String({ minLength: 1, maxLength: 280 }),
    }),
    { minItems: 1, maxItems: 1000 },
  ),
});

/** A list of ids in a body (`users`, `roles`): bounded like every other list. */
export const IdList = Type.Array(Id, { minItems: 1, maxItems: 1000 });
