// The scheduled reconciliation sweep's contract: one run of reconcileEvents over Stripe's list of events, its metrics and
// logs, and a failed invocation when it had to stop at an event.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { PaymentDeps } from '../shared/domain/collaborators';
import type { PaymentEventSource } from '../shared/domain/payment-gateway';
import { reconcileEvents, type ReconcileResult, type ReconcileStore } from '../shared/domain/reconcile-events';
import { METRIC } from '../shared/observability';
import type { StripeMode } from '../shared/stripe/stripe-contract';
import {
  answerOfProcessing,
  countOutcome,
  describeError,
  eventProcessor,
  outcomeOf,
  type EventProcessing,
  type MetricName,
} from '../stripe-webhook/event-processing';
import { HANDLED_EVENT_TYPES } from '../stripe-webhook/webhook-contract';

/** The cursor of the scheduled sweep of Stripe's events: one Stripe account per deployment. */
export const STRIPE_CURSOR = 'stripe';

/** Kept back from the function's remaining time: the cursor's write and the metrics after the last event begun. */
const MARGIN_MS = 20_000;

export interface StripeReconcilerDeps extends Omit<PaymentDeps, 'store'> {
  readonly store: ReconcileStore;
  /** Stripe's list of events. */
  readonly events: PaymentEventSource;
  /** The deployment's mode, as the webhook reads it: events of the other mode are never acted on. */
  readonly mode: () => Promise<StripeMode>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Whose cursor this sweep moves. @default STRIPE_CURSOR */
  readonly cursor?: string;
}

/** What one run did, as the function returns it (and its last log line says). */
export interface ReconcilerSummary {
  /** The creation times swept, ISO 8601, both included. */
  readonly from: string;
  readonly to: string;
  readonly listed: number;
  readonly alreadyProcessed: number;
  readonly processed: number;
  /** Events the run found that no webhook delivery had processed and Stripe lists as not delivered (the MissedDeliveries metric). */
  readonly missedDeliveries: number;
  /** Where the next run goes on from, ISO 8601. */
  readonly resumeAt?: string;
}

/** The run stopped at an event that failed (or could not list): the cursor stays there, and the invocation fails so it shows. */
export class ReconciliationStoppedError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ReconciliationStoppedError';
  }
}

export type StripeReconciler = (event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<ReconcilerSummary>;

const isoOf = (seconds: number): string => new Date(seconds * 1000).toISOString();

export function createStripeReconciler(deps: StripeReconcilerDeps): StripeReconciler {
  const { logger, metrics } = deps;
  const count = (metric: MetricName): void => {
    metrics.addMetric(metric, MetricUnit.Count, 1);
  };
  const process = eventProcessor({ ...deps, count });

  return async (_event, context) => {
    try {
      const result = await reconcileEvents(
        { store: deps.store, events: deps.events, clock: deps.clock, process, answerOf: answerOfProcessing },
        {
          span: { kind: 'cursor', source: deps.cursor ?? STRIPE_CURSOR },
          types: HANDLED_EVENT_TYPES,
          ...(context && { timeLeft: () => context.getRemainingTimeInMillis() - MARGIN_MS }),
        },
      );
      return report(result);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

  /** Counts what this run did, logs it, and fails the invocation when the run stopped at a failure. */
  function report(result: ReconcileResult<EventProcessing>): ReconcilerSummary {
    let missedDeliveries = 0;
    for (const reconciled of result.events) {
      if (reconciled.status !== 'processed') continue;
      // What another delivery did is counted where it was done: only this run's own changes count here.
      if (reconciled.acted && reconciled.processed.kind === 'handled') countOutcome(count, reconciled.processed.result);
      if (reconciled.missedDelivery) {
        missedDeliveries++;
        logger.warn('Processed an event no webhook delivery had processed', {
          stripeEventId: reconciled.event.id,
          eventType: reconciled.event.type,
          created: isoOf(reconciled.event.created),
          outcome: outcomeOf(reconciled.processed),
        });
      }
    }
    const stopped = result.stopped;
    if (stopped?.reason === 'failed' && stopped.missedDelivery) missedDeliveries++;
    if (missedDeliveries > 0) metrics.addMetric(METRIC.missedDeliveries, MetricUnit.Count, missedDeliveries);
    if (result.gap) {
      logger.error('The cursor was older than the events Stripe still lists: events created in between can no longer be reconciled', {
        from: isoOf(result.gap.from),
        to: isoOf(result.gap.to),
      });
    }
    const summary: ReconcilerSummary = {
      from: isoOf(result.from),
      to: isoOf(result.to),
      listed: result.events.length + (stopped?.reason === 'failed' && stopped.event ? 1 : 0),
      alreadyProcessed: result.events.filter((reconciled) => reconciled.status === 'already_processed').length,
      processed: result.events.filter((reconciled) => reconciled.status === 'processed').length,
      missedDeliveries,
      ...(result.cursor && { resumeAt: isoOf(result.cursor.resumeAt) }),
    };
    if (stopped?.reason === 'failed') {
      const at = stopped.event ? { stripeEventId: stopped.event.id, eventType: stopped.event.type, created: isoOf(stopped.event.created) } : {};
      if (stopped.retryable) {
        count(METRIC.retryLater);
        logger.warn('Stopped where Stripe or DynamoDB could not answer for now: the next run starts there again', {
          ...at,
          summary,
          error: describeError(stopped.error),
        });
      } else {
        logger.error('Stopped at an unexpected failure: the next run starts there again', { ...at, summary, error: describeError(stopped.error) });
      }
      const where = stopped.event ? `at event ${stopped.event.id}` : 'listing Stripe’s events';
      throw new ReconciliationStoppedError(`The reconciliation sweep stopped ${where}`, { cause: stopped.error });
    }
    if (stopped?.reason === 'out_of_time') logger.info('Out of time: the next run goes on from the cursor', { summary });
    else if (summary.processed > 0) logger.info('Reconciled Stripe’s events', { summary });
    return summary;
  }
}
