// GET /trips/{tripId} as the checkout function serves it: loaded on the first return, so POST /checkout's cold start never parses it.
import type Stripe from 'stripe';
import type { Logger } from '@aws-lambda-powertools/logger';
import { randomIds, systemClock } from '../shared/domain/collaborators';
import type { BookingStore } from '../shared/domain/booking-store';
import { createMetrics } from '../shared/observability';
import { StripePaymentGateway, type StripeCheckoutSessions } from '../shared/stripe/stripe-gateway';
import { paymentEventOfSession } from './return-event';
import { createTripHandler, type TripHandler } from './trip-handler';

export interface SharedClients {
  readonly store: BookingStore;
  readonly stripeClient: () => Promise<Stripe>;
  readonly sessions: StripeCheckoutSessions;
  readonly logger: Logger;
}

export function createTripRoute({ store, stripeClient, sessions, logger }: SharedClients): TripHandler {
  return createTripHandler({
    store,
    gateway: new StripePaymentGateway(stripeClient),
    sessions,
    paymentEventOf: paymentEventOfSession,
    clock: systemClock,
    ids: randomIds,
    logger,
    metrics: createMetrics(),
  });
}
