// The HTTP contract of GET /trips/{tripId}: whose trip, one use case, the trip as JSON — never a 5xx because Stripe is slow.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { StoreUnavailableError } from '../shared/domain/errors';
import { seatsHeldUntil, type Booking, type PaymentRecord, type Trip } from '../shared/domain/model';
import { chargedInAnotherCurrency } from '../shared/domain/payment-ledger';
import { showTrip, showTripInputSchema, type ProviderCheck, type ShowTripDeps, type TripShown } from '../shared/domain/show-trip';
import { parseInput } from '../shared/domain/trip-input';
import { internalError, jsonResponse } from '../shared/http';
import { METRIC } from '../shared/observability';
import { countPaymentEffects, type MetricName } from '../stripe-webhook/event-processing';
import { callerUser } from './caller';
import { TRIP_PATH } from './checkout-contract';

// Re-exported for the local server and the tests, which reach the handler's contract through the handler.
export { TRIP_PATH };

export interface TripHandlerDeps extends ShowTripDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export type TripHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The trip changes while its payment is processed, and it is one traveller's: no cache may keep it. */
const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** Only a confirmation's record can say another currency than its trip's: its session charged otherwise. */
function inTripCurrency(payment: PaymentRecord, trip: Trip): boolean {
  return !chargedInAnotherCurrency(payment, trip.currency);
}

/** Every answer of the route, refusals too: a trip's state is never served from a cache. */
function answer(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return { ...jsonResponse(status, body), headers: { ...HEADERS, ...headers } };
}

/** Why a trip's money went back; other states' reasons are our own notes, not the traveller's. */
const STATES_WITH_A_REASON: readonly Trip['status'][] = ['refund_pending', 'refunded', 'cancelled'];

/** The answer's shape: every key always present (null when it does not apply), amounts in the currency's minor unit. */
export function tripAnswer(trip: Trip, bookings: readonly Booking[], payment: PaymentRecord | undefined, now: Date): Record<string, unknown> {
  return {
    tripId: trip.tripId,
    status: trip.status,
    statusReason: STATES_WITH_A_REASON.includes(trip.status) ? (trip.statusReason ?? null) : null,
    amount: trip.amount,
    currency: trip.currency,
    // Figures of the answer's currency only: a payment charged in another (a person's to look at) is not stated as this one.
    paid: payment && inTripCurrency(payment, trip) ? payment.amountPaid : null,
    refunded: payment && inTripCurrency(payment, trip) ? payment.amountRefunded : null,
    holdExpiresAt: seatsHeldUntil(trip, now) ?? null,
    items: trip.items.map((item, index) => ({
      slotId: item.slotId,
      experienceId: item.experienceId,
      date: item.date,
      time: item.time,
      guestCount: item.guestCount,
      amount: trip.itemAmounts?.[index] ?? null,
    })),
    bookings: bookings.map((booking) => ({
      reference: booking.reference,
      slotId: booking.slotId,
      experienceId: booking.experienceId,
      date: booking.date,
      time: booking.time,
      guestCount: booking.guestCount,
      amount: booking.amount ?? null,
      status: booking.status,
    })),
    createdAt: trip.createdAt,
    updatedAt: trip.updatedAt,
  };
}

export function createTripHandler(deps: TripHandlerDeps): TripHandler {
  const { logger, metrics } = deps;

  const count = (metric: MetricName): void => {
    metrics.addMetric(metric, MetricUnit.Count, 1);
  };

  /** What a return brought about, counted as the webhook counts it (so the payment alarms see it); plus the returns' own. */
  function record(check: ProviderCheck): void {
    if (check.kind === 'unavailable') count(METRIC.returnChecksUnavailable);
    if (check.kind !== 'handled') return;
    countPaymentEffects(count, check.result);
    if (check.result.outcome === 'booked') count(METRIC.bookedOnReturn);
  }

  function log(shown: TripShown): void {
    const { check } = shown;
    const fields = { tripId: shown.trip.tripId, status: shown.trip.status, check: check.kind };
    switch (check.kind) {
      case 'not_asked':
      case 'asked_recently':
      case 'not_paid':
        logger.info('Showed a trip', fields);
        return;
      case 'handled':
        (check.result.outcome === 'needs_attention' ? logger.warn : logger.info).call(logger, 'Handled a paid session on its traveller’s return', {
          ...fields,
          outcome: check.result.outcome,
          rule: check.result.rule,
          ...(check.result.reason && { reason: check.result.reason }),
        });
        return;
      case 'not_ours':
        logger.warn('The session recorded on a waiting trip is unknown to Stripe or not the trip’s own', fields);
        return;
      case 'unusable':
        logger.warn('A paid session on its traveller’s return is in a shape we cannot act on', { ...fields, problem: check.problem });
        return;
      case 'unavailable':
      case 'deferred':
        logger.warn('Answered a waiting trip as stored: its payment could not be checked or carried out now', { ...fields, problem: check.message });
        return;
    }
    check satisfies never;
  }

  return async (event) => {
    try {
      const user = callerUser(event, event.queryStringParameters?.userId);
      if (!user.ok) return answer(403, { error: user.error, message: user.message });
      const input = parseInput(showTripInputSchema, { tripId: event.pathParameters?.tripId, userId: user.userId });
      if (!input.ok) return answer(400, { error: input.errorCode, field: input.field, message: input.message });
      const result = await showTrip(deps, input.value);
      if (!result.ok) {
        if (result.unreadable) {
          count(METRIC.unreadableTrips);
          logger.error('A stored trip no longer reads: answered as a missing one', {
            tripId: input.value.tripId,
            entity: result.unreadable.entity,
            problem: result.unreadable.message,
          });
        }
        return answer(404, { error: result.errorCode, message: result.message });
      }
      record(result.check);
      log(result);
      return answer(200, tripAnswer(result.trip, result.bookings, result.payment, deps.clock.now()));
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        logger.warn('The table did not answer a trip’s read', { error: error.message });
        return answer(503, { error: 'STORE_UNAVAILABLE', message: 'The trip could not be read; try again.' }, { 'retry-after': '2' });
      }
      logger.error('Unexpected failure showing a trip', { error: error instanceof Error ? { name: error.name, message: error.message } : 'non-error' });
      return { ...internalError(), headers: HEADERS };
    } finally {
      // A return that counted nothing publishes nothing: Powertools would log a warning for every such call.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
