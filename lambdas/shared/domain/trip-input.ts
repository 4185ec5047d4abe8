// Input schemas and limits for creating and confirming trips: the one place where a trip's shape is checked.
import * as z from '../zod';
import { failure, type BookingFailure } from './errors';
import { guestsPerSlot } from './model';

/** Guests one trip may bring to one slot (its items on the slot added up). Larger groups are a sales conversation, not a checkout. */
export const MAX_GUESTS_PER_ITEM = 50;

/**
 * The most items one trip may hold: the largest trip the store promises to confirm in one atomic write (every
 * item on its own slot). The DynamoDB adapter proves its transaction arithmetic against this number.
 */
export const MAX_TRIP_ITEMS = 32;

/** Stripe's amounts have at most 12 digits, in the currency's minor unit: no payment carries more, in any currency. */
export const MAX_AMOUNT_MINOR_UNITS = 999_999_999_999;

/**
 * The most one guest may pay for one slot, in minor units: a trip of the most items and guests at that price still
 * comes to an amount Stripe carries (and an exact number). Stripe refuses far less for most currencies; that is the
 * account's to say, at checkout (`CHECKOUT_REFUSED`).
 */
export const MAX_SLOT_PRICE = Math.floor(MAX_AMOUNT_MINOR_UNITS / (MAX_TRIP_ITEMS * MAX_GUESTS_PER_ITEM));

/** Returns a TRIP_TOO_LARGE failure when the trip cannot be confirmed in one transaction. */
export function checkTripSize(items: readonly unknown[]): BookingFailure | undefined {
  if (items.length <= MAX_TRIP_ITEMS) return undefined;
  return failure('TRIP_TOO_LARGE', `A trip may hold at most ${MAX_TRIP_ITEMS} items so that it confirms in one transaction; this one has ${items.length}.`);
}

// Ids end up inside composite keys (`SLOT#<id>`), so the key delimiter and anything unprintable are refused.
export const idSchema = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'must be 1-128 letters, digits, "_", "-", "." or ":"'));

/**
 * A user id: what an identity provider calls its users (`auth0|123`, an email-like `a@b`), key-safe: no `#`
 * (the key delimiter), nothing unprintable, at most 128 characters.
 */
export const userIdSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.:@|+-]{0,127}$/, 'must be 1-128 letters, digits, "_", "-", ".", ":", "@", "|" or "+"'));

export const dateSchema = z.string().check(
  z.regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD'),
  z.refine((value) => {
    const parsed = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(value);
  }, 'must be a real calendar date'),
);

export const timeSchema = z.string().check(z.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time as HH:MM (24-hour)'));

export const guestCountSchema = z
  .number({ error: 'must be a number' })
  .check(
    z.refine(Number.isInteger, 'must be a whole number'),
    z.minimum(1, 'must be at least 1'),
    z.maximum(MAX_GUESTS_PER_ITEM, `must be at most ${MAX_GUESTS_PER_ITEM}`),
  );

/**
 * VALIDATION_FAILED on `items` unless the trip brings at most MAX_GUESTS_PER_ITEM guests to each slot, items on the same
 * slot added up: the limit is on a group, however its items are split (four items of 50 on one slot would hold 200 seats).
 */
export function checkGuestsPerSlot(items: readonly { readonly slotId: string; readonly guestCount: number }[]): BookingFailure | undefined {
  const over = [...guestsPerSlot(items)].find(([, count]) => count > MAX_GUESTS_PER_ITEM);
  if (!over) return undefined;
  return failure(
    'VALIDATION_FAILED',
    `items bring ${over[1]} guests to slot ${over[0]}: at most ${MAX_GUESTS_PER_ITEM} to one slot (items on the same slot add up)`,
    {
      field: 'items',
    },
  );
}

export const tripItemSchema = z.strictObject({
  experienceId: idSchema,
  slotId: idSchema,
  guestCount: guestCountSchema,
  date: dateSchema,
  time: timeSchema,
});

/** What checkout sends: date and time are optional because the slot knows them. */
export const createTripInputSchema = z.strictObject({
  tripId: z.optional(idSchema),
  userId: userIdSchema,
  items: z
    .array(
      z.strictObject({
        experienceId: idSchema,
        slotId: idSchema,
        guestCount: guestCountSchema,
        date: z.optional(dateSchema),
        time: z.optional(timeSchema),
      }),
    )
    .check(z.minLength(1, 'must hold at least one item')),
});
export type CreateTripInput = z.infer<typeof createTripInputSchema>;

/** Parses `input` or returns VALIDATION_FAILED naming the first offending field. */
export function parseInput<T>(schema: z.ZodMiniType<T>, input: unknown): { ok: true; value: T } | BookingFailure {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const field = [...issue.path, issue.keys[0]].map(String).join('.');
    return failure('VALIDATION_FAILED', `${field} is not an accepted field`, { field });
  }
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(input)';
  const missing = issue?.code === 'invalid_type' && issue.message.endsWith('received undefined');
  const detail = missing ? 'is required' : (issue?.message ?? 'is invalid');
  return failure('VALIDATION_FAILED', `${field} ${detail}`, { field });
}
