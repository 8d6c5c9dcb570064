import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

// SWC (not esbuild) compiles the tests so that Nest's decorator metadata is emitted.
const shared = {
  root,
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: [{ find: /^@concord\/([a-z0-9-]+)$/, replacement: `${root}libs/$1/src/index.ts` }],
  },
};

export default defineConfig({
  ...shared,
  test: {
    projects: [
      {
        ...shared,
        test: {
          name: 'unit',
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.spec.ts', 'scripts/**/*.spec.ts'],
          testTimeout: 60_000,
        },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          include: ['apps/**/*.int.ts', 'libs/**/*.int.ts', 'test/**/*.int.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // Integration suites start real processes; one file at a time keeps 2 cores honest.
          fileParallelism: false,
        },
      },
    ],
  },
});
