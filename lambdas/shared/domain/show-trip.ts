// Use case: a traveller's own trip as it is now — booked first, by the webhook's own use case, when the provider says it
// is paid and its webhook has not arrived yet.
import * as z from '../zod';
import type { PaymentDeps } from './collaborators';
import { failure, StoredDataError, type BookingFailure } from './errors';
import { CONFIRMABLE_TRIP_STATUSES, type Booking, type PaymentRecord, type Trip } from './model';
import { handlePaymentEvent, RetryLaterError, type PaymentEvent, type PaymentEventResult } from './payment-events';
import { PaymentGatewayUnavailableError, type CheckoutSessionLookup, type ProviderCheckoutSession } from './payment-gateway';
import { idSchema, userIdSchema } from './trip-input';

export interface ShowTripDeps extends PaymentDeps {
  readonly sessions: CheckoutSessionLookup;
  /**
   * The payment event a paid session stands for, read by the parser the provider's webhook events go through, so both
   * paths hand `handlePaymentEvent` the same event; a problem when its shape is one the webhook would keep for a person.
   */
  readonly paymentEventOf: (session: ProviderCheckoutSession) => { readonly event: PaymentEvent } | { readonly problem: string };
}

export const showTripInputSchema = z.strictObject({ tripId: idSchema, userId: userIdSchema });
export type ShowTripInput = z.infer<typeof showTripInputSchema>;

/**
 * The provider is asked about one waiting trip at most once in this long, whoever asks and however many polls arrive
 * at once: every ask is a request on the account's rate limit, which checkout and refunds share, and a page polling
 * every few seconds would otherwise ask on each poll. Short, because a traveller who just paid is waiting.
 */
export const PROVIDER_CHECK_INTERVAL_MS = 10_000;

/** What asking the provider did, for the entry point's logs and metrics; never part of the traveller's answer. */
export type ProviderCheck =
  /** The trip does not wait for a payment, or no session is recorded on it: the provider was not asked. */
  | { readonly kind: 'not_asked' }
  /**
   * A return asked the provider about this trip less than PROVIDER_CHECK_INTERVAL_MS ago (whatever it answered, or
   * if it did not), or the trip moved since it was read: the stored state is answered, without asking.
   */
  | { readonly kind: 'asked_recently' }
  /** The session is open, complete but not paid yet (a delayed payment method), or expired: nothing to do here. */
  | { readonly kind: 'not_paid'; readonly status?: string }
  /** The provider has no such session, or the one it answered is not the trip's own, marked as ours. */
  | { readonly kind: 'not_ours' }
  /** The session is in a shape the webhook cannot act on either: its delivery keeps it for a person. */
  | { readonly kind: 'unusable'; readonly problem: string }
  /** The provider did not answer in time: the stored state is answered, and the webhook will come. */
  | { readonly kind: 'unavailable'; readonly message: string }
  /** The payment event was handled (booked, a duplicate, refunded…), exactly as its webhook delivery would have been. */
  | { readonly kind: 'handled'; readonly result: PaymentEventResult }
  /** The payment event could not be carried out now (the store or the provider failed); its webhook delivery will. */
  | { readonly kind: 'deferred'; readonly message: string };

export interface TripShown {
  readonly ok: true;
  readonly trip: Trip;
  /** The trip's bookings, in the order of its references. */
  readonly bookings: readonly Booking[];
  /** The record of the payment the trip was booked or refunded with, when there is one. */
  readonly payment?: PaymentRecord;
  readonly check: ProviderCheck;
}

/**
 * TRIP_NOT_FOUND; for a trip that is stored but no longer reads as one, with the problem, for the entry point's logs
 * and metrics only: the answer is the missing trip's, word for word.
 */
export type TripNotShown = BookingFailure & { readonly unreadable?: StoredDataError };

/** One answer for a trip that is not there, one that is someone else's, and one that no longer reads, so ids cannot be probed. */
const notFound = (): BookingFailure => failure('TRIP_NOT_FOUND', 'No such trip.');

/** The trip waits for its payment and knows which payment page it was opened on. */
function waitsForItsPayment(trip: Trip): trip is Trip & { checkoutSessionId: string } {
  return CONFIRMABLE_TRIP_STATUSES.includes(trip.status) && trip.checkoutSessionId !== undefined;
}

