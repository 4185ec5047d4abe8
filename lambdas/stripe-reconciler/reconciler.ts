// The scheduled reconciliation sweep's contract: one run of resumeRequestedRefunds and of reconcileEvents over Stripe's list
// of events, their metrics and logs, and a failed invocation when it had to stop at an event.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { PaymentDeps } from '../shared/domain/collaborators';
import type { PaymentEventSource } from '../shared/domain/payment-gateway';
import { reconcileEvents, type ReconcileResult, type ReconcileStore } from '../shared/domain/reconcile-events';
import { resumeRequestedRefunds, type RefundsDueQuery, type ResumedRefunds } from '../shared/domain/resume-refunds';
import { describeError, METRIC } from '../shared/observability';
import type { StripeMode } from '../shared/stripe/stripe-contract';
import { answerOfProcessing, countPaymentEffects, eventProcessor, outcomeOf, type EventProcessing, type MetricName } from '../stripe-webhook/event-processing';
import { HANDLED_EVENT_TYPES } from '../stripe-webhook/webhook-contract';

/** The scheduled sweep of Stripe's events: its cursors (one per mode) and its place in the refunds due. */
export const STRIPE_CURSOR = 'stripe';

/**
 * The cursor of `sweep` in the events of `mode`. Stripe's test and live events are two lists: a sweep run for a while
 * with a key of the other mode (a mistake, put right later) goes on in that mode's list only, and the deployment's own
 * resumes where it was, so the payments delivered meanwhile (and ignored as of the other mode) are found. The test
 * mode's keeps the name the one cursor had before.
 */
export function cursorOf(sweep: string, mode: StripeMode): string {
  return mode === 'test' ? sweep : `${sweep}-live`;
}

/**
 * The first sweep with a cursor per mode, of either mode, copies the one cursor the versions before kept (under the test
 * mode's name) to the live cursor, unless that one says test: where it was, and any events it held to process once
 * more, whose refunds are in no list of refunds due. The versions that held such events wrote no mode, so a cursor
 * without one may be a live deployment's; and a test sweep first (a key of the other mode for a while) would drop them,
 * as of the other mode, from the cursor it shares with them. A test deployment's copy is never read. Once the live
 * cursor exists, nothing is done; the copy keeps the old cursor's time, so the operator commands' mode check still
 * goes by the cursor a sweep moved last.
 */
async function carryOverOneCursor(store: ReconcileStore, sweep: string): Promise<void> {
  const live = cursorOf(sweep, 'live');
  if ((await store.getEventCursor(live)) !== undefined) return;
  const before = await store.getEventCursor(sweep);
  if (before !== undefined && before.mode !== 'test') await store.moveEventCursor({ ...before, source: live });
}

/**
 * Kept back from the function's remaining time: what the last event or refund begun may take (a refund Stripe is slow on:
 * its client's timeouts and retries, about 25 s) and the cursor's write. Cut short all the same, nothing is lost: the
 * refund stays requested (the next run asks again, same key), and the event is listed again from the cursor.
 */
const MARGIN_MS = 30_000;

/** The share of a run's time the refunds due may begin payments in; the rest is the events'. */
const REFUNDS_SHARE = 0.5;

