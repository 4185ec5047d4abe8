// Builds the DynamoDB document client every entry point shares (created once per process, at module scope).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DocumentClientOptions {
  /** A DynamoDB Local URL; absent in AWS, where the SDK resolves the regional endpoint. */
  readonly endpoint?: string;
  readonly region?: string;
}

export function createDynamoDbClient(options: DocumentClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(options.region !== undefined && { region: options.region }),
    ...(options.endpoint !== undefined && {
      endpoint: options.endpoint,
      region: options.region ?? 'local',
      // DynamoDB Local accepts any credentials; these keep the SDK from searching for real ones.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
    // Retries live in one place (transient-retry.ts), with the transaction's ClientRequestToken; the SDK's
    // own retries would multiply them.
    maxAttempts: 1,
  });
}

export function createDocumentClient(options: DocumentClientOptions = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoDbClient(options), { marshallOptions: { removeUndefinedValues: true } });
}
