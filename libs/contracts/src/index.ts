export * from './ports.js';
export * from './topology.js';
export * from './messages.js';
export * from './nats-permissions.js';
export * from './limits.js';
export * as schemas from './schemas.js';
export { COMMAND_PAYLOADS, describeIssues } from './schemas.js';
