// Lambda entry point of the reconciliation sweep (a schedule): builds the clients once per cold start and hands over to the reconciler.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadConfig } from '../shared/config';
import { InvocationDeadline } from '../shared/invocation-deadline';
import { createLogger, createMetrics, secretNotReplacedReporter, stripeKeyRejectionReporter } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripeEventSource, StripePaymentGateway } from '../shared/stripe/stripe-gateway';
import { stripeModeFrom, stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createStripeReconciler } from './reconciler';

const config = loadConfig();
const deadline = new InvocationDeadline();
const store = configuredStore(config);
const logger = createLogger();
const secrets = stripeSecretsFrom(config.stripeSecrets, deadline, secretNotReplacedReporter(logger));
const stripeClient = cachedStripeClient(secrets, { apiBase: config.stripeApiBase, onKeyRejected: stripeKeyRejectionReporter(logger) });

const sweep = createStripeReconciler({
  store,
  events: new StripeEventSource(stripeClient, deadline),
  gateway: new StripePaymentGateway(stripeClient, deadline),
  clock: systemClock,
  ids: randomIds,
  mode: stripeModeFrom(secrets),
  table: config.tableName,
  logger,
  metrics: createMetrics(),
});

/** Each run keeps its own end, so that a call to Stripe ends in time for its answer to be recorded. */
export const handler: typeof sweep = (event, context) => deadline.during(context, () => sweep(event, context));
