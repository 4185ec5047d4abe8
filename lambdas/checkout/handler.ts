// Lambda entry point of POST /checkout: builds the clients once per cold start and hands over to the handler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { createDocumentClient } from '../shared/dynamodb/client';
import { DynamoDbBookingStore } from '../shared/dynamodb/dynamodb-booking-store';
import { loadConfig } from '../shared/config';
import { createLogger } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripeCheckoutSessions } from '../shared/stripe/stripe-gateway';
import { stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createCheckoutHandler } from './checkout-handler';

const config = loadConfig();
const secrets = stripeSecretsFrom(config.stripeSecrets);
const stripeClient = cachedStripeClient(secrets, config.stripeApiBase);

export const handler = createCheckoutHandler({
  store: new DynamoDbBookingStore({
    client: createDocumentClient(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
    tableName: config.tableName,
  }),
  checkout: new StripeCheckoutSessions(stripeClient),
  clock: systemClock,
  ids: randomIds,
  holdMinutes: config.holdMinutes,
  logger: createLogger(),
});
