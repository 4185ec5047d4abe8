// GET /trips/{tripId} wired as the local stack and the tests run it: a store of theirs, a Stripe client of their choosing.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type Stripe from 'stripe';
import { paymentEventOfSession } from '../../lambdas/checkout/return-event';
import { createTripHandler, type TripHandler } from '../../lambdas/checkout/trip-handler';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { CheckoutSessionLookup } from '../../lambdas/shared/domain/payment-gateway';
import { StripeCheckoutSessions, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';

export interface LocalTripOptions {
  readonly store: BookingStore;
  /** The store's table, as the webhook reads sessions with it. */
  readonly table: string;
  /** Where sessions are read and refunds issued: the local Stripe stand-in's client, or one with a real test key. */
  readonly stripeClient: () => Stripe;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** @default the system clock */
  readonly clock?: Clock;
  /** Another way of reading sessions back (a test's gate in front of the real one). @default the Stripe adapter */
  readonly sessions?: CheckoutSessionLookup;
}

/** The Lambda's own wiring (lambdas/checkout/trip-route.ts), with the client and clock given. */
export function createLocalTripHandler(options: LocalTripOptions): TripHandler {
  const client = async (): Promise<Stripe> => options.stripeClient();
  return createTripHandler({
    store: options.store,
    gateway: new StripePaymentGateway(client),
    sessions: options.sessions ?? new StripeCheckoutSessions(client),
    paymentEventOf: (session) => paymentEventOfSession(session, options.table),
    clock: options.clock ?? systemClock,
    ids: randomIds,
    logger: options.logger,
    metrics: options.metrics,
  });
}
