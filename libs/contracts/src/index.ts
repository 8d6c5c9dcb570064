export * from './ports.js';
export * from './topology.js';
export * from './messages.js';
