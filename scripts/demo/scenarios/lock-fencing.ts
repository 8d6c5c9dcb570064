import { type DemoContext, field, http } from '../context.js';
import { FencedResource } from '../fenced-resource.js';

const leaseTtlASeconds = 2;
const leaseTtlBSeconds = 30;
const lockWaitMs = 20_000;

/**
 * Why a lock needs a fencing token: client A takes the lock, then pauses (no keep-alive) past its lease; the lease
 * expires and B gets the lock with a larger token. When A wakes up and writes, believing it still holds the lock,
 * the resource refuses its stale token.
 */
export async function lockFencing(ctx: DemoContext): Promise<void> {
  const { narrator: n, stack } = ctx;
  const c = stack.coordinatorUrls[0] ?? '';
  const token = stack.coordinatorToken;
  const lock = `demo-fencing-${ctx.runId}`;
  const resource = new FencedResource();

  n.step(`client A takes lock ${lock} under a ${leaseTtlASeconds} s lease`);
  const leaseA = await http(`${c}/v1/leases`, {
    method: 'POST',
    token,
    body: { ttlSeconds: leaseTtlASeconds },
  });
  const leaseAId = field(leaseA.body, 'id');
  if (leaseA.status !== 201 || typeof leaseAId !== 'string') {
    n.check('a lease is granted', false, `POST /v1/leases answered ${leaseA.status}`);
    return;
  }
  const lockA = await http(`${c}/v1/locks/${lock}`, {
    method: 'POST',
    token,
    body: { lease: leaseAId, waitMs: 5_000 },
  });
  const tokenA = Number(field(lockA.body, 'fencingToken'));
  if (lockA.status !== 200 && lockA.status !== 201) {
    n.check('client A acquires the lock', false, `answered ${lockA.status}`);
    return;
  }
  n.say(`A holds the lock: key ${String(field(lockA.body, 'key'))}, fencing token ${tokenA}`);
  const firstWrite = resource.write(tokenA, 'written by A');
  n.say(`A writes to the resource with token ${tokenA}: ${firstWrite.accepted ? 'accepted' : 'refused'}`);

  n.step('A pauses (a GC pause, SIGSTOP, a partition): it sends no keep-alive');
  n.say(`client B asks for the same lock under a ${leaseTtlBSeconds} s lease and waits`);
  const leaseB = await http(`${c}/v1/leases`, {
    method: 'POST',
    token,
    body: { ttlSeconds: leaseTtlBSeconds },
  });
  const leaseBId = String(field(leaseB.body, 'id'));
  const waitStartMs = n.elapsedMs();
  const lockB = await http(`${c}/v1/locks/${lock}`, {
    method: 'POST',
    token,
    body: { lease: leaseBId, waitMs: lockWaitMs },
    timeoutMs: lockWaitMs + 5_000,
  });
  const tokenB = Number(field(lockB.body, 'fencingToken'));
  const gotB = lockB.status === 200 || lockB.status === 201;
  n.say(
    gotB
      ? `A's lease expired; B holds the lock after ${n.elapsedMs() - waitStartMs} ms: fencing token ${tokenB}`
      : `B did not get the lock: ${lockB.status}`,
  );
  const leaseAAfter = await http(`${c}/v1/leases/${leaseAId}`, { token });
  n.say(`GET /v1/leases/${leaseAId} → ${leaseAAfter.status} (A's lease is gone, and its lock key with it)`);

  const writeB = gotB ? resource.write(tokenB, 'written by B') : { accepted: false, highestToken: 0 };
  n.say(`B writes with token ${tokenB}: ${writeB.accepted ? 'accepted' : 'refused'}`);

  n.step('A wakes up, still believing it holds the lock, and writes');
  const staleWrite = resource.write(tokenA, 'stale write by A');
  n.say(
    `A writes with token ${tokenA}: ${staleWrite.accepted ? 'ACCEPTED (the resource would be corrupted)' : `refused: ${tokenA} < ${staleWrite.highestToken}, the largest token seen`}`,
  );

  n.check("B acquired the lock once A's lease expired", gotB, `after ${n.elapsedMs() - waitStartMs} ms`);
  n.check(
    "A's lease expired without keep-alives",
    leaseAAfter.status === 404,
    `GET lease → ${leaseAAfter.status}`,
  );
  n.check("B's fencing token is larger than A's", gotB && tokenB > tokenA, `${tokenA} → ${tokenB}`);
  n.check("the resource refused A's stale token", !staleWrite.accepted);
  n.check("the resource holds B's write", resource.value === 'written by B', String(resource.value));

  await http(`${c}/v1/leases/${leaseBId}`, { method: 'DELETE', token });
  n.say("B's lease revoked: the lock is free again");
}
