export * from './commands.js';
export * from './kv-state-machine.js';
export * from './lessor.js';
