/**
 * High availability of the orchestrator: two instances campaign through a real 3-node coordinator; one leads.
 * Orders keep settling while the leader is SIGKILLed: the other instance wins the election after the lease TTL,
 * claims a larger fencing token, resumes the unfinished sagas, and every order ends settled with the domain
 * invariants intact. Requests that reach the follower are relayed to the leader.
 */
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendCluster, startBackend } from '../coordinator/backends.js';
import { DomainApi } from '../domain/domain-api.js';
import { type DomainStack, startDomainStack } from '../domain/domain-stack.js';
import { checkInvariants, readSnapshot } from '../domain/invariants.js';

const coordinators = new ProcessGroup();
let stack: DomainStack | undefined;
let cluster: BackendCluster | undefined;

beforeEach(({ onTestFailed }) => {
  coordinators.printLogsOnFailure(onTestFailed);
  onTestFailed(() => stack?.processes.printLogs());
});
afterAll(async () => {
  await stack?.stop();
  await cluster?.stop();
  await coordinators.stopAll();
});

describe.each(BACKENDS)('orchestrator high availability (%s)', (backend) => {
  it('fails over to the other instance through the coordinator election, and every order settles', async () => {
    await stack?.stop();
    await cluster?.stop();
    const backendCluster = await startBackend(backend, coordinators);
    cluster = backendCluster;
    // Each app holds only its own coordinator token (registers only itself; the orchestrator's election).
    const coordination = (service: string) => backendCluster.envFor(service);
    stack = await startDomainStack({
      orchestrator: false,
      env: {
        orders: coordination('orders'),
        inventory: coordination('inventory'),
        payments: coordination('payments'),
      },
    });
    const orchestratorEnv = { ...coordination('orchestrator'), LEADER_LEASE_TTL_SECONDS: '2' };
    const first = await stack.start('orchestrator', { ...orchestratorEnv, INSTANCE_ID: 'orchestrator-a' });
    const second = await stack.start('orchestrator', { ...orchestratorEnv, INSTANCE_ID: 'orchestrator-b' });
    const client = cluster.client();
    const leaderOf = async () => (await client.electionLeader('orchestrator'))?.value;
    const initial = await waitFor(leaderOf, { timeoutMs: 30_000, description: 'an orchestrator leads' });
    const initialTerm = (await client.electionLeader('orchestrator'))?.term ?? 0;

    const api = new DomainApi(
      (service) => stack!.urls[service],
      (service) => stack!.token(service),
    );
    await api.createProduct('ha-widget', 100, 1_000);
    await api.openAccount('ha-customer', 1_000_000);
    const place = (mode: 'saga' | '2pc') =>
      api.placeOrder('ha-customer', [{ sku: 'ha-widget', qty: 1 }], mode, false);
    const placed: string[] = [];
    for (let i = 0; i < 10; i++) placed.push((await place(i % 2 === 0 ? 'saga' : '2pc')).body.orderId);

    // Kill the leader while orders are in flight; keep placing orders through the failover.
    (initial === 'orchestrator-a' ? first : second).process.sigkill();
    for (let i = 0; i < 10; i++) placed.push((await place(i % 2 === 0 ? 'saga' : '2pc')).body.orderId);

    const successor = await waitFor(
      async () => {
        const leader = await client.electionLeader('orchestrator');
        return leader !== null && leader.value !== initial ? leader : undefined;
      },
      { timeoutMs: 30_000, description: 'the other orchestrator leads' },
    );
    expect(successor.term).toBeGreaterThan(initialTerm);

    await waitFor(
      async () => {
        const statuses = await Promise.all(placed.map(async (id) => (await api.order(id)).status));
        return statuses.every((s) => s !== 'PENDING');
      },
      { timeoutMs: 90_000, intervalMs: 500, description: 'every order settled' },
    );
    const statuses = await Promise.all(placed.map(async (id) => (await api.order(id)).status));
    expect(statuses.filter((s) => s === 'CONFIRMED').length).toBe(placed.length);
    const violations = checkInvariants(await readSnapshot(stack.databaseUrls));
    expect(violations).toEqual([]);
    client.close();
  });
});
