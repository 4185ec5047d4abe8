// The service-to-service contract of create-booking (invoked with IAM, no public route), over the same confirmation core.
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from '../shared/zod';
import type { Deps } from '../shared/domain/collaborators';
import { confirmTrip, type ConfirmTripResult } from '../shared/domain/confirm-trip';
import { failure, StoreUnavailableError, type BookingErrorCode } from '../shared/domain/errors';
import type { Trip, TripItem } from '../shared/domain/model';
import { checkTripSize, idSchema, parseInput, tripItemSchema, userIdSchema } from '../shared/domain/trip-input';

/** Exactly the original design's request; unknown fields are refused, as everywhere. */
export const createBookingRequestSchema = z.strictObject({
  paymentId: idSchema,
  tripId: idSchema,
  userId: userIdSchema,
  tripItems: z.array(tripItemSchema).check(z.minLength(1, 'must hold at least one item')),
});

/** The original design's request: `tripItems` rather than `items`, otherwise the confirmation's input. */
export interface CreateBookingRequest {
  readonly paymentId: string;
  readonly tripId: string;
  readonly userId: string;
  readonly tripItems: readonly { experienceId: string; slotId: string; guestCount: number; date: string; time: string }[];
}

export interface CreateBookingResponse {
  readonly success: boolean;
  readonly bookings?: readonly { id: string; reference: string; experienceId: string; status: 'confirmed' | 'cancelled' }[];
  readonly error?: string;
  readonly errorCode?: BookingErrorCode;
  /** Per-slot counts for the slot error codes. */
  readonly slots?: readonly { slotId: string; code: string; requested: number; available?: number }[];
}

export interface CreateBookingDeps extends Deps {
  readonly logger: Logger;
}

export type CreateBookingHandler = (request: unknown) => Promise<CreateBookingResponse>;

export function createBookingHandler(deps: CreateBookingDeps): CreateBookingHandler {
  return async (request) => {
    const parsed = parseInput(createBookingRequestSchema, request);
    if (!parsed.ok) return { success: false, error: parsed.message, errorCode: parsed.errorCode };
    const result = await confirmRequestedTrip(deps, parsed.value);
    if (result.ok) {
      deps.logger.info('Confirmed a trip', { tripId: result.tripId, replayed: result.replayed, outcome: 'booked' });
      return {
        success: true,
        bookings: result.bookings.map(({ id, reference, experienceId, status }) => ({ id, reference, experienceId, status })),
      };
    }
    deps.logger.warn('Refused a confirmation', { errorCode: result.errorCode, outcome: 'refused' });
    return { success: false, error: result.message, errorCode: result.errorCode, ...(result.slots && { slots: result.slots }) };
  };
}

/** The stored trip, checked against what the caller says it paid for, then confirmed. */
async function confirmRequestedTrip(deps: Deps, request: CreateBookingRequest): Promise<ConfirmTripResult> {
  const tooLarge = checkTripSize(request.tripItems);
  if (tooLarge) return tooLarge;
  let stored: Trip | undefined;
  try {
    stored = await readTrip(deps, request.tripId);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return failure('TRANSACTION_FAILED', 'The booking store is unavailable; the confirmation can be retried.', { retryable: true });
  }
  if (!stored) return failure('TRIP_NOT_FOUND', `Trip ${request.tripId} does not exist.`);
  // A request that names another user or other items learns nothing of the trip, not even a replay's bookings.
  const matched = tripAsRequested(stored, request);
  if ('mismatch' in matched) return failure('TRIP_MISMATCH', matched.mismatch);
  return confirmTrip(deps, { trip: matched.trip, paymentId: request.paymentId });
}

/** Reads the trip; when every attempt lost its answer, once more: a retried confirmation should not fail on a read. */
async function readTrip(deps: Deps, tripId: string): Promise<Trip | undefined> {
  try {
    return await deps.store.getTrip(tripId);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError) || !error.maybeCommitted) throw error;
    return deps.store.getTrip(tripId);
  }
}

/**
 * The stored trip with its items in the order the request lists them (the response answers in that order and
 * carries no slot to match a booking by), or why the request does not describe it (another user, other items).
 */
function tripAsRequested(trip: Trip, request: CreateBookingRequest): { trip: Trip } | { mismatch: string } {
  if (trip.userId !== request.userId) return { mismatch: `Trip ${trip.tripId} belongs to another user.` };
  const itemKey = (item: TripItem): string => [item.experienceId, item.slotId, item.guestCount, item.date, item.time].join('|');
  const unused = trip.items.map((item, index) => ({ key: itemKey(item), index }));
  const order: number[] = [];
  for (const item of request.tripItems) {
    const found = unused.findIndex((candidate) => candidate.key === itemKey(item));
    const [taken] = found < 0 ? [] : unused.splice(found, 1);
    if (!taken) return { mismatch: `The items do not match those of trip ${trip.tripId}.` };
    order.push(taken.index);
  }
  if (unused.length > 0) return { mismatch: `The items do not match those of trip ${trip.tripId}.` };
  const inOrder = <T>(list: readonly T[]): T[] => order.flatMap((index) => (index < list.length ? [list[index] as T] : []));
  return { trip: { ...trip, items: inOrder(trip.items), ...(trip.itemAmounts && { itemAmounts: inOrder(trip.itemAmounts) }) } };
}
