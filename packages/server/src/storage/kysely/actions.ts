import { type Kysely, sql } from 'kysely';
import type { ActionListFilter, ActionRecord, ActionVersionRecord, BindingRecord, DeployedFlowRow } from '../../domain/action-types.js';
import type { TriggerId } from '../../domain/actions.js';
import type { Page, PageRequest } from '../../domain/types.js';
import type { Database } from '../schema.js';
import type { ActionRepository, ChangePublisher } from '../types.js';
import { insertUnlessTaken } from './shared.js';

/** What `data` holds: the record less its columns. */
type ActionData = Omit<ActionRecord, 'id' | 'name' | 'deployedVersionId' | 'created_at'>;
type VersionData = Omit<ActionVersionRecord, 'id' | 'action_id' | 'number' | 'created_at'>;

type ActionRow = Database['actions'];
type VersionRow = Database['action_versions'];

const toAction = (row: ActionRow): ActionRecord => ({
  ...(JSON.parse(row.data) as ActionData),
  id: row.id,
  name: row.name,
  deployedVersionId: row.deployed_version_id,
  created_at: row.created_at,
});

function actionData(action: ActionRecord): string {
  const { id: _id, name: _name, deployedVersionId: _deployed, created_at: _created, ...data } = action;
  return JSON.stringify(data satisfies ActionData);
}

const toVersion = (row: VersionRow): ActionVersionRecord => ({
  ...(JSON.parse(row.data) as VersionData),
  id: row.id,
  action_id: row.action_id,
  number: Number(row.number),
  created_at: row.created_at,
});

