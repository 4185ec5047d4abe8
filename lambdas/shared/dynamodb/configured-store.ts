// The booking store a function's configuration names, built the one way every entry point builds it.
import type { AppConfig } from '../config';
import { createDocumentClient } from './client';
import { DynamoDbBookingStore } from './dynamodb-booking-store';

/** The configured table, through DynamoDB Local when an endpoint is set (local runs), else the region's DynamoDB. */
export function configuredStore(config: Pick<AppConfig, 'tableName' | 'dynamoDbEndpoint'>): DynamoDbBookingStore {
  return new DynamoDbBookingStore({
    client: createDocumentClient(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
    tableName: config.tableName,
  });
}
