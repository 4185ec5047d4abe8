// Starts the real DynamoDB Local once for the test run, creates the table, and stops it by process id afterwards.
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../scripts/local/dynamodb-local';
import { ensureBookingTable } from '../../scripts/local/create-table';
import { createDynamoDbClient } from '../../lambdas/shared/dynamodb/client';

export const TEST_TABLE_NAME = 'bookings-test';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    tableName: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamo = await startDynamoDbLocal();
  const client = createDynamoDbClient({ endpoint: dynamo.endpoint });
  await ensureBookingTable(client, TEST_TABLE_NAME);
  client.destroy();
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('tableName', TEST_TABLE_NAME);
  return () => dynamo.stop();
}
