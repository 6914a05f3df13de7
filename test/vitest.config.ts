import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Files that measure packet timing on the wire or the event loop's load (the overload guards in faults.test.ts): they
 * run after all the others, one at a time, so that a soak or a load test running beside them on a small machine
 * cannot stall their event loop for a frame or two, or keep it looking busy once their own load has stopped.
 */
const TIMING = ['test/e2e/playout.test.ts', 'test/e2e/faults.test.ts'];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: '.test-results/results.json' }]],
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: TIMING, maxWorkers: 3, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'timing', include: TIMING, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
