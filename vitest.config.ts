// Test runner settings: pure unit tests on their own, and everything else against one DynamoDB Local started and stopped by the global setup.
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
    // One file at a time, on every machine: some tests sweep with their clocks hours ahead (expired holds, refunds due,
    // Stripe's events), and a sweep acts on the whole shared table, so it would act on another file's holds and refunds
    // mid-test. (Two workers took the suite from 10.5 to 7.5 minutes on two cores, and a hold of one file was released
    // by another's sweep.)
    maxWorkers: 1,
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
          // Files run one at a time against one DynamoDB Local (maxWorkers above); every test uses ids of its own.
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/close-clients.ts'],
        },
      },
    ],
  },
});
