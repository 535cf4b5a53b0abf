import { type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { invalidField } from '../../domain/errors.js';
import type { ConnectionStrategy } from '../../domain/types.js';

/**
 * `options` of a connection, one schema per strategy, as Auth0 names them. Fields latchkey reads are
 * typed; others are kept as given (Auth0's dashboards and SDKs send more than latchkey uses).
 * Semantic checks that need more than a schema (https URLs, the issuer an OIDC provider must name)
 * stay in domain/upstream-options.ts.
 */
const text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const Url = text(2048);
const Scope = Type.Union([Type.String({ maxLength: 2048 }), Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })]);
const open = { additionalProperties: true, maxProperties: 100 } as const;

const Auth0Options = Type.Object(
  {
    passwordPolicy: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    password_complexity_options: Type.Optional(
      Type.Object({ min_length: Type.Optional(Type.Integer({ minimum: 1, maximum: 128 })) }, open),
    ),
    brute_force_protection: Type.Optional(Type.Boolean()),
    disable_signup: Type.Optional(Type.Boolean()),
    requires_username: Type.Optional(Type.Boolean()),
    // latchkey's: mail new users a verification link (default: when an email provider is enabled).
    verify_email_on_signup: Type.Optional(Type.Boolean()),
  },
  open,
);

const Upstream = {
  client_id: text(512),
  client_secret: Type.Optional(text(2048)),
  scope: Type.Optional(Scope),
};

const OAuth2Options = Type.Object(
  {
    ...Upstream,
    authorizationURL: Url,
    tokenURL: Url,
    scripts: Type.Object({ fetchUserProfile: Type.String({ minLength: 1, maxLength: 64 * 1024 }) }, open),
    customHeaders: Type.Optional(Type.Record(Type.String({ maxLength: 255 }), Type.String({ maxLength: 4096 }), { maxProperties: 20 })),
    pkce_enabled: Type.Optional(Type.Boolean()),
    // Optional: when set, the authorization response's `iss` (RFC 9207) is checked against it.
    issuer: Type.Optional(Url),
  },
  open,
);

const OidcOptions = Type.Object({ ...Upstream, discovery_url: Type.Optional(Url), issuer: Type.Optional(Url) }, open);

export const CONNECTION_OPTIONS: Record<ConnectionStrategy, TSchema> = { auth0: Auth0Options, oauth2: OAuth2Options, oidc: OidcOptions };

/** Throws the first schema failure as an invalid `options.<path>` field. */
export function checkConnectionOptions(strategy: ConnectionStrategy, options: unknown): void {
  const first = Value.Errors(CONNECTION_OPTIONS[strategy], options).First();
  if (!first) return;
  const path = first.path.slice(1).replace(/\//g, '.');
  const field = path ? `options.${path}` : 'options';
  throw invalidField(field, `${field}: ${first.message} (strategy ${strategy})`);
}
