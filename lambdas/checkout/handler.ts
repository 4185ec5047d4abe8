// Lambda entry point of POST /checkout and GET /trips/{tripId}: builds the clients once per cold start and hands each route to its handler.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadConfig } from '../shared/config';
import { InvocationDeadline, type InvocationContext } from '../shared/invocation-deadline';
import { jsonResponse } from '../shared/http';
import { createLogger, secretNotReplacedReporter, stripeKeyRejectionReporter } from '../shared/observability';
import { cachedStripeClient } from '../shared/stripe/stripe-client-cache';
import { StripeCheckoutSessions } from '../shared/stripe/stripe-gateway';
import { stripeSecretsFrom } from '../shared/stripe/stripe-secrets';
import { CHECKOUT_PATH, TRIP_PATH } from './checkout-contract';
import { createCheckoutHandler } from './checkout-handler';
import type { TripHandler } from './trip-handler';

const config = loadConfig();
const deadline = new InvocationDeadline();
const logger = createLogger();
const secrets = stripeSecretsFrom(config.stripeSecrets, deadline, secretNotReplacedReporter(logger));
const stripeClient = cachedStripeClient(secrets, { apiBase: config.stripeApiBase, onKeyRejected: stripeKeyRejectionReporter(logger) });
const store = configuredStore(config);
const sessions = new StripeCheckoutSessions(stripeClient, deadline, config.tableName);

const routes: Record<string, (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>> = {
  [`POST ${CHECKOUT_PATH}`]: createCheckoutHandler({ store, checkout: sessions, clock: systemClock, ids: randomIds, holdMinutes: config.holdMinutes, logger }),
  [`GET ${TRIP_PATH}`]: async (event) => (await tripHandler())(event),
};

/**
 * GET /trips/{tripId}, built on its first call: its code (the webhook's parser and payment use case) is a chunk of its
 * own, so a cold start that only serves POST /checkout never parses it. A failed load is tried again on the next call.
 */
let trips: Promise<TripHandler> | undefined;
function tripHandler(): Promise<TripHandler> {
  trips ??= import('./trip-route').then(
    ({ createTripRoute }) => createTripRoute({ store, stripeClient, sessions, deadline, logger, table: config.tableName }),
    (error: unknown) => {
      trips = undefined;
      throw error;
    },
  );
  return trips;
}

/**
 * API Gateway names the route an event came by (`routeKey`); the stack integrates only these two with this function. Each
 * invocation keeps its own end, so that a call to Stripe ends in time for its answer to be used.
 */
export async function handler(event: APIGatewayProxyEventV2, context?: InvocationContext): Promise<APIGatewayProxyStructuredResultV2> {
  const route = routes[event.routeKey];
  return route ? deadline.during(context, () => route(event)) : jsonResponse(404, { message: 'Not Found' });
}