export interface StripeReconcilerDeps extends Omit<PaymentDeps, 'store'> {
  readonly store: ReconcileStore & RefundsDueQuery;
  /** Stripe's list of events. */
  readonly events: PaymentEventSource;
  /** The deployment's mode, as the webhook reads it: events of the other mode are never acted on. */
  readonly mode: () => Promise<StripeMode>;
  /** The deployment's table: another deployment's sessions and charges on the same Stripe account are its own. */
  readonly table: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Whose cursors this sweep moves (cursorOf) and whose place in the refunds due it keeps. @default STRIPE_CURSOR */
  readonly cursor?: string;
  /**
   * True once the run under way was asked to end before its time (a local stack stopping, its remaining time then 0):
   * it ends as out of time without taking that for the account's pace. A Lambda's run only ever runs out of time.
   */
  readonly interrupted?: () => boolean;
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
  /** Events recorded whose refund Stripe did not take: asked again with the refunds due. */
  readonly deferred: number;
  /** Payments whose requested refunds this run asked Stripe for again and recorded the answers of. */
  readonly refundsResumed: number;
  /** Payments still waiting on Stripe for a refund, over an hour after it was stored (the OverdueRefunds metric). */
  readonly overdueRefunds: number;
  /** Where the next run goes on from, ISO 8601. */
  readonly resumeAt?: string;
  /**
   * The creation times, ISO 8601, between the cursor and the oldest event Stripe still lists (the EventsBeyondReach
   * metric): the sweep was off longer than Stripe keeps events, and what was created then can no longer be reconciled.
   */
  readonly eventsBeyondReach?: { readonly from: string; readonly to: string };
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

/** The run's time less MARGIN_MS: the refunds due may begin payments in its first REFUNDS_SHARE, the events in all of it left. */
function runBudget(context: Pick<Context, 'getRemainingTimeInMillis'>): { refunds: () => number; events: () => number } {
  const usable = (): number => context.getRemainingTimeInMillis() - MARGIN_MS;
  const keptForEvents = usable() * (1 - REFUNDS_SHARE);
  return { refunds: () => usable() - keptForEvents, events: usable };
}

export function createStripeReconciler(deps: StripeReconcilerDeps): StripeReconciler {
  const { logger, metrics } = deps;
  const count = (metric: MetricName): void => {
    metrics.addMetric(metric, MetricUnit.Count, 1);
  };
  const process = eventProcessor({ ...deps, count });

  const sweep = deps.cursor ?? STRIPE_CURSOR;

  return async (_event, context) => {
    try {
      const budget = context && runBudget(context);
      // Refunds first, so a long backlog of events (a first run) never keeps money from going back; within their share,
      // so refunds Stripe is slow on never keep a lost payment from being booked.
      const refunds = await resumeRequestedRefunds(deps, { sweep, ...(budget && { timeLeft: budget.refunds }) }).catch((error: unknown) => {
        // The list of refunds due could not be read (DynamoDB): the events are swept all the same, the refunds next run.
        count(METRIC.retryLater);
        logger.error('Could not list the refunds due: the next run asks for them', { error: describeError(error) });
        return { payments: [], overdue: 0, more: true };
      });
      const mode = await deps.mode();
      await carryOverOneCursor(deps.store, sweep);
      const result = await reconcileEvents(
        { store: deps.store, events: deps.events, clock: deps.clock, process, answerOf: answerOfProcessing, onEventsBeyondReach },
        {
          span: { kind: 'cursor', source: cursorOf(sweep, mode), mode },
          types: HANDLED_EVENT_TYPES,
          ...(budget && { timeLeft: budget.events }),
          ...(deps.interrupted && { interrupted: deps.interrupted }),
        },
      );
      return report(reportRefunds(refunds), result);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

  /**
   * Counted, logged and published at once, before the cursor moves past it: a run that fails (or is cut short) after
   * that would otherwise leave nothing to say it, as the next run finds its cursor within Stripe's list.
   */
  function onEventsBeyondReach(gap: { readonly from: number; readonly to: number }): void {
    count(METRIC.eventsBeyondReach);
    metrics.publishStoredMetrics();
    logger.error('The cursor was older than the events Stripe still lists: events created in between can no longer be reconciled', {
      from: isoOf(gap.from),
      to: isoOf(gap.to),
    });
  }

  /** Counts and logs what became of the refunds due; the run goes on whatever it was. */
  function reportRefunds(refunds: ResumedRefunds): Pick<ReconcilerSummary, 'refundsResumed' | 'overdueRefunds'> {
    let refundsResumed = 0;
    for (const resumed of refunds.payments) {
      switch (resumed.status) {
        case 'answered': {
          refundsResumed++;
          count(METRIC.refundsResumed);
          const { record } = resumed;
          if (record.status === 'needs_attention') count(METRIC.paymentsNeedingAttention);
          logger.info('Asked Stripe again for a refund no call was asking for any more', {
            paymentId: record.paymentId,
            ...(record.tripId !== undefined && { tripId: record.tripId }),
            status: record.status,
          });
          break;
        }
        case 'unavailable':
          logger.warn('Stripe or DynamoDB could not answer for a refund due: the next run asks again', {
            paymentId: resumed.paymentId,
            requestedAt: resumed.requestedAt,
            error: describeError(resumed.error),
          });
          break;
        case 'failed':
          logger.error('A refund due could not be asked for: the next run tries again', {
            paymentId: resumed.paymentId,
            requestedAt: resumed.requestedAt,
            error: describeError(resumed.error),
          });
          break;
        case 'already_answered':
          break;
      }
    }
    if (refunds.positionError !== undefined) {
      logger.warn('Could not read or keep where this run stopped in the refunds due: some wait a run longer', {
        error: describeError(refunds.positionError),
      });
    }
    if (refunds.overdue > 0) {
      metrics.addMetric(METRIC.overdueRefunds, MetricUnit.Count, refunds.overdue);
      logger.warn('Refunds still unanswered by Stripe over an hour after they were stored', { overdueRefunds: refunds.overdue, more: refunds.more });
    }
    return { refundsResumed, overdueRefunds: refunds.overdue };
  }

  /** Counts what this run did, logs it, and fails the invocation when the run stopped at a failure. */
  function report(refunds: Pick<ReconcilerSummary, 'refundsResumed' | 'overdueRefunds'>, result: ReconcileResult<EventProcessing>): ReconcilerSummary {
    let missedDeliveries = 0;
    let deferred = 0;
    for (const reconciled of result.events) {
      if (reconciled.status === 'already_processed') continue;
      if (reconciled.status === 'deferred') {
        deferred++;
        if (reconciled.missedDelivery) missedDeliveries++;
        logger.warn('Recorded an event whose refund Stripe did not take: the refund is asked again with the refunds due', {
          stripeEventId: reconciled.event.id,
          eventType: reconciled.event.type,
          created: isoOf(reconciled.event.created),
          missedDelivery: reconciled.missedDelivery,
          error: describeError(reconciled.error),
        });
        continue;
      }
      // What another delivery did is counted where it was done: only this run's own changes count here, and never as a
      // duplicate delivery (a record of ours that says duplicate is no delivery made twice).
      if (reconciled.acted && reconciled.processed.kind === 'handled') countPaymentEffects(count, reconciled.processed.result);
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
    if (missedDeliveries > 0) metrics.addMetric(METRIC.missedDeliveries, MetricUnit.Count, missedDeliveries);
    const eventsBeyondReach = result.gap && { from: isoOf(result.gap.from), to: isoOf(result.gap.to) };
    const summary: ReconcilerSummary = {
      from: isoOf(result.from),
      to: isoOf(result.to),
      listed: result.events.length + (stopped?.reason === 'failed' && stopped.event ? 1 : 0),
      alreadyProcessed: result.events.filter((reconciled) => reconciled.status === 'already_processed').length,
      processed: result.events.filter((reconciled) => reconciled.status === 'processed').length,
      missedDeliveries,
      deferred,
      ...refunds,
      ...(result.cursor && { resumeAt: isoOf(result.cursor.resumeAt) }),
      ...(eventsBeyondReach && { eventsBeyondReach }),
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
    if (result.stalled) {
      // Nothing moved in a whole run: the next, starting at the same place, may do no better. Said as a failure, so it alarms.
      logger.error('Out of time without moving the cursor or acting on an event: events too dense or Stripe too slow for a run', { summary });
      throw new ReconciliationStoppedError('The reconciliation sweep made no progress in its run');
    }
    if (stopped?.reason === 'out_of_time') logger.info('Out of time: the next run goes on from the cursor', { summary });
    else if (summary.processed > 0 || summary.refundsResumed > 0) logger.info('Reconciled Stripe’s events', { summary });
    return summary;
  }
}
