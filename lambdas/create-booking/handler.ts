// Lambda entry point of create-booking: builds the store once per cold start and hands over to the handler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadTableConfig } from '../shared/config';
import { createLogger } from '../shared/observability';
import { createBookingHandler } from './create-booking-handler';

const config = loadTableConfig();

export const handler = createBookingHandler({
  store: configuredStore(config),
  clock: systemClock,
  ids: randomIds,
  logger: createLogger(),
});
