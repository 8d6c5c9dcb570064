/**
 * The coordination contract, run against both backends through the same port (`Coordination`): Concord's
 * coordinator (3 processes) and a real 3-member etcd. Whatever a service, the gateway or the orchestrator relies
 * on is asserted here: revisions, CAS, transactions, watches from a revision, leases and keep-alive, FIFO locks
 * with increasing fencing tokens, elections, the registry, shared configuration, and the errors callers handle.
 */
import {
  type Coordination,
  CoordinatorHttpError,
  LeaseKeeper,
  ServiceRegistration,
  SharedConfig,
  type WatchEvent,
} from '@concord/coordination-client';
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendCluster, startBackend } from './backends.js';

describe.each(BACKENDS)('coordination contract on %s', (backend) => {
  const group = new ProcessGroup();
  let cluster: BackendCluster;
  let client: Coordination;
  /** A fresh key prefix per test, so tests do not see each other's keys. */
  let ns: string;
  let counter = 0;

  beforeAll(async () => {
    cluster = await startBackend(backend, group);
    // The contract is the behaviour both backends share; who may do what is Concord's own (roles.spec.ts, api
    // tests), so this client may do everything: config/ writes and any service's registration.
    client = cluster.client({ admin: true });
  });
  beforeEach(({ onTestFailed }) => {
    group.printLogsOnFailure(onTestFailed);
    ns = `t${++counter}-${backend}/`;
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    await group.stopAll();
  });

  const status = (promise: Promise<unknown>) =>
    promise.then(
      () => 'resolved',
      (error: unknown) => (error instanceof CoordinatorHttpError ? error.status : String(error)),
    );

  it('keeps revisions per key and one global revision', async () => {
    const a = await client.put(`${ns}a`, '1');
    const b = await client.put(`${ns}b`, '1');
    expect(b.revision).toBeGreaterThan(a.revision);
    const again = await client.put(`${ns}a`, '2');
    const kv = await client.get(`${ns}a`);
    expect(kv).toMatchObject({
      key: `${ns}a`,
      value: '2',
      createRevision: a.revision,
      modRevision: again.revision,
    });
    expect(kv?.version).toBe(2);
    expect(await client.get(`${ns}missing`)).toBeNull();
    expect((await client.get(`${ns}a`, { serializable: true }))?.value).toBeDefined();
  });

  it('compares and sets with prevRevision (0 = must not exist), answering 409 with the current modRevision', async () => {
    const created = await client.put(`${ns}cas`, 'v1', { prevRevision: 0 });
    const refused = await client.put(`${ns}cas`, 'v2', { prevRevision: 0 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CoordinatorHttpError);
    expect((refused as CoordinatorHttpError).status).toBe(409);
    expect((refused as CoordinatorHttpError).body.modRevision).toBe(created.revision);
    const updated = await client.put(`${ns}cas`, 'v2', { prevRevision: created.revision });
    expect(await status(client.put(`${ns}cas`, 'v3', { prevRevision: created.revision }))).toBe(409);
    expect(await status(client.delete(`${ns}cas`, { prevRevision: created.revision }))).toBe(409);
    const deleted = await client.delete(`${ns}cas`, { prevRevision: updated.revision });
    expect(deleted.deleted).toBe(1);
    expect((await client.delete(`${ns}cas`)).deleted).toBe(0);
  });

  it('lists a prefix with a limit, and as of a past revision', async () => {
    const first = await client.put(`${ns}list/1`, 'old');
    await client.put(`${ns}list/2`, 'x');
    await client.put(`${ns}list/3`, 'x');
    await client.put(`${ns}list/1`, 'new');
    await client.put(`${ns}listed-not`, 'x');
    const page = await client.range(`${ns}list/`, { limit: 2 });
    expect(page.items.map((kv) => kv.key)).toEqual([`${ns}list/1`, `${ns}list/2`]);
    expect(page.more).toBe(true);
    const all = await client.range(`${ns}list/`);
    expect(all.items).toHaveLength(3);
    expect(all.more).toBe(false);
    const past = await client.range(`${ns}list/`, { revision: first.revision });
    expect(past.items.map((kv) => kv.value)).toEqual(['old']);
  });

  it('runs transactions atomically, with the branch chosen by the compares', async () => {
    const flag = `${ns}flag`;
    const won = await client.txn({
      compare: [{ key: flag, target: 'version', op: '=', value: 0 }],
      success: [{ put: { key: flag, value: 'on' } }, { put: { key: `${ns}other`, value: 'x' } }],
      failure: [{ get: { key: flag } }],
    });
    expect(won.succeeded).toBe(true);
    expect(won.responses).toEqual([{ put: { revision: won.revision } }, { put: { revision: won.revision } }]);
    const lost = await client.txn({
      compare: [{ key: flag, target: 'version', op: '=', value: 0 }],
      success: [{ put: { key: flag, value: 'twice' } }],
      failure: [{ get: { key: flag } }, { delete: { key: `${ns}other` } }],
    });
    expect(lost.succeeded).toBe(false);
    expect(lost.responses[0]).toMatchObject({ get: { key: flag, value: 'on', modRevision: won.revision } });
    expect(lost.responses[1]).toEqual({ delete: { deleted: 1 } });
    const byValue = await client.txn({
      compare: [{ key: flag, target: 'value', op: '=', value: 'on' }],
      success: [{ get: { key: `${ns}nothing` } }],
    });
    expect(byValue).toMatchObject({ succeeded: true, responses: [{ get: null }] });
  });

  it('watches from a past revision: history then live changes, each once, in order', async () => {
    const start = await client.put(`${ns}w/a`, '1');
    await client.put(`${ns}w/b`, '1');
    await client.delete(`${ns}w/a`);
    const seen: WatchEvent[] = [];
    const watch = client.watch(
      { prefix: `${ns}w/` },
      { fromRevision: start.revision, onEvent: (e) => seen.push(e) },
    );
    await waitFor(() => seen.length >= 3, { timeoutMs: 10_000, description: 'history replayed' });
    await client.put(`${ns}w/c`, '1');
    await client.put(`${ns}elsewhere`, '1');
    await waitFor(() => seen.length >= 4, { timeoutMs: 10_000, description: 'live change delivered' });
    watch.stop();
    expect(seen.map((e) => `${e.type} ${e.kv.key.slice(ns.length)}`)).toEqual([
      'put w/a',
      'put w/b',
      'delete w/a',
      'put w/c',
    ]);
    const revisions = seen.map((e) => e.revision);
    expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
    expect(revisions[0]).toBe(start.revision);
    expect(watch.lastRevision).toBe(revisions.at(-1));
  });

  it('watches one key without seeing its neighbours', async () => {
    const seen: string[] = [];
    const watch = client.watch({ key: `${ns}one` }, { onEvent: (e) => seen.push(`${e.type}:${e.kv.value}`) });
    // A watch without fromRevision starts at "now": wait until it is connected before writing.
    await waitFor(
      async () => {
        await client.put(`${ns}one`, 'probe');
        return seen.length > 0;
      },
      { timeoutMs: 10_000, intervalMs: 200, description: 'watch connected' },
    );
    await client.put(`${ns}one-more`, 'no');
    await client.put(`${ns}one`, 'yes');
    await waitFor(() => seen.includes('put:yes'), { timeoutMs: 10_000 });
    watch.stop();
    // Probes still in flight when the watch connected may arrive too; the neighbour never does.
    expect(seen.filter((s) => s !== 'put:probe')).toEqual(['put:yes']);
  });

  it('grants leases, keeps them alive, and deletes their keys on revoke and on expiry', async () => {
    const lease = await client.grantLease(30);
    expect(lease.ttlSeconds).toBe(30);
    await client.put(`${ns}leased`, 'x', { lease: lease.id });
    expect((await client.get(`${ns}leased`))?.lease).toBe(lease.id);
    expect(await client.keepAlive(lease.id)).toBe(30);
    await client.revokeLease(lease.id);
    expect(await client.get(`${ns}leased`)).toBeNull();
    expect(await client.keepAlive(lease.id)).toBeNull();
    await client.revokeLease(lease.id);

    const short = await client.grantLease(1);
    await client.put(`${ns}short`, 'x', { lease: short.id });
    await waitFor(async () => (await client.get(`${ns}short`)) === null, {
      timeoutMs: 15_000,
      intervalMs: 200,
      description: 'the key of an expired lease is deleted',
    });
    expect(await client.keepAlive(short.id)).toBeNull();
    expect(await status(client.put(`${ns}orphan`, 'x', { lease: short.id }))).toBe(404);
  });

  it('keeps a lease alive with LeaseKeeper past its TTL', async () => {
    const keeper = await LeaseKeeper.grant(client, 1);
    await client.put(`${ns}kept`, 'x', { lease: keeper.id });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(keeper.isLost()).toBe(false);
    expect(await client.get(`${ns}kept`)).not.toBeNull();
    await keeper.stop(true);
    expect(await client.get(`${ns}kept`)).toBeNull();
  });

  it('serves a lock in FIFO order with strictly increasing fencing tokens, and times out a waiter', async () => {
    const name = `${ns.slice(0, -1)}-lock`;
    const [a, b, c] = await Promise.all([
      client.grantLease(30),
      client.grantLease(30),
      client.grantLease(30),
    ]);
    const first = await client.lock(name, a.id);
    // A retried lock call with the same lease finds its own place in line: same key, same token.
    expect(await client.lock(name, a.id)).toEqual(first);
    let secondHeld = false;
    const second = client.lock(name, b.id, 20_000).then((held) => {
      secondHeld = true;
      return held;
    });
    expect(await status(client.lock(name, c.id, 300))).toBe(408);
    await new Promise((r) => setTimeout(r, 300));
    expect(secondHeld).toBe(false);
    await client.unlock(name, first.key);
    const next = await second;
    expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
    // The lock is lost with the lease: revoking it lets the next one in.
    const third = client.lock(name, c.id, 20_000);
    await client.revokeLease(b.id);
    expect((await third).fencingToken).toBeGreaterThan(next.fencingToken);
    await Promise.all([a, c].map((l) => client.revokeLease(l.id)));
  });

  it('elects one leader at a time, with a larger term after each handover', async () => {
    const name = `${ns.slice(0, -1)}-election`;
    expect(await client.electionLeader(name)).toBeNull();
    const [a, b] = await Promise.all([client.grantLease(30), client.grantLease(30)]);
    const won = await client.campaign(name, a.id, 'candidate-a');
    const waiting = client.campaign(name, b.id, 'candidate-b', 20_000);
    expect(await client.electionLeader(name)).toMatchObject({
      key: won.key,
      value: 'candidate-a',
      term: won.term,
    });
    await client.resign(name, won.key);
    const successor = await waiting;
    expect(successor.term).toBeGreaterThan(won.term);
    expect((await client.electionLeader(name))?.value).toBe('candidate-b');
    await Promise.all([a, b].map((l) => client.revokeLease(l.id)));
    expect(await client.electionLeader(name)).toBeNull();
  });

  it('keeps the service registry: register under a lease, list, re-register when the lease is lost, deregister', async () => {
    const service = `svc${counter}`;
    const events: string[] = [];
    const registration = new ServiceRegistration(
      client,
      { service, instanceId: 'i-1', url: 'http://127.0.0.1:9001', zone: 'z1', weight: 2 },
      2,
      (m) => events.push(m),
    );
    registration.start();
    await waitFor(async () => (await client.services(service)).instances.length === 1, { timeoutMs: 10_000 });
    const listed = await client.services(service);
    expect(listed.instances[0]).toMatchObject({
      id: 'i-1',
      url: 'http://127.0.0.1:9001',
      zone: 'z1',
      weight: 2,
    });
    const lease = listed.instances[0]?.lease ?? '';
    expect(lease).not.toBe('');
    // Someone revokes the lease (as an expiry would): the instance registers again under a new one.
    await client.revokeLease(lease);
    await waitFor(
      async () => {
        const again = (await client.services(service)).instances[0];
        return again !== undefined && again.lease !== lease;
      },
      { timeoutMs: 15_000, intervalMs: 200, description: 're-registered under a new lease' },
    );
    await registration.stop();
    expect((await client.services(service)).instances).toEqual([]);
    expect(await status(client.register(service, 'bad id', { url: 'http://x' }, lease))).toBe(400);
  });

  it('follows shared configuration under a prefix', async () => {
    await client.put(`config/${ns}limit`, '5');
    const config = new SharedConfig(client, `config/${ns}`);
    await config.start();
    expect(config.getNumber('limit', 1)).toBe(5);
    const changes: string[] = [];
    config.onChange((key, value) => changes.push(`${key.slice(`config/${ns}`.length)}=${value}`));
    await client.put(`config/${ns}flag`, 'on');
    await client.delete(`config/${ns}limit`);
    await waitFor(() => changes.length >= 2, { timeoutMs: 10_000, description: 'changes followed' });
    expect(config.getFlag('flag', false)).toBe(true);
    expect(config.getNumber('limit', 1)).toBe(1);
    expect(changes).toEqual(['flag=on', 'limit=undefined']);
    config.stop();
  });
});
