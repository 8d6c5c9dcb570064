/** Moved to scripts/domain/invariants.ts so that scripts (npm run chaos:transactions) can use it; tests import it from here. */
export * from '../../scripts/domain/invariants.js';
