/** The cluster as `GET /v1/cluster` shows it. */
export interface ClusterView {
  readonly id: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly {
    readonly id: string;
    readonly role: 'leader' | 'voter' | 'learner';
    readonly matchIndex: number | null;
    readonly apiUrl: string | null;
  }[];
}

/** Membership operations; each goes through the Raft log, one change at a time. Leader only. */
export interface ClusterAdmin {
  view(): ClusterView;
  addLearner(id: string, peerAddress: string, apiUrl: string): Promise<void>;
  promote(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

export const CLUSTER_ADMIN = Symbol('CLUSTER_ADMIN');
