// The toy participants live beside the benchmark that runs them as separate processes; tests use the same code.
export * from '../../scripts/transactions/toy-participants.js';
