import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { findExecutable } from './executables.js';
import { freePort } from './ports.js';
import { startProcess, type ProcessHandle } from './process.js';
import { registerStopper, registerTempDir } from './registry.js';

/** Options of {@link startEtcd}. */
export interface EtcdOptions {
  /** Members of the cluster. Default 3 (a majority survives one loss). */
  members?: number;
  /** Client ports of the members, one each (default: free ports). */
  clientPorts?: readonly number[];
  /** Peer ports of the members, one each (default: free ports). */
  peerPorts?: readonly number[];
  /** Parent of the members' data dirs. Given: kept (a restart rejoins with its state). Omitted: a temp dir. */
  dataDir?: string;
  /** The `etcd` executable. Default: found on PATH, then /usr/bin, /usr/local/bin. */
  binary?: string;
  /** Readiness deadline of the whole cluster. Default 30 s. */
  startTimeoutMs?: number;
  /** Every member's log lines, prefixed with its name. */
  onLine?: (line: string) => void;
}

/** One member of a private etcd cluster. */
export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:<clientPort>` */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The member's process: for fault tests (sigkill, sigstop, restart with its data). */
  readonly process: ProcessHandle;
}

/** A running private etcd v3 cluster. */
export interface EtcdHandle {
  /** Client endpoints of every member, in member order. */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  /** Stops every member and removes a temp data dir. */
  stop(): Promise<void>;
}

const startTimeoutMsDefault = 30_000;
const fallbackLocations = ['/usr/bin/etcd', '/usr/local/bin/etcd'];

/** Raised when `etcd` is not installed; its message says how to install it. */
export class EtcdMissingError extends Error {
  override readonly name = 'EtcdMissingError';
}

/**
 * Starts an etcd cluster of `members` processes on loopback (client and peer ports free ports), each with its own
 * data dir, and waits until every member answers `GET /health` (which needs a leader, so a quorum). Registered for
 * teardown on exit or signal like PostgreSQL and NATS.
 */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdHandle> {
  const binary = options.binary ?? findEtcd();
  const count = options.members ?? 3;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`etcd members must be a positive integer, not ${count}`);
  const temporary = options.dataDir === undefined;
  const root = path.resolve(options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'concord-etcd-')));
  const unregisterDir = temporary ? registerTempDir(root) : () => undefined;
  fs.mkdirSync(root, { recursive: true });
  const timeoutMs = options.startTimeoutMs ?? startTimeoutMsDefault;

  const layout: { name: string; clientPort: number; peerPort: number }[] = [];
  const taken = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const candidate = await freePort();
      if (!taken.has(candidate)) {
        taken.add(candidate);
        return candidate;
      }
    }
  };
  for (const [label, ports] of [
    ['clientPorts', options.clientPorts],
    ['peerPorts', options.peerPorts],
  ] as const) {
    if (ports !== undefined && ports.length !== count) {
      throw new Error(`etcd ${label} must list ${count} ports, got ${ports.length}`);
    }
  }
  for (const p of [...(options.clientPorts ?? []), ...(options.peerPorts ?? [])]) taken.add(p);
  for (let i = 0; i < count; i++) {
    layout.push({
      name: `e${i + 1}`,
      clientPort: options.clientPorts?.[i] ?? (await port()),
      peerPort: options.peerPorts?.[i] ?? (await port()),
    });
  }
  const initialCluster = layout.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  // Stable for a given data dir, so a restarted stack's members recognise each other.
  const token = `concord-${path.basename(root)}`;

  const started: ProcessHandle[] = [];
  try {
    const members = await Promise.all(
      layout.map(async (m): Promise<EtcdMember> => {
        const endpoint = `http://127.0.0.1:${m.clientPort}`;
        const peerUrl = `http://127.0.0.1:${m.peerPort}`;
        const dataDir = path.join(root, m.name);
        const process = await startProcess({
          name: `etcd:${m.name}:${m.clientPort}`,
          command: binary,
          args: [
            '--name',
            m.name,
            '--data-dir',
            dataDir,
            '--listen-client-urls',
            endpoint,
            '--advertise-client-urls',
            endpoint,
            '--listen-peer-urls',
            peerUrl,
            '--initial-advertise-peer-urls',
            peerUrl,
            '--initial-cluster',
            initialCluster,
            // A restarted member finds its data dir and rejoins; the flag only matters on first start.
            '--initial-cluster-state',
            'new',
            '--initial-cluster-token',
            token,
            '--logger',
            'zap',
            '--log-outputs',
            'stderr',
          ],
          // etcd reads ETCD_* variables as flags: keep the caller's client settings (ETCD_ENDPOINTS) away from it.
          env: { ETCD_ENDPOINTS: undefined, ETCDCTL_ENDPOINTS: undefined },
          ...(options.onLine ? { onLine: (line: string) => options.onLine?.(`[${m.name}] ${line}`) } : {}),
          ready: { probe: () => etcdHealthy(endpoint), timeoutMs, intervalMs: 100 },
        });
        started.push(process);
        return { name: m.name, endpoint, peerUrl, dataDir, process };
      }),
    );
    return new EtcdCluster(members, root, temporary, unregisterDir);
  } catch (error: unknown) {
    await Promise.all(started.map((p) => p.stop(2_000).catch(() => undefined)));
    if (temporary) {
      fs.rmSync(root, { recursive: true, force: true });
      unregisterDir();
    }
    throw error;
  }
}

/** True when the member at `endpoint` reports itself healthy (it has a leader and answers reads). */
export async function etcdHealthy(endpoint: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return false;
    const body = (await response.json()) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

/** Finds `etcd` on PATH or in the usual system locations, or throws {@link EtcdMissingError}. */
export function findEtcd(
  searchDirs?: readonly string[],
  fallbacks: readonly string[] = fallbackLocations,
): string {
  const found = findExecutable('etcd', searchDirs, fallbacks);
  if (found !== undefined) return found;
  throw new EtcdMissingError(
    'etcd not found on PATH or in /usr/bin, /usr/local/bin. Install it: `apt-get install etcd-server` ' +
      '(Debian/Ubuntu), `brew install etcd` (macOS), or download a release from ' +
      'https://github.com/etcd-io/etcd/releases and put `etcd` on PATH.',
  );
}

class EtcdCluster implements EtcdHandle {
  readonly endpoints: readonly string[];
  private stopped: Promise<void> | undefined;
  private readonly unregisterStopper: () => void;

  constructor(
    readonly members: readonly EtcdMember[],
    private readonly root: string,
    private readonly removeOnStop: boolean,
    private readonly unregisterDir: () => void,
  ) {
    this.endpoints = members.map((m) => m.endpoint);
    this.unregisterStopper = registerStopper(`etcd:${path.basename(root)}`, () => this.stop());
  }

  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    this.unregisterStopper();
    await Promise.all(this.members.map((m) => m.process.stop()));
    if (this.removeOnStop) fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
    this.unregisterDir();
  }
}
