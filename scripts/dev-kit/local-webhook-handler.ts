// The real webhook handler wired as the local stack, the tests and the benchmark run it: a store of theirs, a Stripe client of their choosing.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type Stripe from 'stripe';
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS } from '../../lambdas/shared/config';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import type { CallDeadline } from '../../lambdas/shared/invocation-deadline';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { createStripeWebhookHandler, type StripeWebhookHandler } from '../../lambdas/stripe-webhook/webhook-handler';

export interface LocalWebhookOptions {
  readonly store: BookingStore;
  /** The store's table: sessions and charges marked for another are another deployment's. */
  readonly table: string;
  /** Where refunds are issued: the local Stripe stand-in's client, or one with a real test key. */
  readonly stripeClient: () => Stripe;
  readonly signingSecrets: () => Promise<readonly string[]>;
  /** The deployment's mode, as the Lambda reads it from its API key. */
  readonly mode: StripeMode;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** @default the system clock */
  readonly clock?: Clock;
  /** When each delivery's invocation ends, as a Lambda's context says; nothing bounds the calls to Stripe without it. */
  readonly deadline?: CallDeadline;
}

/** The signature tolerance and the ids are the Lambda's own; only a test moves the clock. */
export function createLocalWebhookHandler(options: LocalWebhookOptions): StripeWebhookHandler {
  return createStripeWebhookHandler({
    store: options.store,
    gateway: new StripePaymentGateway(async () => options.stripeClient(), options.deadline),
    clock: options.clock ?? systemClock,
    ids: randomIds,
    signingSecrets: options.signingSecrets,
    toleranceSeconds: DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
    mode: async () => options.mode,
    table: options.table,
    logger: options.logger,
    metrics: options.metrics,
  });
}
