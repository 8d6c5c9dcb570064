import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { findNatsServer, natsGreets } from './nats.js';
import { freePort } from './ports.js';
import { startProcess, type ProcessHandle } from './process.js';
import { registerStopper, registerTempDir } from './registry.js';

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Servers in the cluster. Default 3 (JetStream replicas 3 survive the loss of one). */
  nodes?: number;
  /** The `nats-server` executable. Default: found like {@link findNatsServer}. */
  binary?: string;
  /** Readiness deadline of the whole cluster. Default 30 s. */
  startTimeoutMs?: number;
  onLine?: (line: string) => void;
}

/** One server of a private NATS cluster. */
export interface NatsClusterNode {
  readonly name: string;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The server process: SIGKILL it to lose a node, `restart()` to bring it back with its store. */
  readonly process: ProcessHandle;
}

export interface NatsClusterHandle {
  readonly nodes: readonly NatsClusterNode[];
  /** Every client URL, comma-separated: what NATS_URL takes. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts a NATS cluster with JetStream on loopback: `nodes` servers, each with a client, a cluster (route) and a
 * monitoring port and its own store dir, routed to every other. Ready when each server answers
 * `/healthz?js-enabled-only=true`, i.e. JetStream is up and the node follows the cluster's meta leader.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const binary = options.binary ?? findNatsServer();
  const count = options.nodes ?? 3;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-nats-cluster-'));
  const unregisterDir = registerTempDir(root);
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const taken = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const layout: { name: string; client: number; route: number; monitor: number }[] = [];
  for (let i = 1; i <= count; i++) {
    layout.push({ name: `nats-${i}`, client: await port(), route: await port(), monitor: await port() });
  }
  const routes = layout.map((n) => `nats://127.0.0.1:${n.route}`).join(',');
  const started: ProcessHandle[] = [];
  try {
    const nodes = await Promise.all(
      layout.map(async (n): Promise<NatsClusterNode> => {
        const storeDir = path.join(root, n.name);
        fs.mkdirSync(storeDir, { recursive: true });
        const process = await startProcess({
          name: `${n.name}:${n.client}`,
          command: binary,
          args: [
            '-js',
            '-sd',
            storeDir,
            '-a',
            '127.0.0.1',
            '-p',
            String(n.client),
            '-m',
            String(n.monitor),
            '--server_name',
            n.name,
            '--cluster_name',
            'concord-test',
            '--cluster',
            `nats://127.0.0.1:${n.route}`,
            '--routes',
            routes,
          ],
          ...(options.onLine ? { onLine: (line: string) => options.onLine?.(`[${n.name}] ${line}`) } : {}),
          ready: {
            probe: async () => (await natsGreets(n.client)) && (await jetStreamHealthy(n.monitor)),
            timeoutMs,
            intervalMs: 100,
          },
        });
        started.push(process);
        return { name: n.name, url: `nats://127.0.0.1:${n.client}`, port: n.client, process };
      }),
    );
    const unregisterStopper = registerStopper(`nats-cluster:${path.basename(root)}`, () => stop());
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        unregisterStopper();
        await Promise.all(nodes.map((n) => n.process.stop()));
        fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
        unregisterDir();
      })());
    return { nodes, url: nodes.map((n) => n.url).join(','), stop };
  } catch (error) {
    await Promise.all(started.map((p) => p.stop(2_000).catch(() => undefined)));
    fs.rmSync(root, { recursive: true, force: true });
    unregisterDir();
    throw error;
  }
}

async function jetStreamHealthy(monitorPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`, {
      signal: AbortSignal.timeout(1_000),
    });
    return response.ok;
  } catch {
    return false;
  }
}
