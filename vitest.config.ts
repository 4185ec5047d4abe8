// Test runner settings: pure unit tests on their own, and everything else against one DynamoDB Local started and stopped by the global setup.
import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// The SDK's notice about Node 20 is noise here: the Lambda runtime is Node 24, only local tooling runs on 20.
// (The SDK compares the value with the string "true".)
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics are asserted through the handler's answers and the table, not through EMF lines on stdout.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

/** Tests that need neither DynamoDB Local nor Java, so `npm run test:unit` runs them in seconds. */
const UNIT_TESTS = ['test/unit/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files run side by side: each has a table of its own (test/support/file-table.ts), so a sweep run with its
    // clock hours ahead (expired holds, refunds due, Stripe's events) acts only on its own file's holds and refunds.
    // They mostly wait on DynamoDB Local, so two run at once even on two cores; no more than four, as one DynamoDB
    // Local answers them all.
    maxWorkers: Math.min(4, Math.max(2, availableParallelism() - 1)),
    // `npm run test:coverage`: the whole suite, measured on the code that ships.
    coverage: {
      provider: 'v8',
      include: ['lambdas/**'],
      reporter: ['text-summary', 'html'],
      // A little under what the suite measured when they were set (statements 91.9 %, branches 84.7 %, functions 95.1 %,
      // lines 94.0 %), so code that lands without tests fails the run.
      thresholds: { statements: 90, branches: 82, functions: 93, lines: 92 },
    },
    // `npm test` runs both projects; `npm run test:unit` only the first, and the global setup of the second never starts.
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_TESTS } },
      {
        extends: true,
        test: {
          name: 'dynamodb-local',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT_TESTS],
          // One DynamoDB Local for the run, a table per file (maxWorkers above); every test uses ids of its own.
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/file-table.ts'],
        },
      },
    ],
  },
});
