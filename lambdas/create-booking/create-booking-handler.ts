// The service-to-service contract of create-booking (invoked with IAM, no public route), over the same confirmation core.
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from '../shared/zod';
import { confirmTrip, type ConfirmTripDeps } from '../shared/domain/confirm-trip';
import type { BookingErrorCode } from '../shared/domain/errors';
import { confirmTripInputSchema, parseInput, tripItemSchema } from '../shared/domain/trip-input';

/** Exactly the original design's request; unknown fields are refused, as everywhere. */
const createBookingRequestSchema = z.extend(z.omit(confirmTripInputSchema, { items: true }), {
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

export interface CreateBookingDeps extends ConfirmTripDeps {
  readonly logger: Logger;
}

export type CreateBookingHandler = (request: unknown) => Promise<CreateBookingResponse>;

export function createBookingHandler(deps: CreateBookingDeps): CreateBookingHandler {
  return async (request) => {
    const parsed = parseInput(createBookingRequestSchema, request);
    if (!parsed.ok) return { success: false, error: parsed.message, errorCode: parsed.errorCode };
    const { tripItems, ...rest } = parsed.value;
    const result = await confirmTrip(deps, { ...rest, items: tripItems });
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
