// `npm start`: DynamoDB Local with the booking table, until Ctrl-C.
import { createDynamoDbClient } from '../../lambdas/shared/dynamodb/client';
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';
import { ensureBookingTable } from './create-table';
import { JavaMissingError, startDynamoDbLocal } from './dynamodb-local';

async function main(): Promise<void> {
  const tableName = process.env.TABLE_NAME ?? DEFAULT_LOCAL_TABLE_NAME;
  const port = process.env.DYNAMODB_PORT ? Number(process.env.DYNAMODB_PORT) : 8000;
  const dynamo = await startDynamoDbLocal({ port });
  const client = createDynamoDbClient({ endpoint: dynamo.endpoint });
  await ensureBookingTable(client, tableName);
  console.log(`DynamoDB Local listening on ${dynamo.endpoint} (pid ${dynamo.pid}), table "${tableName}" ready.`);
  console.log('Press Ctrl-C to stop.');
  const stop = async (): Promise<void> => {
    await dynamo.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof JavaMissingError ? error.message : error);
  process.exit(1);
});
