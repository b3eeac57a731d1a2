// vitest: forks pool (workers inside threads are known to crash), one global setup that starts the real servers.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['./test/setup/global.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 3,
    minWorkers: 1,
    // The JSON report lets .ci/run print one plain 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: '.test-data/results.json' }]],
  },
});
