// A trip's items as our checkout writes them into its Checkout Session's metadata, and read back from a signed event.
import type { CheckoutTrip } from '../domain/model';
import { dateSchema, guestCountSchema, idSchema, MAX_TRIP_ITEMS, timeSchema } from '../domain/trip-input';
import * as z from '../zod';

/**
 * The keys holding the items: `pulau_items_0`, `pulau_items_1`…, read in order until one is missing. Stripe allows a
 * metadata value 500 characters and an object 50 keys; the largest trip (32 items, ids of 128 characters) needs 21.
 */
export const TRIP_ITEMS_METADATA_PREFIX = 'pulau_items_';
const MAX_VALUE_CHARS = 500;
/** Stripe's own limit on metadata keys, less the trip's mark, the table's and the user id. */
const MAX_ITEM_KEYS = 47;

/** One item as a compact tuple, so the largest trip fits Stripe's limits. */
const itemTuple = z.tuple([
  idSchema,
  idSchema,
  guestCountSchema,
  dateSchema,
  timeSchema,
  z.number().check(z.refine(Number.isInteger, 'must be whole'), z.minimum(0), z.maximum(999_999_999_999)),
]);
const itemsSchema = z.array(itemTuple).check(z.minLength(1), z.maxLength(MAX_TRIP_ITEMS));

/** The metadata entries carrying `trip`'s items, to add to the session's own. */
export function tripItemsMetadata(trip: CheckoutTrip): Record<string, string> {
  if (trip.itemAmounts.length !== trip.items.length) return {};
  const text = JSON.stringify(
    trip.items.map((item, index) => [item.slotId, item.experienceId, item.guestCount, item.date, item.time, trip.itemAmounts[index]]),
  );
  const entries: Record<string, string> = {};
  for (let start = 0, index = 0; start < text.length; start += MAX_VALUE_CHARS, index++) {
    entries[`${TRIP_ITEMS_METADATA_PREFIX}${index}`] = text.slice(start, start + MAX_VALUE_CHARS);
  }
  // Beyond Stripe's limit the session is created without them; its confirmation then reads the trip.
  return Object.keys(entries).length <= MAX_ITEM_KEYS ? entries : {};
}

/**
 * The items a session carries, or undefined when it carries none (a session created before they were written) or
 * none we can read: either way the confirmation reads the trip instead, so nothing here can refuse a payment.
 */
export function checkoutTripOf(metadata: Readonly<Record<string, string>> | null | undefined): CheckoutTrip | undefined {
  if (!metadata) return undefined;
  let text = '';
  for (let index = 0; index < MAX_ITEM_KEYS; index++) {
    const chunk = metadata[`${TRIP_ITEMS_METADATA_PREFIX}${index}`];
    if (chunk === undefined) break;
    text += chunk;
  }
  if (text === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = itemsSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return {
    items: parsed.data.map(([slotId, experienceId, guestCount, date, time]) => ({ slotId, experienceId, guestCount, date, time })),
    itemAmounts: parsed.data.map((tuple) => tuple[5]),
  };
}
