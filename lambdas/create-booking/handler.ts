// Lambda entry point of create-booking: builds the store once per cold start and hands over to the handler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { createDocumentClient } from '../shared/dynamodb/client';
import { DynamoDbBookingStore } from '../shared/dynamodb/dynamodb-booking-store';
import { loadTableConfig } from '../shared/config';
import { createLogger } from '../shared/observability';
import { createBookingHandler } from './create-booking-handler';

const config = loadTableConfig();

export const handler = createBookingHandler({
  store: new DynamoDbBookingStore({
    client: createDocumentClient(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
    tableName: config.tableName,
  }),
  clock: systemClock,
  ids: randomIds,
  logger: createLogger(),
});
