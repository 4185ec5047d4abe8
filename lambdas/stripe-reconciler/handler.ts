// Lambda entry point of the reconciliation sweep (a schedule): builds the clients once per cold start and hands over to the reconciler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { createDocumentClient } from '../shared/dynamodb/client';
import { DynamoDbBookingStore } from '../shared/dynamodb/dynamodb-booking-store';
import { loadConfig } from '../shared/config';
import { createLogger, createMetrics } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripeEventSource, StripePaymentGateway } from '../shared/stripe/stripe-gateway';
import { stripeModeOf } from '../shared/stripe/stripe-contract';
import { stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createStripeReconciler } from './reconciler';

const config = loadConfig();
const secrets = stripeSecretsFrom(config.stripeSecrets);
const store = new DynamoDbBookingStore({
  client: createDocumentClient(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
  tableName: config.tableName,
});
const stripeClient = cachedStripeClient(secrets, config.stripeApiBase);

export const handler = createStripeReconciler({
  store,
  events: new StripeEventSource(stripeClient),
  gateway: new StripePaymentGateway(stripeClient),
  clock: systemClock,
  ids: randomIds,
  mode: async () => stripeModeOf((await secrets()).apiKey),
  logger: createLogger(),
  metrics: createMetrics(),
});
