import type { Balancer, BalancerAlgorithm } from './balancer.js';
import { Maglev } from './maglev.js';
import { Rendezvous } from './rendezvous.js';
import { HashRing } from './ring.js';

export interface BalancerMember {
  readonly id: string;
  /** Relative weight, default 1. */
  readonly weight?: number;
}

export interface BalancerConfig {
  readonly algorithm: BalancerAlgorithm;
  /** Ring only: points per unit of weight (default 160). */
  readonly virtualNodesPerWeight?: number;
  /** Maglev only: prime table size (default 65537). */
  readonly tableSize?: number;
  readonly members?: readonly BalancerMember[];
}

/** One entry point so that the algorithm is a configuration value, not a code change. */
export function createBalancer(config: BalancerConfig): Balancer {
  let balancer: Balancer;
  switch (config.algorithm) {
    case 'ring':
      balancer = new HashRing(
        config.virtualNodesPerWeight === undefined
          ? {}
          : { virtualNodesPerWeight: config.virtualNodesPerWeight },
      );
      break;
    case 'maglev':
      balancer = new Maglev(config.tableSize === undefined ? {} : { tableSize: config.tableSize });
      break;
    case 'rendezvous':
      balancer = new Rendezvous();
      break;
    default: {
      const unknown: never = config.algorithm;
      throw new Error(`unknown balancer algorithm: ${String(unknown)}`);
    }
  }
  if (balancer instanceof HashRing) balancer.addAll(config.members ?? []);
  else for (const member of config.members ?? []) balancer.add(member.id, member.weight ?? 1);
  return balancer;
}
