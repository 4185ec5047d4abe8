// Lambda entry point of the reconciliation sweep (a schedule): builds the clients once per cold start and hands over to the reconciler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadConfig } from '../shared/config';
import { createLogger, createMetrics, stripeKeyRejectionReporter } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripeEventSource, StripePaymentGateway } from '../shared/stripe/stripe-gateway';
import { stripeModeFrom, stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createStripeReconciler } from './reconciler';

const config = loadConfig();
const secrets = stripeSecretsFrom(config.stripeSecrets);
const store = configuredStore(config);
const logger = createLogger();
const stripeClient = cachedStripeClient(secrets, { apiBase: config.stripeApiBase, onKeyRejected: stripeKeyRejectionReporter(logger) });

export const handler = createStripeReconciler({
  store,
  events: new StripeEventSource(stripeClient),
  gateway: new StripePaymentGateway(stripeClient),
  clock: systemClock,
  ids: randomIds,
  mode: stripeModeFrom(secrets),
  logger,
  metrics: createMetrics(),
});
