// Test helpers for the reconciliation sweep: its handler as the Lambda builds it, its refunds due resumed, over a Stripe fake, and a later clock to run it at.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { vi } from 'vitest';
import { randomIds, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { PaymentEventSource, PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { createStripeReconciler } from '../../lambdas/stripe-reconciler/reconciler';
import { resumeRequestedRefunds } from '../../lambdas/shared/domain/resume-refunds';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { uniqueId } from './store';

const MINUTE_MS = 60_000;

/** A clock stopped `ms` after now (before it, when negative). */
export const timeFromNow = (ms: number): Clock => {
  const at = new Date(Date.now() + ms);
  return { now: () => at };
};

/** The time a sweep runs at: `minutes` after now, so events made now are past the settle delay. */
export const minutesLater = (minutes: number): Clock => timeFromNow(minutes * MINUTE_MS);

/**
 * resumeRequestedRefunds as the sweep runs it at `clock`, over `store` as the sweep at `fake` (its own Stripe account) sees
 * it; as a sweep of its own (beginning at the oldest) unless `sweep` names one whose place runs carry over.
 */
export function resumeRefundsAt(
  fake: StripeFake,
  store: DynamoDbBookingStore,
  options: { readonly clock: Clock; readonly gateway?: PaymentGateway; readonly limit?: number; readonly sweep?: string },
) {
  return resumeRequestedRefunds(
    {
      store: scopedToAccount(fake, store),
      gateway: options.gateway ?? new StripePaymentGateway(async () => fake.client()),
      clock: options.clock,
      ids: randomIds,
    },
    { sweep: options.sweep ?? uniqueId('sweep'), ...(options.limit !== undefined && { limit: options.limit }) },
  );
}

export interface ReconcilerOptions {
  readonly clock?: Clock;
  readonly cursor?: string;
  readonly events?: PaymentEventSource;
  readonly gateway?: PaymentGateway;
  readonly mode?: StripeMode;
}

/**
 * `store` as a sweep at `fake` sees it. The file's table holds the payments of each of its tests, and each test's fake is a
 * Stripe account of its own: its sweep asks again for the refunds due of the payments that account holds, and leaves the
 * others' alone (their account would have said "no such payment", and set them in front of a person mid-test).
 */
export function scopedToAccount(fake: StripeFake, store: DynamoDbBookingStore): DynamoDbBookingStore {
  const scoped = Object.create(store) as DynamoDbBookingStore;
  scoped.listRefundsDue = async (limit, after) =>
    (await store.listRefundsDue(10_000, after)).filter((due) => fake.payment(due.paymentId) !== undefined).slice(0, limit);
  return scoped;
}

/** A reconciler as the Lambda builds it, on a cursor of the test's own; `metric(name)` sums what it published under that name. */
export function testReconciler(fake: StripeFake, store: DynamoDbBookingStore, options: ReconcilerOptions = {}) {
  const metrics = new Metrics({ namespace: 'test', serviceName: 'test', singleMetric: false });
  const added = vi.spyOn(metrics, 'addMetric');
  const run = createStripeReconciler({
    store: scopedToAccount(fake, store),
    events: options.events ?? new StripeEventSource(async () => fake.client()),
    gateway: options.gateway ?? new StripePaymentGateway(async () => fake.client()),
    clock: options.clock ?? minutesLater(10),
    ids: randomIds,
    mode: async () => options.mode ?? 'test',
    table: store.tableName,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    metrics,
    cursor: options.cursor ?? uniqueId('cursor'),
  });
  return {
    run,
    metric: (name: string): number => added.mock.calls.filter(([metric]) => metric === name).reduce((sum, [, , value]) => sum + Number(value), 0),
  };
}
