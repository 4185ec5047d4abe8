// Lambda entry point of POST /webhooks/stripe: builds the clients once per cold start and hands over to the handler.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadConfig } from '../shared/config';
import { InvocationDeadline, type InvocationContext } from '../shared/invocation-deadline';
import { createLogger, createMetrics, secretNotReplacedReporter, stripeKeyRejectionReporter } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripePaymentGateway } from '../shared/stripe/stripe-gateway';
import { stripeModeFrom, stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { createStripeWebhookHandler } from './webhook-handler';

const config = loadConfig();
const deadline = new InvocationDeadline();
const store = configuredStore(config);
const logger = createLogger();
const secrets = stripeSecretsFrom(config.stripeSecrets, deadline, secretNotReplacedReporter(logger));
const stripeClient = cachedStripeClient(secrets, { apiBase: config.stripeApiBase, onKeyRejected: stripeKeyRejectionReporter(logger) });

const handle = createStripeWebhookHandler({
  store,
  gateway: new StripePaymentGateway(stripeClient, deadline),
  clock: systemClock,
  ids: randomIds,
  signingSecrets: async () => (await secrets()).webhookSigningSecrets,
  toleranceSeconds: config.signatureToleranceSeconds,
  mode: stripeModeFrom(secrets),
  table: config.tableName,
  logger,
  metrics: createMetrics(),
});

/** Each invocation keeps its own end, so that a call to Stripe ends in time for its answer to be recorded. */
export async function handler(event: APIGatewayProxyEventV2, context?: InvocationContext): Promise<APIGatewayProxyStructuredResultV2> {
  return deadline.during(context, () => handle(event));
}
