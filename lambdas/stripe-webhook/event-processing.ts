// What a Stripe event goes through once it is known to be Stripe's (a verified webhook delivery, or an event the reconciliation
// sweep read from Stripe's list): parse, mode check, unusable events, handlePaymentEvent. One place, so both act alike.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { BookingStore } from '../shared/domain/booking-store';
import type { PaymentDeps } from '../shared/domain/collaborators';
import { handlePaymentEvent, type PaymentEvent, type PaymentEventResult } from '../shared/domain/payment-events';
import type { ProcessedAnswer } from '../shared/domain/reconcile-events';
import { recordUnusableEvent } from '../shared/domain/unusable-events';
import { METRIC } from '../shared/observability-contract';
import { STRIPE_API_VERSION, type StripeMode } from '../shared/stripe/stripe-contract';
import { parseStripeEvent } from './stripe-events';

/** The decision row of a `refund.*` event of a payment we hold no record of (docs/payment-flow.md). */
const UNKNOWN_PAYMENT_REFUND_RULE = 'refund-event-unknown-payment';

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

export interface EventProcessingDeps extends PaymentDeps {
  /** The deployment's table, as checkout marks its sessions with it (TABLE_MARK): another table's are not ours. */
  readonly table: string;
  /** The deployment's mode, from the Stripe API key that issues its refunds: events of the other mode are never acted on. */
  readonly mode: () => Promise<StripeMode>;
  /** Gets the event's keys appended (`stripeEventId`, `eventType`, `tripId`, `outcome`): the caller resets them once it is done. */
  readonly logger: Logger;
  /** Counts one occurrence of a metric; publishing is the caller's. */
  readonly count: (metric: MetricName) => void;
}

export type EventProcessing =
  /** Not a Stripe event at all (no id, no type). */
  | { readonly kind: 'invalid'; readonly problem: string }
  /** Acknowledged and left alone: a type we do not handle, not ours, a thin event, or (`mode_mismatch`) of the other mode. */
  | { readonly kind: 'ignored'; readonly eventType: string; readonly reason?: 'mode_mismatch' }
  /** Ours, in a shape we cannot act on: kept for a person (`recorded` on the first sight of it), never retried. */
  | { readonly kind: 'unusable'; readonly eventId: string; readonly eventType: string; readonly problem: string; readonly recorded: boolean }
  /**
   * Given to handlePaymentEvent, with what it did. `foreign`: found not to be ours only then (a refund without our refund
   * key, of a payment we hold no record of: another product's), answered as the decision said, and nothing kept of it.
   */
  | { readonly kind: 'handled'; readonly eventType: string; readonly result: PaymentEventResult; readonly foreign?: true };

/**
 * Input: the event's JSON, already known to come from Stripe. Output: what became of it. Throws what
 * handlePaymentEvent throws (RetryLaterError: the same event must be processed again later) and the store's
 * or the secret's failures; every step resumes from stored state, so processing it again is always safe.
 */
export async function processStripeEvent(deps: EventProcessingDeps, json: unknown): Promise<EventProcessing> {
  const { logger, count } = deps;
  const parsed = parseStripeEvent(json, deps.table);
  if (parsed.kind === 'invalid') {
    logger.warn('Refused a signed body that is not a Stripe event', { problem: parsed.problem });
    return { kind: 'invalid', problem: parsed.problem };
  }
  if (parsed.kind === 'ignored') {
    if (parsed.why === 'thin_event') logger.info('Ignored a thin event: this endpoint needs snapshot events', { eventType: parsed.type });
    // Another stack on this Stripe account: its events reach this endpoint (and this sweep) too, and are its own to act on.
    if (parsed.why === 'another_table') logger.info("Ignored an event of another deployment's table", { eventType: parsed.type });
    return { kind: 'ignored', eventType: parsed.type };
  }
  const mode = await deps.mode();
  const eventType = parsed.kind === 'handled' ? parsed.event.eventType : parsed.eventType;
  if (parsed.livemode !== undefined && parsed.livemode !== (mode === 'live')) {
    // A test event in a live deployment (or the reverse): a signing secret of the other mode is configured.
    count(METRIC.modeMismatches);
    logger.warn('Ignored an event of the other mode', { eventType, livemode: parsed.livemode, mode });
    return { kind: 'ignored', eventType, reason: 'mode_mismatch' };
  }
  if (parsed.kind === 'poison') {
    if (parsed.unmarked && !(parsed.unmarkedPaymentId && (await deps.store.getPaymentRecord(parsed.unmarkedPaymentId)))) {
      // Without our mark and of no payment we hold: another product's object, odd or not, is none of ours.
      return { kind: 'ignored', eventType };
    }
    const { recorded } = await recordUnusableEvent(deps, { eventId: parsed.eventId, eventType, problem: parsed.problem });
    if (recorded) count(METRIC.unusableEvents);
    logger.warn('Kept a signed event we cannot act on for a person', {
      stripeEventId: parsed.eventId,
      eventType,
      problem: parsed.problem,
      firstDelivery: recorded,
    });
    return { kind: 'unusable', eventId: parsed.eventId, eventType, problem: parsed.problem, recorded };
  }
  const paymentEvent = parsed.event;
  logger.appendKeys({
    stripeEventId: paymentEvent.eventId,
    eventType: paymentEvent.eventType,
    ...('tripId' in paymentEvent && { tripId: paymentEvent.tripId }),
  });
  // Said once the event's keys are on the line, so it names the event it is about.
  if (parsed.apiVersion !== undefined && parsed.apiVersion !== STRIPE_API_VERSION) {
    logger.warn('An event of another API version: create the endpoint with the pinned one', { apiVersion: parsed.apiVersion, pinned: STRIPE_API_VERSION });
  }
  const result = await handlePaymentEvent(deps, paymentEvent);
  logger.appendKeys({ outcome: result.outcome, ...(result.tripId && { tripId: result.tripId }) });
  if (result.outcome !== 'ignored') {
    const log = result.outcome === 'needs_attention' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('Processed a Stripe event', { rule: result.rule, ...(result.reason && { reason: result.reason }), references: result.references });
  }
  const foreign = isForeignRefund(paymentEvent, result);
  return { kind: 'handled', eventType: paymentEvent.eventType, result, ...(foreign && { foreign }) };
}

