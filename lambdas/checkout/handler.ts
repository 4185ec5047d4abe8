// Lambda entry point of POST /checkout: builds the clients once per cold start and hands over to the handler.
import type Stripe from 'stripe';
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { createDocumentClient } from '../shared/dynamodb/client';
import { DynamoDbBookingStore } from '../shared/dynamodb/dynamodb-booking-store';
import { loadConfig } from '../shared/config';
import { createLogger } from '../shared/observability';
import { createStripeClient, StripeCheckoutSessions } from '../shared/stripe/stripe-gateway';
import { stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createCheckoutHandler } from './checkout-handler';

const config = loadConfig();
const secrets = stripeSecretsFrom(config.stripeSecrets);
let stripe: { apiKey: string; client: Stripe } | undefined;
/** One Stripe client per API key: built on first use, rebuilt only when the secret's key has been rolled. */
const stripeClient = async (): Promise<Stripe> => {
  const { apiKey } = await secrets();
  if (stripe?.apiKey !== apiKey) {
    stripe = { apiKey, client: createStripeClient({ apiKey, ...(config.stripeApiBase && { apiBase: config.stripeApiBase }) }) };
  }
  return stripe.client;
};

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
