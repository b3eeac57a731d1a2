// vitest for the fault suite (`npm run test:faults`): the same global setup (CLI, workflow bundle), its own servers inside.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['./test/setup/global.ts'],
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 20 * 60_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    reporters: ['default', ['json', { outputFile: '.test-data/results-faults.json' }]],
  },
});
