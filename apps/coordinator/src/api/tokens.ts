/** Injection tokens of the coordinator app. */
export const CONSENSUS = Symbol('CONSENSUS');
export const COORDINATOR_CONFIG = Symbol('COORDINATOR_CONFIG');
