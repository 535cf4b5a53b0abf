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

test('parallel deploys and parallel replacements of a flow all succeed, one after the other', async () => {
  const ids = [await createDeployed('Parallel A'), await createDeployed('Parallel B')];
  // Without a lock PostgreSQL let these race: deploys for one version number (409 after the retries ran
  // out), flow replacements for the same positions (a unique violation: 500).
  const deploys = await Promise.all(Array.from({ length: 20 }, () => server.management('POST', `/actions/actions/${ids[0]}/deploy`)));
  assert.deepEqual(
    deploys.map((d) => d.status),
    Array(20).fill(202),
    JSON.stringify(deploys.find((d) => d.status !== 202)?.body),
  );
  assert.deepEqual(
    deploys.map((d) => d.body.number).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i + 2),
  );
  const flows = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? ids : [...ids].reverse()));
  const replaced = await Promise.all(
    flows.map((flow) =>
      server.management('PATCH', '/actions/triggers/post-login/bindings', {
        bindings: flow.map((value) => ({ ref: { type: 'action_id', value } })),
      }),
    ),
  );
  assert.deepEqual(
    replaced.map((r) => r.status),
    Array(10).fill(200),
    JSON.stringify(replaced.find((r) => r.status !== 200)?.body),
  );
  const flow = (await storage.actions.listBindings('post-login', ALL)).items.map((b) => b.action_id);
  assert.equal(flow.length, 2, 'one of the flows, whole');
  assert.deepEqual([...flow].sort(), [...ids].sort());
  assert.equal((await server.management('PATCH', '/actions/triggers/post-login/bindings', { bindings: [] })).status, 200);
});

test('draft changes made during deploys never undo one: the newest version stays the deployed one', async () => {
  const id = await createDeployed('Patched while deployed');
  // A PATCH used to write the draft back with the deployed version it had read: PostgreSQL ended this
  // with version 1 or 2 deployed and version 11 the newest.
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => [
      server.management('POST', `/actions/actions/${id}/deploy`),
      server.management('PATCH', `/actions/actions/${id}`, { code: `exports.onExecutePostLogin = async () => {}; // edit ${i}` }),
    ]).flat(),
  );
  assert.deepEqual(
    results.map((r) => r.status),
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 202 : 200)),
  );
  const newest = (await storage.actions.listVersions(id, ALL)).items[0];
  assert.equal(newest?.number, 11);
  assert.equal((await storage.actions.get(id))?.deployedVersionId, newest?.id);
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
