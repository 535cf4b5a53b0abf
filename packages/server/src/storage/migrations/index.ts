import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-interactive-sign-in.js';
import * as m0003 from './0003-device-authorization.js';
import * as m0004 from './0004-consent-ids.js';
import * as m0005 from './0005-client-registrations.js';
import * as m0006 from './0006-refresh-token-owner.js';
import * as m0007 from './0007-replay-and-federated-logout.js';
import * as m0008 from './0008-user-permissions.js';
import * as m0009 from './0009-sign-out-everywhere.js';
import * as m0010 from './0010-origin-index-and-registration-limits.js';
import * as m0012 from './0012-login-transaction-source.js';
import * as m0013 from './0013-revoked-refresh-families.js';
import * as m0014 from './0014-user-search-columns.js';
import * as m0015 from './0015-list-filter-indexes.js';
import * as m0016 from './0016-fold-searched-names.js';
import * as m0017 from './0017-email-prefix-index.js';
import * as m0018 from './0018-roles.js';
import * as m0019 from './0019-jobs.js';
import * as m0020 from './0020-client-system-column.js';
import * as m0021 from './0021-actions.js';
import * as m0022 from './0022-mail.js';
import * as m0023 from './0023-tickets.js';
import * as m0025 from './0025-log-events.js';
import * as m0026 from './0026-log-streams.js';

/** Migrations are compiled in rather than read from disk, so the built CLI needs no source tree. */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '0001-initial': m0001,
      '0002-interactive-sign-in': m0002,
      '0003-device-authorization': m0003,
      '0004-consent-ids': m0004,
      '0005-client-registrations': m0005,
      '0006-refresh-token-owner': m0006,
      '0007-replay-and-federated-logout': m0007,
      '0008-user-permissions': m0008,
      '0009-sign-out-everywhere': m0009,
      '0010-origin-index-and-registration-limits': m0010,
      '0013-revoked-refresh-families': m0013,
      '0012-login-transaction-source': m0012,
      '0014-user-search-columns': m0014,
      '0015-list-filter-indexes': m0015,
      '0016-fold-searched-names': m0016,
      '0017-email-prefix-index': m0017,
      '0018-roles': m0018,
      '0019-jobs': m0019,
      '0020-client-system-column': m0020,
      '0021-actions': m0021,
      '0022-mail': m0022,
      '0023-tickets': m0023,
      '0025-log-events': m0025,
      '0026-log-streams': m0026,
    };
  },
};
