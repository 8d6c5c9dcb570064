/** Injection tokens of the coordinator app. */
export const CONSENSUS = Symbol('CONSENSUS');
export const COORDINATOR_CONFIG = Symbol('COORDINATOR_CONFIG');
export const TOKEN_DIRECTORY = Symbol('TOKEN_DIRECTORY');
