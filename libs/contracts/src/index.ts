export * from './ports.js';
export * from './topology.js';
export * from './messages.js';
export * from './nats-permissions.js';
