// Starts the real DynamoDB Local once for the test run and stops it by process id afterwards; each test file makes its own table on it (file-table.ts).
import type { TestProject } from 'vitest/node';
import { JavaMissingError, startDynamoDbLocal, type RunningDynamoDbLocal } from '../../scripts/dev-kit/dynamodb-local';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let dynamo: RunningDynamoDbLocal;
  try {
    dynamo = await startDynamoDbLocal();
  } catch (error) {
    if (!(error instanceof JavaMissingError)) throw error;
    // Every test here needs Java: its message alone, before vitest reports the files it could not run.
    console.error(`\n${error.message}\n(npm run test:unit runs the tests that need no Java.)\n`);
    process.exit(1);
  }
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}
