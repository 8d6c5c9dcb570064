import { hashKey } from '@concord/hashring';
import { DEFAULT_BREAKER_SETTINGS, FakeClock, HealthTracker } from '@concord/resilience';
import type { ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { ServicePools } from '../upstreams/service-pools.js';
import type { UpstreamInstance } from '../upstreams/static-upstreams.js';
import { Exchange, type ExchangeOutcome } from './exchange.js';

/** What an instance does with a try: answer a status, fail with an error code, or take time first. */
type Behaviour =
  | { readonly status: number; readonly body?: string; readonly afterMs?: number }
  | { readonly error: string; readonly afterMs?: number };

/** The raw handler API the exchange gives undici (onConnect/onHeaders/onData/onComplete/onError). */
interface RawHandler {
  onConnect(abort: (reason?: Error) => void): void;
  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[] | null): void;
  onError(error: Error): void;
}

/** An undici client stand-in: plays the instance's scripted behaviour on the fake clock, through the handler. */
function fakePool(id: string, clock: FakeClock, script: Map<string, Behaviour[]>, calls: string[]): Pool {
  const dispatch = (_options: Dispatcher.DispatchOptions, handler: RawHandler): boolean => {
    calls.push(id);
    const behaviour = script.get(id)?.shift() ?? { status: 200, body: id };
    let aborted = false;
    const abort = (reason?: Error): void => {
      if (aborted) return;
      aborted = true;
      handler.onError(reason ?? new Error('aborted'));
    };
    handler.onConnect(abort);
    const play = (): void => {
      if (aborted) return;
      if ('error' in behaviour) {
        aborted = true;
        handler.onError(Object.assign(new Error(behaviour.error), { code: behaviour.error }));
        return;
      }
      const body = Buffer.from(behaviour.body ?? '');
      const head = [Buffer.from('content-length'), Buffer.from(String(body.length))];
      handler.onHeaders(behaviour.status, head, () => undefined, '');
      if (aborted) return;
      handler.onData(body);
      handler.onComplete(null);
    };
    if (behaviour.afterMs === undefined) queueMicrotask(play);
    else clock.setTimer(behaviour.afterMs, play);
    return true;
  };
  return { dispatch } as unknown as Pool;
}

