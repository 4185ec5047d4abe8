// Closing a DynamoDB document client for real, so tests and the benchmark leave no sockets open behind them.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Closes the connections of a document client. `DynamoDBDocumentClient.destroy()` does nothing: the document
 * client does not own the DynamoDBClient it wraps. Both share one request handler, which is destroyed here.
 */
export function destroyDocumentClient(client: DynamoDBDocumentClient): void {
  client.config.requestHandler.destroy?.();
}
