import { Agent, Pool } from 'undici';
import type { UpstreamInstance } from './static-upstreams.js';

export interface UpstreamClientsOptions {
  readonly connectionsPerInstance: number;
  readonly keepAliveMs: number;
  readonly connectTimeoutMs: number;
}

/**
 * One undici Pool of keep-alive connections per upstream instance, created when the instance joins and closed
 * when it leaves. Health probes use a separate small agent, so that a probe never queues behind a pool whose
 * connections are all stuck on a stalled instance.
 */
export class UpstreamClients {
  private readonly pools = new Map<string, { url: string; pool: Pool }>();
  readonly probeAgent: Agent;

  constructor(private readonly options: UpstreamClientsOptions) {
    this.probeAgent = new Agent({
      connections: 2,
      keepAliveTimeout: options.keepAliveMs,
      connect: { timeout: options.connectTimeoutMs },
    });
  }

  /** The pool of `key` (service/id) for `instance`, replaced when the instance's URL changed. */
  pool(key: string, instance: UpstreamInstance): Pool {
    const existing = this.pools.get(key);
    if (existing && existing.url === instance.url) return existing.pool;
    if (existing) void existing.pool.close().catch(() => undefined);
    const pool = new Pool(instance.url, {
      connections: this.options.connectionsPerInstance,
      pipelining: 1,
      keepAliveTimeout: this.options.keepAliveMs,
      connect: { timeout: this.options.connectTimeoutMs },
    });
    this.pools.set(key, { url: instance.url, pool });
    return pool;
  }

  /** Closes the pool of an instance that left; requests in flight finish first. */
  remove(key: string): void {
    const existing = this.pools.get(key);
    if (!existing) return;
    this.pools.delete(key);
    void existing.pool.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([
      ...pools.map((p) => p.pool.destroy().catch(() => undefined)),
      this.probeAgent.destroy().catch(() => undefined),
    ]);
  }
}