/**
 * A refund event none of ours: it names a payment we hold no record of. Every refund we ask for is of a payment whose
 * record was written first (a dashboard refund of one of ours is recorded against our record), so even one carrying a
 * refund key of ours is another deployment's on the same Stripe account (its refunds carry no table). Like a charge
 * without our mark.
 */
function isForeignRefund(event: PaymentEvent, result: PaymentEventResult): boolean {
  return event.kind === 'refund-changed' && result.rule === UNKNOWN_PAYMENT_REFUND_RULE;
}

/**
 * processStripeEvent for a caller that processes many events (the reconciliation sweep): through the store it is given, the
 * event's log keys reset after each one.
 */
export function eventProcessor(deps: Omit<EventProcessingDeps, 'store'>): (json: unknown, store: BookingStore) => Promise<EventProcessing> {
  return async (json, store) => {
    try {
      return await processStripeEvent({ ...deps, store }, json);
    } finally {
      deps.logger.resetKeys();
    }
  };
}

/** What became of an event, in one word for logs and listings: the payment outcome, or why nothing was done. */
export function outcomeOf(processing: EventProcessing): string {
  switch (processing.kind) {
    case 'invalid':
      return 'invalid';
    case 'ignored':
      return processing.reason ?? 'ignored';
    case 'unusable':
      return 'unusable_event';
    case 'handled':
      return processing.result.outcome;
  }
}

/** The metrics a delivered (or reconciled) event's outcome counts: a duplicate delivery, and what the event brought about. */
export function countOutcome(count: (metric: MetricName) => void, result: PaymentEventResult): void {
  if (result.outcome === 'duplicate') count(METRIC.duplicates);
  countPaymentEffects(count, result);
}

/**
 * What a payment event brought about — booked, refunded, set aside, put in front of a person — counted once, by the
 * call that brought it about, wherever the event came from (a delivery, the sweep, a traveller's return). An outcome
 * that repeats what was stored (a redelivery, a reload of the traveller's page) counts nothing: the alarms on these
 * metrics mean "this happened", not "someone asked again".
 */
export function countPaymentEffects(count: (metric: MetricName) => void, result: PaymentEventResult): void {
  if (result.unchanged) return;
  if (result.outcome === 'booked') count(METRIC.confirmations);
  if (result.outcome === 'refunded') count(METRIC.refunds);
  if (result.setAside) count(METRIC.paymentsSetAside);
  if (result.outcome === 'needs_attention') count(METRIC.paymentsNeedingAttention);
}

/** What a processed-event record keeps of the answer to an event of ours; undefined for one that is not ours or was kept as unusable. */
export function answerOfProcessing(processed: EventProcessing): ProcessedAnswer | undefined {
  if (processed.kind !== 'handled' || processed.foreign || processed.result.outcome === 'ignored') return undefined;
  const { outcome, tripId, references } = processed.result;
  return { outcome, ...(tripId !== undefined && { tripId }), ...(references && { references }) };
}
