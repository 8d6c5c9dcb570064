export * from './clock.js';
export * from './errors.js';
export * from './retry-budget.js';
export * from './retry.js';
export * from './breaker-registry.js';
export * from './health-tracker.js';
export * from './active-health-checker.js';
export * from './call-breaker.js';
