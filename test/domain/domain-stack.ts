/** Moved to scripts/domain/domain-stack.ts so that scripts (npm run chaos:transactions) can use it; tests import it from here. */
export * from '../../scripts/domain/domain-stack.js';
