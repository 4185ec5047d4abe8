// Starts the real DynamoDB Local once for the test run, creates the table, and stops it by process id afterwards.
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocalWithTable } from '../../scripts/dev-kit/booking-table';

export const TEST_TABLE_NAME = 'bookings-test';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    tableName: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamo = await startDynamoDbLocalWithTable(TEST_TABLE_NAME);
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('tableName', TEST_TABLE_NAME);
  return () => dynamo.stop();
}
