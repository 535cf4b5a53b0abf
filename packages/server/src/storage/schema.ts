/**
 * Table shapes as Kysely sees them. Columns that are looked up or must be unique are real columns;
 * the rest of each resource is one JSON document (`data`), which keeps the two SQL dialects on the
 * same schema and lets the Management API grow fields without a migration each time.
 * Timestamps are ISO-8601 strings: they sort correctly as text in both databases.
 */
import type { Generated } from 'kysely';

export interface Database {
  clients: {
    client_id: string;
    secret_digest: string;
    data: string;
    created_at: string;
    /** Filtered by the client list (0015): '' for a client without an app type; 0/1. */
    app_type: string | null;
    is_first_party: number | null;
    is_system: number | null;
  };
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
    // Searched and sorted fields (0014), kept in step with `data` by storage/kysely/user-columns.ts.
    name: string | null;
    nickname: string | null;
    given_name: string | null;
    family_name: string | null;
    phone_number: string | null;
    email_verified: number | null;
    blocked: number | null;
    updated_at: string | null;
    last_login: string | null;
    logins_count: number | null;
  };
  /** Identities and metadata leaves of each user, one row per value, for indexed search (0014). */
  user_search_terms: { user_id: string; field: string; value: string; full_value: string | null; created_at: string };
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
  login_transactions: { id: string; data: string; expires_at: string; source: string | null };
  client_registrations: { client_id: string; token_digest: string };
  /** Each client's browser origins (oauth/browser-origins.ts), so CORS looks an origin up by key. */
  client_origins: { origin: string; client_id: string };
  /** Named counts kept in step with the rows they count (`registered_clients`). */
  counters: { name: string; value: number | string };
  /** Fixed-window hit counts shared by every node (tenant-wide rate limits). */
  rate_limit_windows: { key: string; window_started_at: string; hits: number };
  user_permissions: { user_id: string; audience: string; permission: string; created_at: string };
  roles: { id: string; name: string; name_lc: string; description: string | null; created_at: string };
  role_permissions: { role_id: string; audience: string; permission: string; created_at: string };
  user_roles: { user_id: string; role_id: string; created_at: string };
  actions: { id: string; name: string; trigger_id: string; deployed_version_id: string | null; data: string; created_at: string };
  action_versions: { id: string; action_id: string; number: number; data: string; created_at: string };
  action_bindings: {
    trigger_id: string;
    position: number;
    id: string;
    action_id: string;
    display_name: string;
    created_at: string;
    updated_at: string;
  };
  device_codes: {
    device_code_hash: string;
    user_code: string;
    status: string;
    data: string;
    expires_at: string;
    last_polled_at: string | null;
  };
  sessions: {
    id_hash: string;
    sid: string;
    user_id: string;
    auth_time: string;
    last_seen_at: string;
    expires_at: string;
    ended_at: string | null;
    connection: string | null;
    upstream_id_token: string | null;
  };
  authorization_codes: {
    code_hash: string;
    data: string;
    expires_at: string;
    consumed_at: string | null;
    family_id: string | null;
    access_token_hash: string | null;
    replayed_at: string | null;
  };
  refresh_tokens: {
    token_hash: string;
    family_id: string;
    sid: string | null;
    user_id: string | null;
    client_id: string | null;
    data: string;
    created_at: string;
    expires_at: string | null;
    rotated_at: string | null;
    revoked_at: string | null;
  };
  /** A row per revoked refresh token family: read by every use, so a token inserted late is refused too. */
  revoked_refresh_families: { family_id: string; revoked_at: string };
  opaque_access_tokens: { token_hash: string; user_id: string | null; data: string; expires_at: string };
  consents: { id: string | null; user_id: string; client_id: string; audience: string; scope: string; updated_at: string };
  login_throttle: { key: string; failures: number; window_started_at: string; locked_until: string | null };
  /** Bulk user import and export jobs (0019, storage/kysely/jobs.ts). */
  jobs: {
    id: string;
    type: string;
    status: string;
    data: string;
    cursor: number;
    owner: string | null;
    lease_until: string | null;
    created_at: string;
    expires_at: string;
  };
  job_chunks: { job_id: string; seq: number; data: string };
  job_errors: { job_id: string; seq: number; data: string };
  job_file_parts: { job_id: string; seq: number; data: Buffer };
  /** Mail (0022, storage/kysely/mail-outbox.ts, email-templates.ts, email-provider.ts). */
  email_provider: { id: string; data: string };
  email_templates: { name: string; data: string };
  mail_outbox: {
    id: string;
    template: string;
    status: string;
    recipient_key: string;
    sealed: string;
    attempts: number;
    next_attempt_at: string;
    owner: string | null;
    lease_until: string | null;
    last_error: string | null;
    created_at: string;
    sent_at: string | null;
  };
  /** One-time links sent by email (0023, storage/kysely/tickets.ts). */
  tickets: {
    id_hash: string;
    purpose: string;
    user_id: string;
    email: string | null;
    connection: string | null;
    client_id: string | null;
    result_url: string | null;
    mark_email_as_verified: number;
    include_email_in_redirect: number;
    created_at: string;
    expires_at: string;
    used_at: string | null;
  };
  /** Tenant log events (0025, storage/kysely/log-events.ts); `seq` is generated, in commit order. */
  log_events: {
    seq: Generated<number>;
    date: string;
    type: string;
    description: string | null;
    client_id: string | null;
    client_name: string | null;
    connection: string | null;
    connection_id: string | null;
    user_id: string | null;
    user_name: string | null;
    ip: string | null;
    user_agent: string | null;
    hostname: string | null;
    audience: string | null;
    scope: string | null;
    strategy: string | null;
    strategy_type: string | null;
    details: string | null;
  };
  /** Log streams with their delivery cursor and lease (0026, storage/kysely/log-streams.ts). */
  log_streams: {
    id: string;
    name: string;
    type: string;
    status: string;
    sink: string;
    authorization: string | null;
    filters: string;
    cursor: string | null;
    owner: string | null;
    lease_until: string | null;
    failures: number;
    failing_since: string | null;
    retry_at: string | null;
    created_at: string;
  };
}
