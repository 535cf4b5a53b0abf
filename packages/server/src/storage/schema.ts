/**
 * Table shapes as Kysely sees them. Columns that are looked up or must be unique are real columns;
 * the rest of each resource is one JSON document (`data`), which keeps the two SQL dialects on the
 * same schema and lets the Management API grow fields without a migration each time.
 * Timestamps are ISO-8601 strings: they sort correctly as text in both databases.
 */
export interface Database {
  clients: { client_id: string; secret_digest: string; data: string; created_at: string };
  resource_servers: { id: string; identifier: string; data: string; created_at: string };
  client_grants: { id: string; client_id: string; audience: string; data: string; created_at: string };
  connections: { id: string; name: string; strategy: string; data: string; created_at: string };
  users: {
    user_id: string;
    connection: string;
    email_lc: string | null;
    username_lc: string | null;
    password_hash: string | null;
    data: string;
    created_at: string;
  };
  tenant_settings: { id: string; data: string };
  signing_keys: {
    kid: string;
    alg: string;
    public_jwk: string;
    private_key_encrypted: string;
    created_at: string;
    retired_at: string | null;
    publish_until: string | null;
  };
}
