import { Metrics } from '@concord/platform';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { CLUSTER_ADMIN, type ClusterAdmin, type ClusterView } from '../api/cluster-admin.js';
import { WatchStreams } from '../api/watch-streams.js';
import { raftDiskMetrics, raftProposals } from './raft-binding.js';

const ROLES = ['leader', 'follower', 'learner'] as const;

/**
 * The node's Raft state as Prometheus gauges, read from the node's own status when scraped (nothing on the write
 * path): role, term, who leads, commit and apply index, members, open watches.
 */
@Injectable()
export class RaftMetrics {
  constructor(metrics: Metrics, @Inject(CLUSTER_ADMIN) cluster: ClusterAdmin, watches: WatchStreams) {
    const view = (): ClusterView | undefined => {
      try {
        return cluster.view();
      } catch {
        return undefined; // not started yet, or stopping
      }
    };
    const registers = [metrics.registry];
    // Module-level histograms (the WAL and snapshot storage observe them); one registration per registry.
    for (const histogram of Object.values(raftDiskMetrics)) {
      try {
        metrics.registry.registerMetric(histogram);
      } catch {
        // already registered on this registry
      }
    }
    new Counter({
      name: 'raft_proposals_total',
      help: 'Proposals this node made as leader (writes and member changes), by outcome: applied or failed.',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'applied' }, raftProposals.applied);
        this.inc({ outcome: 'failed' }, raftProposals.failed);
      },
    });
    new Gauge({
      name: 'raft_role',
      help: "This node's Raft role: 1 for the current one (leader, follower or learner), 0 for the others.",
      labelNames: ['role'],
      registers,
      collect() {
        const v = view();
        this.reset();
        if (v === undefined) return;
        const own = v.members.find((m) => m.id === v.id)?.role;
        const role = v.leader === v.id ? 'leader' : own === 'learner' ? 'learner' : 'follower';
        for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
    new Gauge({
      name: 'raft_term',
      help: 'Current Raft term of this node.',
      registers,
      collect() {
        const v = view();
        if (v !== undefined) this.set(v.term);
      },
    });
    new Gauge({
      name: 'raft_leader',
      help: 'The leader this node knows, as a label (value 1); no series while it knows none.',
      labelNames: ['leader'],
      registers,
      collect() {
        const v = view();
        this.reset();
        if (v?.leader !== null && v?.leader !== undefined) this.set({ leader: v.leader }, 1);
      },
    });
    new Gauge({
      name: 'raft_has_leader',
      help: '1 when this node knows a leader of its current term, 0 otherwise (alert when 0 on every node).',
      registers,
      collect() {
        const v = view();
        this.set(v?.leader === null || v === undefined ? 0 : 1);
      },
    });
    new Gauge({
      name: 'raft_commit_index',
      help: 'Highest log index this node knows to be committed.',
      registers,
      collect() {
        const v = view();
        if (v !== undefined) this.set(v.commitIndex);
      },
    });
    new Gauge({
      name: 'raft_applied_index',
      help: 'Highest log index this node has applied to its key-value state.',
      registers,
      collect() {
        const v = view();
        if (v !== undefined) this.set(v.appliedIndex);
      },
    });
    new Gauge({
      name: 'raft_members',
      help: 'Members of the cluster configuration, by kind (voter or learner).',
      labelNames: ['kind'],
      registers,
      collect() {
        const v = view();
        if (v === undefined) return;
        this.set({ kind: 'learner' }, v.members.filter((m) => m.role === 'learner').length);
        this.set({ kind: 'voter' }, v.members.filter((m) => m.role !== 'learner').length);
      },
    });
    new Gauge({
      name: 'coordinator_watchers',
      help: 'Watch streams (SSE) open on this node.',
      registers,
      collect() {
        this.set(watches.count());
      },
    });
  }
}
