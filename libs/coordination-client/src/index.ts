export * from './coordination-client.js';
export * from './errors.js';
export * from './lease-keeper.js';
export * from './service-registration.js';
export * from './sse.js';
export * from './shared-config.js';
export * from './coordination.module.js';
export * from './service-coordination.js';