export class KyselyActions implements ActionRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly changes: ChangePublisher,
  ) {}

  async get(id: string): Promise<ActionRecord | undefined> {
    const row = await this.db.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAction(row);
  }

  async lock(id: string): Promise<ActionRecord | undefined> {
    const query = this.db.selectFrom('actions').selectAll().where('id', '=', id);
    // FOR UPDATE: a parallel deploy of the action waits for this one, rather than racing it for the
    // next version number. SQLite runs one transaction at a time on latchkey's single connection.
    const row = await (this.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
    return row && toAction(row);
  }

  async lockFlow(trigger: TriggerId): Promise<void> {
    // A flow has no row of its own to lock: two replacements of it would both delete nothing the other
    // can see and then collide on the positions they insert (a unique violation, a 500). PostgreSQL
    // serialises them on a transaction-scoped advisory lock; on SQLite the transaction is the lock.
    if (this.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.action_bindings.' || ${trigger}))`.execute(this.db);
    }
  }

  async getByName(name: string): Promise<ActionRecord | undefined> {
    const row = await this.db.selectFrom('actions').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toAction(row);
  }

  async list(filter: ActionListFilter, page: PageRequest & { kind: 'offset' }): Promise<Page<ActionRecord>> {
    let query = this.db.selectFrom('actions');
    if (filter.triggerId !== undefined) query = query.where('trigger_id', '=', filter.triggerId);
    if (filter.name !== undefined) query = query.where('name', '=', filter.name);
    if (filter.deployed !== undefined) query = query.where('deployed_version_id', filter.deployed ? 'is not' : 'is', null);
    const rows = await query.selectAll().orderBy('created_at').orderBy('id').limit(page.limit).offset(page.offset).execute();
    if (!page.includeTotal) return { items: rows.map(toAction) };
    const total = await query.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items: rows.map(toAction), total: Number(total.n) };
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('actions').select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  insert(action: ActionRecord): Promise<boolean> {
    return insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('actions')
        .values({
          id: action.id,
          name: action.name,
          trigger_id: action.trigger.id,
          deployed_version_id: action.deployedVersionId,
          data: actionData(action),
          created_at: action.created_at,
        })
        .execute(),
    );
  }

  async update(action: ActionRecord): Promise<boolean | 'conflict'> {
    let updated = false;
    const done = await insertUnlessTaken(this.db, async () => {
      const result = await this.db
        .updateTable('actions')
        .set({
          name: action.name,
          trigger_id: action.trigger.id,
          deployed_version_id: action.deployedVersionId,
          data: actionData(action),
        })
        .where('id', '=', action.id)
        .executeTakeFirst();
      updated = result.numUpdatedRows > 0n;
    });
    if (!done) return 'conflict';
    // A deploy or a rename changes what the trigger runs, if the action is bound there.
    if (updated) await this.changes.publish('action_flow', action.trigger.id);
    return updated;
  }

  async delete(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('actions').select('trigger_id').where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    await this.db.deleteFrom('action_versions').where('action_id', '=', id).execute();
    const result = await this.db.deleteFrom('actions').where('id', '=', id).executeTakeFirst();
    await this.changes.publish('action_flow', row.trigger_id);
    return result.numDeletedRows > 0n;
  }

  async insertVersion(version: Omit<ActionVersionRecord, 'number'>): Promise<ActionVersionRecord | undefined> {
    const last = await this.db
      .selectFrom('action_versions')
      .select(sql<number | string | null>`max(number)`.as('n'))
      .where('action_id', '=', version.action_id)
      .executeTakeFirst();
    const record: ActionVersionRecord = { ...version, number: Number(last?.n ?? 0) + 1 };
    const { id, action_id, number, created_at, ...data } = record;
    const inserted = await insertUnlessTaken(this.db, () =>
      this.db
        .insertInto('action_versions')
        .values({ id, action_id, number, created_at, data: JSON.stringify(data satisfies VersionData) })
        .execute(),
    );
    return inserted ? record : undefined;
  }

  async getVersion(actionId: string, versionId: string): Promise<ActionVersionRecord | undefined> {
    const row = await this.db
      .selectFrom('action_versions')
      .selectAll()
      .where('id', '=', versionId)
      .where('action_id', '=', actionId)
      .executeTakeFirst();
    return row && toVersion(row);
  }

  async pruneVersions(actionId: string, upToNumber: number): Promise<void> {
    if (upToNumber < 1) return;
    await this.db.deleteFrom('action_versions').where('action_id', '=', actionId).where('number', '<=', upToNumber).execute();
  }

  async listVersions(actionId: string, page: PageRequest & { kind: 'offset' }): Promise<Page<ActionVersionRecord>> {
    const query = this.db.selectFrom('action_versions').where('action_id', '=', actionId);
    const rows = await query.selectAll().orderBy('number', 'desc').limit(page.limit).offset(page.offset).execute();
    if (!page.includeTotal) return { items: rows.map(toVersion) };
    const total = await query.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items: rows.map(toVersion), total: Number(total.n) };
  }

  async listBindings(trigger: TriggerId, page: PageRequest & { kind: 'offset' }): Promise<Page<BindingRecord>> {
    const query = this.db.selectFrom('action_bindings').where('trigger_id', '=', trigger);
    const rows = await query
      .select(['id', 'trigger_id', 'action_id', 'display_name', 'created_at', 'updated_at'])
      .orderBy('position')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    const items = rows.map((r) => ({ ...r, trigger_id: r.trigger_id as TriggerId }));
    if (!page.includeTotal) return { items };
    const total = await query.select(sql<string | number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { items, total: Number(total.n) };
  }

  async replaceBindings(trigger: TriggerId, bindings: BindingRecord[]): Promise<void> {
    await this.db.deleteFrom('action_bindings').where('trigger_id', '=', trigger).execute();
    if (bindings.length > 0) {
      await this.db
        .insertInto('action_bindings')
        .values(
          bindings.map((b, position) => ({
            trigger_id: trigger,
            position,
            id: b.id,
            action_id: b.action_id,
            display_name: b.display_name,
            created_at: b.created_at,
            updated_at: b.updated_at,
          })),
        )
        .execute();
    }
    await this.changes.publish('action_flow', trigger);
  }

  async countBindingsOf(actionId: string): Promise<number> {
    const row = await this.db
      .selectFrom('action_bindings')
      .select(sql<string | number>`count(*)`.as('n'))
      .where('action_id', '=', actionId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async removeBindingsOf(actionId: string): Promise<void> {
    const triggers = await this.db
      .selectFrom('action_bindings')
      .select('trigger_id')
      .distinct()
      .where('action_id', '=', actionId)
      .execute();
    if (triggers.length === 0) return;
    await this.db.deleteFrom('action_bindings').where('action_id', '=', actionId).execute();
    for (const { trigger_id } of triggers) await this.changes.publish('action_flow', trigger_id);
  }

  async deployedFlow(trigger: TriggerId): Promise<DeployedFlowRow[]> {
    const rows = await this.db
      .selectFrom('action_bindings as b')
      .innerJoin('actions as a', 'a.id', 'b.action_id')
      .innerJoin('action_versions as v', 'v.id', 'a.deployed_version_id')
      .select(['a.id as actionId', 'a.name as name', 'v.id as versionId', 'v.data as data'])
      .where('b.trigger_id', '=', trigger)
      .orderBy('b.position')
      .execute();
    return rows.map((row) => {
      const data = JSON.parse(row.data) as VersionData;
      return {
        actionId: row.actionId,
        name: row.name,
        versionId: row.versionId,
        code: data.code,
        runtime: data.runtime,
        secrets: data.secrets,
      };
    });
  }
}
