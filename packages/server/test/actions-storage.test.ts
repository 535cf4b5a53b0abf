/**
 * The Actions repository on both backends: version numbers per action, concurrent deploys, pruning
 * of old versions, the deployed-flow join, and a forced delete that unbinds in the same transaction
 * (a failure half-way leaves the action and its bindings as they were).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deleteAction, deployAction, deployedFlow } from '../src/domain/actions.js';
import type { Repositories, Storage } from '../src/storage/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let storage: Storage;

before(async () => {
  server = await startTestServer();
  storage = server.ctx.storage;
});
after(() => server?.close());

const ALL = { kind: 'offset', offset: 0, limit: 100, includeTotal: true } as const;

async function createDeployed(name: string, trigger = 'post-login'): Promise<string> {
  const created = await server.management('POST', '/actions/actions', {
    name,
    supported_triggers: [{ id: trigger }],
    code: `exports.onExecutePostLogin = async () => {}; // ${name}`,
    deploy: true,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

test('concurrent deploys get distinct consecutive numbers', async () => {
  const id = await createDeployed('Raced');
  const deps = { storage, secrets: server.ctx.secrets };
  const versions = await Promise.all(Array.from({ length: 5 }, () => deployAction(deps, id, new Date())));
  assert.deepEqual(
    versions.map((v) => v.number).sort((a, b) => a - b),
    [2, 3, 4, 5, 6],
  );
  const stored = await storage.actions.listVersions(id, ALL);
  assert.equal(stored.total, 6);
  const action = await storage.actions.get(id);
  assert.equal(action?.deployedVersionId, stored.items[0]?.id, 'the newest version is the deployed one');
});

test('old versions are pruned past the limit, never the deployed one', async () => {
  const id = await createDeployed('Pruned');
  const deps = { storage, secrets: server.ctx.secrets, limits: { maxVersionsPerAction: 3 } };
  for (let i = 0; i < 4; i++) await deployAction(deps, id, new Date());
  const kept = await storage.actions.listVersions(id, ALL);
  assert.deepEqual(
    kept.items.map((v) => v.number),
    [5, 4, 3],
  );
  assert.equal((await storage.actions.get(id))?.deployedVersionId, kept.items[0]?.id);
});

test('a forced delete that fails half-way leaves the action and its bindings', async () => {
  const id = await createDeployed('Survivor');
  const bound = await server.management('PATCH', '/actions/triggers/post-login/bindings', {
    bindings: [{ ref: { type: 'action_id', value: id } }],
  });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  const failing: Pick<Storage, 'transaction'> = {
    transaction: (fn) =>
      storage.transaction((tx) => {
        const actions: Repositories['actions'] = Object.create(tx.actions);
        actions.delete = async () => {
          throw new Error('disk full');
        };
        return fn({ ...tx, actions });
      }),
  };
  await assert.rejects(deleteAction({ storage: { ...storage, ...failing } }, id, true), /disk full/);
  assert.ok(await storage.actions.get(id));
  assert.equal(await storage.actions.countBindingsOf(id), 1);
  assert.deepEqual(
    (await deployedFlow(server.ctx, 'post-login')).map((a) => a.id),
    [id],
  );

  await deleteAction({ storage }, id, true);
  assert.equal(await storage.actions.get(id), undefined);
  assert.equal(await storage.actions.countBindingsOf(id), 0);
  assert.equal((await storage.actions.listVersions(id, ALL)).total, 0, 'its versions went with it');
  assert.deepEqual(await deployedFlow(server.ctx, 'post-login'), []);
});
