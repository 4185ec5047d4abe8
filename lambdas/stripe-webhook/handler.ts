// Lambda entry point of POST /webhooks/stripe: builds the clients once per cold start and hands over to the handler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadConfig } from '../shared/config';
import { createLogger, createMetrics, stripeKeyRejectionReporter } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripePaymentGateway } from '../shared/stripe/stripe-gateway';
import { stripeModeFrom, stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createStripeWebhookHandler } from './webhook-handler';

const config = loadConfig();
const secrets = stripeSecretsFrom(config.stripeSecrets);
const store = configuredStore(config);
const logger = createLogger();
const stripeClient = cachedStripeClient(secrets, { apiBase: config.stripeApiBase, onKeyRejected: stripeKeyRejectionReporter(logger) });

export const handler = createStripeWebhookHandler({
  store,
  gateway: new StripePaymentGateway(stripeClient),
  clock: systemClock,
  ids: randomIds,
  signingSecrets: async () => (await secrets()).webhookSigningSecrets,
  toleranceSeconds: config.signatureToleranceSeconds,
  mode: stripeModeFrom(secrets),
  logger,
  metrics: createMetrics(),
});
