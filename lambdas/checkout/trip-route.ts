// GET /trips/{tripId} as the checkout function serves it: loaded on the first return, so POST /checkout's cold start never parses it.
import type Stripe from 'stripe';
import type { Logger } from '@aws-lambda-powertools/logger';
import { randomIds, systemClock } from '../shared/domain/collaborators';
import type { BookingStore } from '../shared/domain/booking-store';
import type { CallDeadline } from '../shared/invocation-deadline';
import { createMetrics } from '../shared/observability';
import { StripePaymentGateway, type StripeCheckoutSessions } from '../shared/stripe/stripe-gateway';
import { paymentEventOfSession } from './return-event';
import { createTripHandler, type TripHandler } from './trip-handler';

export interface SharedClients {
  readonly store: BookingStore;
  readonly stripeClient: () => Promise<Stripe>;
  readonly sessions: StripeCheckoutSessions;
  /** The invocation's end, which the sessions' lookups already keep to; the refunds a return may make keep to it too. */
  readonly deadline: CallDeadline;
  readonly logger: Logger;
  /** The deployment's table, as the webhook reads sessions with it. */
  readonly table: string;
}

export function createTripRoute({ store, stripeClient, sessions, deadline, logger, table }: SharedClients): TripHandler {
  return createTripHandler({
    store,
    gateway: new StripePaymentGateway(stripeClient, deadline),
    sessions,
    paymentEventOf: (session) => paymentEventOfSession(session, table),
    clock: systemClock,
    ids: randomIds,
    logger,
    metrics: createMetrics(),
  });
}
