export * from './hash.js';
export { type AcceptInstance, type Balancer, type BalancerAlgorithm, hashKey } from './balancer.js';
export * from './ring.js';
export * from './maglev.js';
export * from './rendezvous.js';
export * from './create-balancer.js';
export * from './bounded-loads.js';
export * from './zipf.js';
export * from './simulation.js';
