export * from './commands.js';
export * from './consensus.js';
export * from './coordinator.js';
export * from './kv-state-machine.js';
export * from './lessor.js';
export * from './local-consensus.js';
