// Starts the real DynamoDB Local once for the test run, creates the table, and stops it by process id afterwards.
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocalWithTable } from '../../scripts/dev-kit/booking-table';
import { JavaMissingError, type RunningDynamoDbLocal } from '../../scripts/dev-kit/dynamodb-local';

export const TEST_TABLE_NAME = 'bookings-test';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    tableName: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let dynamo: RunningDynamoDbLocal;
  try {
    dynamo = await startDynamoDbLocalWithTable(TEST_TABLE_NAME);
  } catch (error) {
    if (!(error instanceof JavaMissingError)) throw error;
    // Every test here needs Java: its message alone, before vitest reports the files it could not run.
    console.error(`\n${error.message}\n(npm run test:unit runs the tests that need no Java.)\n`);
    process.exit(1);
  }
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('tableName', TEST_TABLE_NAME);
  return () => dynamo.stop();
}