/** Only the session recorded on the trip, carrying our mark for this very trip, may move it. */
function isTheTripsOwnSession(session: ProviderCheckoutSession, trip: Trip): boolean {
  return session.sessionId === trip.checkoutSessionId && session.tripId === trip.tripId;
}

/** The provider says the money is there: complete and paid (or with nothing to pay, which the webhook reads as paid). */
function isCompleteAndPaid(session: ProviderCheckoutSession): boolean {
  return session.status === 'complete' && (session.paymentStatus === 'paid' || session.paymentStatus === 'no_payment_required');
}

/**
 * Input: `{ tripId, userId }`, the user as the entry point authenticated them.
 * Output: the trip, its bookings and its payment record as they are after this call, and what asking the provider
 * did; or TRIP_NOT_FOUND, the same for another user's trip, and for a stored trip that no longer reads (whose owner
 * cannot be read either: its owner gets the same answer) or one of whose bookings or payment record no longer does,
 * as for a missing one, so ids cannot be probed.
 * Steps: read the trip → (waiting for its payment, its session recorded) record the check on the trip, unless another
 * return did within PROVIDER_CHECK_INTERVAL_MS → (recorded) ask the provider for that session → (the
 * trip's own session, complete and paid) the payment event the webhook would carry → `handlePaymentEvent`, whose
 * processed-event and payment records make this and the webhook's delivery book once → read what it is now.
 */
export async function showTrip(deps: ShowTripDeps, input: ShowTripInput): Promise<TripShown | TripNotShown> {
  let stored: Trip | undefined;
  try {
    stored = await deps.store.getTrip(input.tripId);
  } catch (error) {
    if (error instanceof StoredDataError && error.entity === 'trip') return { ...notFound(), unreadable: error };
    throw error;
  }
  if (stored === undefined || stored.userId !== input.userId) return notFound();
  const check = waitsForItsPayment(stored) ? await fulfilFromProvider(deps, stored) : ({ kind: 'not_asked' } as const);
  // Read again only when something may have moved it; a trip that vanished since is answered as it was read.
  const trip = check.kind === 'handled' || check.kind === 'deferred' ? ((await deps.store.getTrip(stored.tripId)) ?? stored) : stored;
  try {
    const [bookings, payment] = await Promise.all([
      trip.bookingReferences.length > 0 ? deps.store.getBookings(trip.bookingReferences) : Promise.resolve([]),
      trip.paymentId === undefined ? Promise.resolve(undefined) : deps.store.getPaymentRecord(trip.paymentId),
    ]);
    return { ok: true, trip, bookings, ...(payment && { payment }), check };
  } catch (error) {
    // A booking or the payment record of the trip that no longer reads: the trip cannot be shown as it is, and is answered
    // as one that no longer reads (never a 500 its page would retry for ever), the item named for whoever repairs it.
    if (error instanceof StoredDataError) return { ...notFound(), unreadable: error };
    throw error;
  }
}

async function fulfilFromProvider(deps: ShowTripDeps, trip: Trip & { checkoutSessionId: string }): Promise<ProviderCheck> {
  const now = deps.clock.now();
  const claimed = await deps.store.claimProviderCheck({
    tripId: trip.tripId,
    at: now.toISOString(),
    notCheckedSince: new Date(now.getTime() - PROVIDER_CHECK_INTERVAL_MS).toISOString(),
    whileStatusIn: CONFIRMABLE_TRIP_STATUSES,
  });
  if (!claimed) return { kind: 'asked_recently' };
  let session: ProviderCheckoutSession | undefined;
  try {
    session = await deps.sessions.retrieveSession(trip.checkoutSessionId);
  } catch (error) {
    if (error instanceof PaymentGatewayUnavailableError) return { kind: 'unavailable', message: error.message };
    throw error;
  }
  if (session === undefined || !isTheTripsOwnSession(session, trip)) return { kind: 'not_ours' };
  if (!isCompleteAndPaid(session)) return { kind: 'not_paid', ...(session.status !== undefined && { status: session.status }) };
  const parsed = deps.paymentEventOf(session);
  if ('problem' in parsed) return { kind: 'unusable', problem: parsed.problem };
  try {
    return { kind: 'handled', result: await handlePaymentEvent(deps, parsed.event) };
  } catch (error) {
    // The webhook's delivery of the same payment carries it out later; this answer shows the trip as it is.
    if (error instanceof RetryLaterError) return { kind: 'deferred', message: error.message };
    throw error;
  }
}
