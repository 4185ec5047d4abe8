// The booking table on DynamoDB Local, from the one table definition the CDK stack also uses: alone, or with a server started to hold it.
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, UpdateTimeToLiveCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../../lambdas/shared/dynamodb/client';
import { GLOBAL_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../lambdas/shared/dynamodb/table-definition';
import { startDynamoDbLocal, type DynamoDbLocalOptions, type RunningDynamoDbLocal } from './dynamodb-local';

/** Creates the table unless it exists; returns true when it was created. */
export async function ensureBookingTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return false;
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
  }
  const indexes = Object.values(GLOBAL_INDEXES);
  const attributeNames = [TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey, ...indexes.flatMap((index) => [index.partitionKey, index.sortKey])];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attributeNames.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  );
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }));
  return true;
}

/** Creates the table on the server at `endpoint` unless it exists, through a client that is closed again; true when it was created. */
export async function createBookingTable(endpoint: string, tableName: string): Promise<boolean> {
  const admin = createDynamoDbClient({ endpoint });
  try {
    return await ensureBookingTable(admin, tableName);
  } finally {
    admin.destroy();
  }
}

/** Deletes a table made for one test once the test is done with it. */
export async function deleteBookingTable(endpoint: string, tableName: string): Promise<void> {
  const admin = createDynamoDbClient({ endpoint });
  try {
    await admin.send(new DeleteTableCommand({ TableName: tableName }));
  } finally {
    admin.destroy();
  }
}

/**
 * DynamoDB Local with the booking table on it: what the local stack, the test run, a test's own disk-backed
 * server and the benchmark all start with. A server whose table cannot be created is stopped again.
 */
export async function startDynamoDbLocalWithTable(tableName: string, options: DynamoDbLocalOptions = {}): Promise<RunningDynamoDbLocal> {
  const dynamo = await startDynamoDbLocal(options);
  try {
    await createBookingTable(dynamo.endpoint, tableName);
  } catch (error) {
    await dynamo.stop();
    throw error;
  }
  return dynamo;
}
