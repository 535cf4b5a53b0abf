import type { Kysely } from 'kysely';
import type { EmailProviderRecord } from '../../mail/types.js';
import type { Database } from '../schema.js';
import type { EmailProviderRepository } from '../types.js';
import { insertUnlessTaken } from './shared.js';

/** Auth0 has one provider per tenant: one row under a fixed id, so a second insert is a unique violation (409). */
const ID = 'default';

export class KyselyEmailProvider implements EmailProviderRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(): Promise<EmailProviderRecord | undefined> {
    const row = await this.db.selectFrom('email_provider').select('data').where('id', '=', ID).executeTakeFirst();
    return row && (JSON.parse(row.data) as EmailProviderRecord);
  }

  insert(provider: EmailProviderRecord): Promise<boolean> {
    return insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('email_provider')
        .values({ id: ID, data: JSON.stringify(provider) })
        .execute(),
    );
  }

  async update(provider: EmailProviderRecord): Promise<boolean> {
    const result = await this.db
      .updateTable('email_provider')
      .set({ data: JSON.stringify(provider) })
      .where('id', '=', ID)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(): Promise<boolean> {
    const result = await this.db.deleteFrom('email_provider').where('id', '=', ID).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