class FakeResponse {
  status = 0;
  body = '';
  writableFinished = false;
  headersSent = false;
  destroyed = false;
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  write(chunk: Buffer): boolean {
    this.body += chunk.toString();
    return true;
  }
  end(chunk?: Buffer | string): void {
    if (chunk) this.body += chunk.toString();
    this.writableFinished = true;
  }
  once(): this {
    return this;
  }
  off(): this {
    return this;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const instances: UpstreamInstance[] = ['a', 'b', 'c'].map((id, i) => ({
  id,
  url: `http://127.0.0.1:${9100 + i}`,
  weight: 1,
  zone: undefined,
}));

function setup(options: { retryRatio?: number; minRetriesPerSecond?: number; eject?: number } = {}) {
  const clock = new FakeClock(1_000_000);
  const health = new HealthTracker(
    { consecutiveFailuresToEject: options.eject ?? 100, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
    clock,
  );
  const script = new Map<string, Behaviour[]>();
  const calls: string[] = [];
  const pools = new ServicePools<Pool>({
    algorithm: 'ring',
    loadFactor: 1.25,
    health,
    clock,
    breakerSettings: () => ({ ...DEFAULT_BREAKER_SETTINGS, volumeThreshold: 1_000, healthDriven: false }),
    budget: { retryRatio: options.retryRatio ?? 0.2, minRetriesPerSecond: options.minRetriesPerSecond ?? 3 },
    openClient: (instance) => fakePool(instance.id, clock, script, calls),
    closeClient: () => undefined,
  });
  health.onChange((change) => pools.invalidate(change.service));
  pools.setInstances('orders', instances);
  const retries: string[] = [];
  let exhausted = 0;

  async function send(method = 'GET', key = 'k'): Promise<{ outcome: ExchangeOutcome; res: FakeResponse }> {
    const res = new FakeResponse();
    const outcome = await new Promise<ExchangeOutcome>((resolve) => {
      const exchange = new Exchange(
        {
          pools,
          clock,
          recordHealth: (service, id, failed) => health.recordResponse(service, id, failed),
          onRetry: (_route, reason) => retries.push(reason),
          onBudgetExhausted: () => exhausted++,
          onChoice: () => undefined,
          onDone: (_context, result) => resolve(result),
        },
        {
          context: undefined,
          pool: pools.pool('orders')!,
          routeLabel: '/api/orders',
          keyHash: hashKey(key),
          method,
          path: '/x',
          headers: [],
          body: undefined,
          requestId: 'r1',
          deadlineMs: 1_000,
          perTryTimeoutMs: 300,
          maxAttempts: 3,
          uploadAllowanceMs: 0,
        },
        res as unknown as ServerResponse,
      );
      exchange.start();
      void clock.advance(5_000);
    });
    return { outcome, res };
  }
  const owner = (key = 'k') => pools.chooseFor('orders', hashKey(key), undefined, false)!.slot.instance.id;
  return { clock, health, pools, script, calls, retries, send, owner, exhausted: () => exhausted };
}

describe('Exchange (fake clock, fake instances)', () => {
  it('retries an idempotent 503 on the next instance of the key and answers its 200', async () => {
    const t = setup();
    const first = t.owner();
    t.script.set(first, [{ status: 503 }]);
    const { outcome, res } = await t.send();
    expect(outcome.status).toBe(200);
    expect(res.status).toBe(200);
    expect(t.calls[0]).toBe(first);
    expect(t.calls[1]).not.toBe(first);
    expect(t.retries).toEqual(['503']);
  });

  it('answers the last 503 itself when every instance failed', async () => {
    const t = setup();
    for (const i of instances) t.script.set(i.id, [{ status: 503, body: `down ${i.id}` }]);
    const { outcome, res } = await t.send();
    expect(outcome).toMatchObject({ status: 503 });
    expect(outcome.failure).toBeUndefined();
    expect(new Set(t.calls).size).toBe(3);
    expect(res.body).toMatch(/^down /);
  });

  it('does not retry a POST that reached the instance', async () => {
    const t = setup();
    t.script.set(t.owner(), [{ status: 503 }]);
    const { outcome } = await t.send('POST');
    expect(outcome.status).toBe(503);
    expect(t.calls).toHaveLength(1);
  });

  it('retries a POST that never reached an instance (connection refused)', async () => {
    const t = setup();
    t.script.set(t.owner(), [{ error: 'ECONNREFUSED' }]);
    const { outcome } = await t.send('POST');
    expect(outcome.status).toBe(200);
    expect(t.calls).toHaveLength(2);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const t = setup({ retryRatio: 0, minRetriesPerSecond: 0 });
    t.script.set(t.owner(), [{ status: 503 }]);
    const { outcome } = await t.send();
    expect(outcome.status).toBe(503);
    expect(t.calls).toHaveLength(1);
    expect(t.exhausted()).toBe(1);
  });

  it('budget: 20% of requests in the window, at least the minimum per second', async () => {
    const t = setup({ retryRatio: 0.2, minRetriesPerSecond: 0 });
    for (let i = 0; i < 10; i++) await t.send('GET', `ok-${i}`);
    const bad = t.owner('bad');
    t.script.set(bad, [{ status: 503 }, { status: 503 }, { status: 503 }]);
    // 11 requests seen: 2 retries allowed (floor 0.2 x 11), the third is refused.
    for (let i = 0; i < 3; i++) await t.send('GET', 'bad');
    expect(t.retries).toHaveLength(2);
    expect(t.exhausted()).toBe(1);
  });

  it('a try that times out goes to the next instance; past the deadline the answer is 504', async () => {
    const t = setup();
    t.script.set(t.owner(), [{ error: 'UND_ERR_HEADERS_TIMEOUT', afterMs: 300 }]);
    expect((await t.send()).outcome.status).toBe(200);
    expect(t.retries).toEqual(['timeout']);

    const slow = setup();
    for (const i of instances) slow.script.set(i.id, [{ error: 'UND_ERR_HEADERS_TIMEOUT', afterMs: 600 }]);
    const { outcome } = await slow.send();
    // Two tries of 600 ms exceed the 1 s deadline: no third try.
    expect(outcome).toMatchObject({ status: 504, failure: 'timeout' });
    expect(slow.calls).toHaveLength(2);
  });

  it('ejects an instance after consecutive failures and takes it back when the ejection ends', async () => {
    const t = setup({ eject: 2 });
    const first = t.owner();
    t.script.set(first, [{ error: 'ECONNRESET' }, { error: 'ECONNRESET' }]);
    await t.send();
    await t.send();
    expect(t.health.snapshot('orders').find((h) => h.id === first)?.ejected).toBe(true);
    t.calls.length = 0;
    expect((await t.send()).outcome.status).toBe(200);
    expect(t.calls).not.toContain(first);
    await t.clock.advance(30_000);
    t.health.tick();
    t.calls.length = 0;
    await t.send();
    expect(t.calls).toEqual([first]);
  });

  it('a request refused locally (undici would not send it) never counts against the instance', async () => {
    const t = setup({ eject: 1 });
    const first = t.owner();
    t.script.set(first, [{ error: 'UND_ERR_INVALID_ARG' }]);
    const { outcome } = await t.send();
    expect(outcome).toMatchObject({ status: 502, failure: 'upstream' });
    expect(t.calls).toEqual([first]);
    expect(t.health.snapshot('orders').every((h) => !h.ejected && h.consecutiveFailures === 0)).toBe(true);
  });

  it('an upstream status outside 100-599 becomes a 502 and counts against the instance', async () => {
    const t = setup({ eject: 1 });
    const first = t.owner();
    t.script.set(first, [{ status: 700 }]);
    const { outcome, res } = await t.send();
    expect(outcome).toMatchObject({ status: 502, failure: 'upstream' });
    expect(res.headersSent).toBe(false);
    expect(t.health.snapshot('orders').find((h) => h.id === first)?.ejected).toBe(true);
  });
});
