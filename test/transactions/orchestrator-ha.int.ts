/**
 * High availability of the orchestrator: two instances campaign through a real 3-node coordinator; one leads.
 * Orders keep settling while the leader is SIGKILLed: the other instance wins the election after the lease TTL,
 * claims a larger fencing token, resumes the unfinished sagas, and every order ends settled with the domain
 * invariants intact. Requests that reach the follower are relayed to the leader.
 */
import { CoordinationClient } from '@concord/coordination-client';
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_TOKEN, startCoordinatorCluster } from '../coordinator/cluster.js';
import { DomainApi } from '../domain/domain-api.js';
import { type DomainStack, startDomainStack } from '../domain/domain-stack.js';
import { checkInvariants, readSnapshot } from '../domain/invariants.js';

const coordinators = new ProcessGroup();
let stack: DomainStack | undefined;

beforeEach(({ onTestFailed }) => {
  coordinators.printLogsOnFailure(onTestFailed);
  onTestFailed(() => stack?.processes.printLogs());
});
afterAll(async () => {
  await stack?.stop();
  await coordinators.stopAll();
});

describe('orchestrator high availability', () => {
  it('fails over to the other instance through the coordinator election, and every order settles', async () => {
    const cluster = await startCoordinatorCluster(coordinators, 3);
    const coordination = { COORDINATOR_URLS: cluster.urls.join(','), COORDINATOR_TOKEN: CLIENT_TOKEN };
    stack = await startDomainStack({
      orchestrator: false,
      env: { orders: coordination, inventory: coordination, payments: coordination },
    });
    const orchestratorEnv = { ...coordination, LEADER_LEASE_TTL_SECONDS: '2' };
    const first = await stack.start('orchestrator', { ...orchestratorEnv, INSTANCE_ID: 'orchestrator-a' });
    const second = await stack.start('orchestrator', { ...orchestratorEnv, INSTANCE_ID: 'orchestrator-b' });
    const client = new CoordinationClient({ urls: cluster.urls, token: CLIENT_TOKEN });
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
