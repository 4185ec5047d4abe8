// Test runner settings: one DynamoDB Local for the whole run, started and stopped by the global setup.
import { defineConfig } from 'vitest/config';

// The SDK's notice about Node 20 is noise here: the Lambda runtime is Node 24, only local tooling runs on 20.
// (The SDK compares the value with the string "true".)
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics are asserted through the handler's answers and the table, not through EMF lines on stdout.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Files run in parallel against one DynamoDB Local; every test uses ids of its own.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
