import type { Kysely } from 'kysely';
import type { EmailTemplateRecord } from '../../mail/types.js';
import type { Database } from '../schema.js';
import type { EmailTemplateRepository } from '../types.js';
import { insertUnlessTaken } from './shared.js';

export class KyselyEmailTemplates implements EmailTemplateRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(name: string): Promise<EmailTemplateRecord | undefined> {
    const row = await this.db.selectFrom('email_templates').select('data').where('name', '=', name).executeTakeFirst();
    return row && (JSON.parse(row.data) as EmailTemplateRecord);
  }

  insert(template: EmailTemplateRecord): Promise<boolean> {
    return insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('email_templates')
        .values({ name: template.template, data: JSON.stringify(template) })
        .execute(),
    );
  }

  async update(template: EmailTemplateRecord): Promise<boolean> {
    const result = await this.db
      .updateTable('email_templates')
      .set({ data: JSON.stringify(template) })
      .where('name', '=', template.template)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
