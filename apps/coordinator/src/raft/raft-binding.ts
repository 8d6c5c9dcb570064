import path from 'node:path';
import {
  type Command,
  type CommandResult,
  type Consensus,
  CoordinatorError,
  encodeCommand,
  NotLeaderError,
  UnavailableError,
} from '@concord/coordination';
import {
  defaultRaftConfig,
  DiskWal,
  FileSnapshotStorage,
  RaftDriver,
  RaftRequestError,
  type SnapshotStorage,
  TcpTransport,
} from '@concord/raft';
import { Logger } from '@nestjs/common';
import { tracingOn, withSpan } from '@concord/platform';
import { Histogram } from 'prom-client';
import type { ClusterAdmin, ClusterView } from '../api/cluster-admin.js';
import type { KvStateMachineHolder } from '../api/state.js';
import type { CoordinatorConfig } from '../config.js';
import type { ConsensusBinding } from '../coordinator.module.js';
import { handoffTarget } from './leadership-handoff.js';

/** Maps the driver's refusals to what the API understands: forward to the leader, or 503. */
function translate(error: unknown): Error {
  if (error instanceof RaftRequestError) {
    switch (error.error.kind) {
      case 'notLeader':
        return new NotLeaderError(error.error.leaderHint);
      case 'timeout':
        return new UnavailableError('not committed in time (no quorum?); the outcome is unknown', 'unknown');
      case 'unknown':
        return new UnavailableError(
          'the leader changed or the answer was lost before the write was applied here; the outcome is unknown',
          'unknown',
        );
      case 'lost':
        return new UnavailableError('another leader overwrote the write; it was not applied, retry');
      case 'transferring':
        return new UnavailableError('leadership is being transferred; retry');
      case 'overloaded':
        return new UnavailableError('too many writes in flight; retry');
      case 'invalid':
        // A membership change the configuration refuses (e.g. removing a node that is not a member): nothing
        // was proposed, and retrying cannot help.
        return new CoordinatorError(409, error.error.reason);
      default:
        return new UnavailableError(error.message);
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Runs this node's Raft: disk WAL and snapshots under DATA_DIR, authenticated TCP to the peers, the coordinator's
 * state machine. A brand-new node (empty DATA_DIR, JOIN=false) bootstraps the cluster from PEERS; with JOIN=true it
 * starts empty and waits for the leader to add it as a learner.
 */
/** Proposals this process made as leader, by outcome: plain integers, read by the metrics at scrape time. */
export const raftProposals = { applied: 0, failed: 0 };

/**
 * Disk timings of this node, observed at the storage edges (the WAL's synced write per batch, each snapshot saved,
 * taken here or installed from the leader). Registered on the app's registry by RaftMetrics.
 */
export const raftDiskMetrics = {
  fsyncSeconds: new Histogram({
    name: 'raft_wal_fsync_duration_seconds',
    help: 'Duration of each WAL batch made durable (an O_DSYNC write, or write + fdatasync; one per batch of saves).',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [],
  }),
  snapshotSeconds: new Histogram({
    name: 'raft_snapshot_save_duration_seconds',
    help: 'Duration of each snapshot saved to disk (taken by this node or installed from the leader); _count counts them.',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  }),
};

function timedSnapshots(storage: SnapshotStorage): SnapshotStorage {
  return {
    load: () => storage.load(),
    async save(snapshot) {
      const end = raftDiskMetrics.snapshotSeconds.startTimer();
      await storage.save(snapshot);
      end();
    },
  };
}

export function createRaftBinding(config: CoordinatorConfig, state: KvStateMachineHolder): ConsensusBinding {
  const logger = new Logger('Raft');
  let driver: RaftDriver<CommandResult | null> | undefined;
  let peerTransport: TcpTransport | undefined;
  let leading = false;
  const listeners: ((leading: boolean) => void)[] = [];
  /** Ids being added right now (two concurrent adds of one id: the second is refused). */
  const adding = new Set<string>();

  const running = (): RaftDriver<CommandResult | null> => {
    if (driver === undefined) throw new UnavailableError('raft is not running');
    return driver;
  };

  const proposeNow = async (command: Command): Promise<CommandResult> => {
    try {
      const { result } = await running().propose(encodeCommand(command));
      if (result === null) throw new Error(`command ${command.type} was not applied`);
      raftProposals.applied += 1;
      return result;
    } catch (error) {
      raftProposals.failed += 1;
      throw translate(error);
    }
  };

  const consensus: Consensus = {
    async propose(command: Command): Promise<CommandResult> {
      // On a follower the driver forwards the encoded command to the leader over the peer link and resolves
      // when this node applies it; with no leader known it refuses (503, notApplied).
      if (tracingOn) {
        return withSpan('raft propose', { attributes: { 'concord.raft.command': command.type } }, () =>
          proposeNow(command),
        );
      }
      return proposeNow(command);
    },
    async readBarrier(): Promise<void> {
      try {
        await running().readIndex();
      } catch (error) {
        throw translate(error);
      }
    },
    isLeader: () => leading,
    leaderId: () => (driver === undefined ? null : driver.status().leader),
    onLeadershipChange: (listener) => listeners.push(listener),
  };

  const cluster: ClusterAdmin = {
    view(): ClusterView {
      const status = running().status();
      const urls = state.machine.memberApiUrls();
      const learners = new Set(status.conf.learners);
      const ids = [...status.conf.voters, ...status.conf.learners];
      return {
        id: status.id,
        leader: status.leader,
        term: status.term,
        commitIndex: status.commitIndex,
        appliedIndex: status.appliedIndex,
        members: ids.map((id) => {
          const member = status.members.find((m) => m.id === id);
          return {
            id,
            role: id === status.leader ? 'leader' : learners.has(id) ? 'learner' : 'voter',
            matchIndex:
              id === status.id && status.role === 'leader' ? status.lastIndex : (member?.matchIndex ?? null),
            apiUrl: urls.get(id) ?? config.API_URLS.get(id) ?? null,
          };
        }),
      };
    },
    async addLearner(id, peerAddress, apiUrl) {
      if (!leading) throw new NotLeaderError(consensus.leaderId());
      const { conf } = running().status();
      if (conf.voters.includes(id) || conf.learners.includes(id) || adding.has(id)) {
        // Re-adding would overwrite its peer address and forwarding URL: remove it first to replace it.
        throw new CoordinatorError(409, `member ${id} already exists; remove it first to replace it`);
      }
      adding.add(id);
      try {
        // The API URL first, through the log, so every node can forward to the new member once it leads.
        await consensus.propose({ type: 'memberMeta', id, apiUrl });
        await running()
          .addLearner(id, peerAddress)
          .catch((e: unknown) => Promise.reject(translate(e)));
      } finally {
        adding.delete(id);
      }
    },
    async promote(id) {
      if (!leading) throw new NotLeaderError(consensus.leaderId());
      await running()
        .promote(id)
        .catch((e: unknown) => Promise.reject(translate(e)));
    },
    async remove(id) {
      if (!leading) throw new NotLeaderError(consensus.leaderId());
      await running()
        .removeMember(id)
        .catch((e: unknown) => Promise.reject(translate(e)));
    },
  };

  return {
    consensus,
    cluster,
    ...(config.FAULT_INJECTION
      ? {
          faults: {
            setBlockedPeers: (ids: readonly string[]) => peerTransport?.setBlockedPeers(ids),
            blockedPeers: () => peerTransport?.blockedPeers() ?? [],
          },
        }
      : {}),
    async start() {
      const host = config.HOST;
      const [log, transport] = await Promise.all([
        DiskWal.open({
          dir: path.join(config.DATA_DIR, 'wal'),
          segmentBytesMax: config.WAL_SEGMENT_BYTES,
          onSync: (seconds) => raftDiskMetrics.fsyncSeconds.observe(seconds),
        }),
        TcpTransport.start({
          nodeId: config.NODE_ID,
          listen: { host, port: config.PEER_PORT },
          clusterSecret: config.CLUSTER_SECRET,
          log: (event) => logger.log(event),
        }),
      ]);
      peerTransport = transport;
      driver = new RaftDriver<CommandResult | null>({
        raft: {
          ...defaultRaftConfig,
          id: config.NODE_ID,
          electionTimeoutTicks: config.RAFT_ELECTION_TICKS,
          heartbeatIntervalTicks: config.RAFT_HEARTBEAT_TICKS,
        },
        tickIntervalMs: config.RAFT_TICK_MS,
        transport,
        log,
        snapshots: timedSnapshots(new FileSnapshotStorage({ dir: path.join(config.DATA_DIR, 'snapshots') })),
        stateMachine: state.machine,
        ...(config.JOIN ? {} : { bootstrap: [...config.PEERS.keys()] }),
        peers: config.PEERS,
        snapshotEveryEntries: config.SNAPSHOT_EVERY_ENTRIES,
        requestTimeoutMs: config.PROPOSE_TIMEOUT_MS,
        forwardProposals: true,
        onFatal: (error) => {
          logger.fatal(`storage failure, stopping: ${(error as Error).message}`);
          process.exit(70);
        },
      });
      driver.onLeaderChange((leader, term) => {
        const now = leader === config.NODE_ID;
        logger.log(`leader is ${leader ?? 'unknown'} in term ${term}`);
        if (now !== leading) {
          leading = now;
          for (const listener of listeners) listener(now);
        }
      });
      await driver.start();
    },
    async stop() {
      // A leader stopping on purpose (SIGTERM: a rolling update, a node drain) hands leadership to the most
      // caught-up follower first, so the cluster gets a leader in one round trip instead of an election timeout.
      const target = driver === undefined ? null : handoffTarget(driver.status());
      if (driver !== undefined && target !== null) {
        const started = Date.now();
        await driver
          .transferLeadership(target)
          .then(() =>
            logger.log(`leadership handed to ${target} in ${Date.now() - started} ms before stopping`),
          )
          .catch((error: unknown) =>
            logger.warn(
              `leadership handoff to ${target} failed (${(error as Error).message}); stopping anyway`,
            ),
          );
      }
      await driver?.stop();
    },
    async ready() {
      const status = running().status();
      if (status.leader === null) throw new Error(`no leader known (term ${status.term})`);
    },
  };
}
