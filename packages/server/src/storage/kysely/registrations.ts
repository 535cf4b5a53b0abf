import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { RegistrationRepository } from '../types.js';

export class KyselyRegistrations implements RegistrationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async putTokenDigest(clientId: string, digest: string): Promise<void> {
    await this.db
      .insertInto('client_registrations')
      .values({ client_id: clientId, token_digest: digest })
      .onConflict((oc) => oc.column('client_id').doUpdateSet({ token_digest: digest }))
      .execute();
  }

  async getTokenDigest(clientId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('client_registrations')
      .select('token_digest')
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row?.token_digest;
  }

  async delete(clientId: string): Promise<void> {
    await this.db.deleteFrom('client_registrations').where('client_id', '=', clientId).execute();
  }
}
