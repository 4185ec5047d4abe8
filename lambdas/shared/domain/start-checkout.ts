// Use case: the front door — price a trip from its slots, hold its seats, and open the provider's payment page for it.
import { createHash } from 'node:crypto';
import * as z from '../zod';
import { auditEntry } from './audit-trail';
import type { Deps } from './collaborators';
import { priceTrip } from './create-trip';
import { failure, type BookingFailure } from './errors';
import { SESSION_SLACK_MS, seatsPerSlot, type Hold, type Trip } from './model';
import { CheckoutRefusedError, ProviderKeySpentError, SessionKeyReusedError, type CheckoutSessions } from './payment-gateway';
import { HOLD_RAN_OUT, holdRelease, pagelessCheckoutEnd, releaseUnlessUnusable } from './release-holds';
import { classifySlotRefusal, slotRefusalFailure } from './slot-refusals';
import { checkGuestsPerSlot, guestCountSchema, idSchema, MAX_TRIP_ITEMS, userIdSchema } from './trip-input';

export interface StartCheckoutDeps extends Deps {
  readonly checkout: CheckoutSessions;
  /** How long seats are held for a payment (Stripe allows a session 30 minutes to 24 hours). */
  readonly holdMinutes: number;
}

/** Stripe opens a session only if it ends 30 minutes away or more; a minute more covers the call and the two clocks. */
const SHORTEST_SESSION_MS = 31 * 60_000;

/** Stripe's bounds on a Checkout Session's `expires_at`, which the hold follows. */
export const HOLD_MINUTES = { min: 30, max: 24 * 60, default: 30 } as const;

/**
 * A success or cancel URL may hold this where the trip's id goes (`https://shop.example/trips/{TRIP_ID}`, or
 * percent-encoded, `%7BTRIP_ID%7D`), as Stripe fills in `{CHECKOUT_SESSION_ID}`: the page the traveller lands on knows the
 * trip to show (GET /trips/{tripId}).
 */
export const TRIP_ID_PLACEHOLDER = '{TRIP_ID}';

/** The most characters of a success or cancel URL, once `{TRIP_ID}` is filled in. */
export const MAX_RETURN_URL_LENGTH = 2048;

/** The longest trip id (`trip-` and a UUID, for a checkout without a key): what a URL's `{TRIP_ID}` is measured filled with. */
const LONGEST_TRIP_ID = 'trip-00000000-0000-0000-0000-000000000000';

/**
 * An http(s) URL with a host that the WHATWG parser takes (no port beyond 65535, no host it cannot read), at most
 * MAX_RETURN_URL_LENGTH characters filled in: what Stripe would refuse is refused here as the caller's mistake (400),
 * before any seat is held or Stripe is asked.
 */
function isReturnUrl(value: string): boolean {
  if (!/^https?:\/\/\S+$/.test(value)) return false;
  const filled = withTripId(value, LONGEST_TRIP_ID);
  if (filled.length > MAX_RETURN_URL_LENGTH || !URL.canParse(filled)) return false;
  return new URL(filled).hostname !== '';
}

const httpsOrLocalUrl = z
  .string()
  .check(z.refine(isReturnUrl, `must be an http(s) URL with a host, of at most ${MAX_RETURN_URL_LENGTH} characters with ${TRIP_ID_PLACEHOLDER} filled in`));

export const startCheckoutInputSchema = z.strictObject({
  userId: userIdSchema,
  items: z
    .array(z.strictObject({ slotId: idSchema, guestCount: guestCountSchema }))
    .check(z.minLength(1, 'must hold at least one item'), z.maxLength(MAX_TRIP_ITEMS, `must hold at most ${MAX_TRIP_ITEMS} items`)),
  successUrl: httpsOrLocalUrl,
  cancelUrl: httpsOrLocalUrl,
  /** The caller's Idempotency-Key: the same key (for the same user) always answers with the same trip and session. */
  idempotencyKey: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
});
export type StartCheckoutInput = z.infer<typeof startCheckoutInputSchema>;

export interface CheckoutStarted {
  readonly ok: true;
  readonly tripId: string;
  readonly checkoutUrl: string;
  readonly expiresAt: string;
  readonly amount: number;
  readonly currency: string;
  /** True when this request found the trip an earlier one with the same key made. */
  readonly replayed: boolean;
}

/** The same user and key name the same trip, so a retried request never makes a second one. */
function tripIdFor(userId: string, idempotencyKey: string): string {
  const hash = createHash('sha256').update(`${userId}\n${idempotencyKey}`).digest('hex');
  return `trip-${hash.slice(0, 32)}`;
}

/** What a key names besides the items: where the traveller is sent back to, which Stripe is sent under the session's key. */
function returnUrlsDigest(input: Pick<StartCheckoutInput, 'successUrl' | 'cancelUrl'>): string {
  return createHash('sha256').update(`${input.successUrl}\n${input.cancelUrl}`).digest('hex');
}

/**
 * Input: `{ userId, items: [{ slotId, guestCount }], successUrl, cancelUrl, idempotencyKey? }`, parsed by the caller;
 * `{TRIP_ID}` in either URL becomes the trip's id.
 * Output: the trip, the payment page and when its hold ends; or a failure with the engine's codes and counts.
 * Steps: (same key: the trip made before, for the same request) → price from the slots → one transaction: the trip,
 * its hold, every slot's seats held (of those neither booked nor held) → the provider's session under a key
 * derived from the trip → the session recorded on the trip, which must still wait for it. Nobody pays for seats
 * that are not there, nor for a trip whose checkout ended: its payment would only be refunded.
 */
export async function startCheckout(deps: StartCheckoutDeps, input: StartCheckoutInput): Promise<CheckoutStarted | BookingFailure> {
  const tripId = input.idempotencyKey === undefined ? `trip-${deps.ids.uuid()}` : tripIdFor(input.userId, input.idempotencyKey);

  let trip = input.idempotencyKey === undefined ? undefined : await deps.store.getTrip(tripId);
  const replayed = trip !== undefined;
  if (!trip) {
    const held = await holdNewTrip(deps, input, tripId);
    if (!held.ok) return held;
    trip = held.trip;
  }
  // A key names one request: the same key with other items or URLs is a mistake, answered as one (Stripe does the same).
  if (!sameRequest(trip, input)) return keyReused(input, trip);
  if (trip.checkoutUrl !== undefined && trip.holdExpiresAt !== undefined) return pageOf(trip, replayed);
  // Its checkout ended before any page was made (refused, or its hold ran out): nobody may pay for it now.
  if (trip.status !== 'pending_payment') return checkoutEnded(trip);
  if (Date.parse(trip.holdExpiresAt as string) <= deps.clock.now().getTime()) return holdRanOut(deps, trip);
  if (sessionExpiry(trip).getTime() < deps.clock.now().getTime() + SHORTEST_SESSION_MS) {
    const renewed = await renewHold(deps, trip);
    if ('ok' in renewed) return renewed;
    trip = renewed;
  }
  const askForPage = (of: Trip) =>
    deps.checkout.createSession({
      tripId: of.tripId,
      userId: of.userId,
      currency: of.currency,
      lines: of.items.map((item, index) => ({
        name: `${item.experienceId}, ${item.date} ${item.time}`,
        unitAmount: Math.round((of.itemAmounts?.[index] ?? 0) / item.guestCount),
        quantity: item.guestCount,
      })),
      trip: { items: of.items, itemAmounts: of.itemAmounts ?? [] },
      expiresAt: sessionExpiry(of),
      // Filled in from the trip alone, so every attempt sends Stripe the same parameters under the same key.
      successUrl: withTripId(input.successUrl, of.tripId),
      cancelUrl: withTripId(input.cancelUrl, of.tripId),
    });
  let session: { sessionId: string; url: string };
  try {
    try {
      session = await askForPage(trip);
    } catch (error) {
      if (!(error instanceof ProviderKeySpentError)) throw error;
      // Stripe keeps a server error under the session's key for a day, and every retry would meet it: the hold is held
      // on, which moves the session's expiry and so its key, and the page asked for again once. Met again, a 503 as any.
      const renewed = await renewHold(deps, trip, true);
      if ('ok' in renewed) return renewed;
      trip = renewed;
      session = await askForPage(trip);
    }
  } catch (error) {
    // Another request under this key is making the trip's page with other URLs: this one is refused, the trip left to it.
    if (error instanceof SessionKeyReusedError) return keyReused(input, trip);
    const refused = error instanceof CheckoutRefusedError;
    // Nobody can pay for this trip if no request can continue it: its seats go back to sale at once, unless another
    // request under the key made its page meanwhile, which this one then answers.
    if (refused || input.idempotencyKey === undefined) {
      const pageMadeMeanwhile = await endCheckout(deps, trip, refused ? `provider refused: ${error.code}` : 'provider unavailable, no key to retry with');
      if (pageMadeMeanwhile !== undefined) return pageMadeMeanwhile;
    }
    if (refused) {
      return failure('CHECKOUT_REFUSED', `The payment provider refused to open a payment page (${error.code}); nothing is held.`, {
        detail: `${error.code}: ${error.message}`,
      });
    }
    throw error;
  }
  // Recorded so the webhook matches the paying session and a retry answers the same, unless the trip moved on meanwhile
  // or another request under the key recorded its page first (two versions of this code side by side ask Stripe under
  // different keys): the page recorded is then the one answered, and one that ended is answered by none.
  const recorded = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    tripTransition: {
      tripId: trip.tripId,
      from: ['pending_payment'],
      to: 'pending_payment',
      checkoutSessionId: session.sessionId,
      checkoutUrl: session.url,
      recordedSessionNoneOr: session.sessionId,
    },
  });
  if (recorded.committed) return started(trip, session.url, replayed);
  const now = await deps.store.getTrip(trip.tripId);
  return now === undefined ? checkoutEnded(trip) : pageOf(now, true);
}

/**
 * How far under the day's cap a hold's expiry still reads as stepped back from it, a second per server error Stripe kept
 * under a session key there: a hold ending further away is extended to the cap.
 */
const CAP_STEPS_MS = 60_000;

/**
 * A retry too late for the session's expiry, which was fixed when the hold was made so that every attempt sends Stripe the
 * same (Stripe wants 30 minutes): the hold is held on for another `holdMinutes`, and the session asked for under the key
 * of its new expiry. A session an earlier attempt made, its answer lost, was never shown and is never recorded. Answers
 * the trip renewed (by this request or another under the key), or what ended it meanwhile.
 */
async function renewHold(deps: StartCheckoutDeps, trip: Trip, newKey = false): Promise<Trip | CheckoutStarted | BookingFailure> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const from = trip.holdExpiresAt as string;
  // For a new session key (`newKey`), a second later at least: the key names the expiry's second.
  const wanted = Math.max(Date.parse(holdExpiry(now, deps.holdMinutes)), newKey ? Date.parse(from) + 1_000 : 0);
  // Never past a day after the checkout, the longest hold there is: a client retrying while Stripe keeps failing (our
  // key rejected, say) does not keep the seats from sale for longer than that.
  const cap = Date.parse(trip.createdAt) + HOLD_MINUTES.max * 60_000;
  const capped = Math.min(wanted, cap);
  // A hold at the cap, or stepped back from it by earlier kept errors (each second there a key Stripe keeps an error
  // under), steps back one more second for a new key, never up to one of those again.
  const atCap = newKey && capped === cap && Date.parse(from) > cap - CAP_STEPS_MS;
  const to = new Date(atCap ? Math.min(Date.parse(from), cap) - 1_000 : capped).toISOString();
  if (sessionExpiry({ ...trip, holdExpiresAt: to }).getTime() < now.getTime() + SHORTEST_SESSION_MS) return holdRanOut(deps, trip, 'checkout a day old');
  const renewed = await deps.store.commit({
    at,
    holdRenewal: { tripId: trip.tripId, from, to },
    tripTransition: { tripId: trip.tripId, from: ['pending_payment'], to: 'pending_payment', holdExpiresAt: to, recordedSessionNoneOr: null },
    audits: [auditEntry(deps, { eventType: 'trip.hold_renewed', entityType: 'trip', entityId: trip.tripId, actorType: 'system', at, metadata: { from, to } })],
  });
  if (renewed.committed) return { ...trip, holdExpiresAt: to, updatedAt: at };
  const current = await deps.store.getTrip(trip.tripId);
  if (current === undefined) return checkoutEnded(trip);
  if (current.checkoutUrl !== undefined) return pageOf(current, true);
  if (current.status !== 'pending_payment') return checkoutEnded(current);
  if (current.holdExpiresAt !== from) return current;
  // Still the same expiry, so the hold itself was no longer held: the sweeper gave its seats back at its very end.
  return holdRanOut(deps, current);
}

/** The hold ran out before any page was made (Stripe did not answer meanwhile): the trip ends, without asking Stripe. */
async function holdRanOut(deps: StartCheckoutDeps, trip: Trip, why = HOLD_RAN_OUT): Promise<CheckoutStarted | BookingFailure> {
  const pageMadeMeanwhile = await endCheckout(deps, trip, why);
  return pageMadeMeanwhile ?? checkoutEnded((await deps.store.getTrip(trip.tripId)) ?? trip);
}

/** The page recorded on the trip, while a payment of it can still book it (or did); none for a checkout that ended unpaid. */
function pageOf(trip: Trip, replayed: boolean): CheckoutStarted | BookingFailure {
  if (trip.checkoutUrl === undefined || ENDED_UNPAID.includes(trip.status)) return checkoutEnded(trip);
  return started(trip, trip.checkoutUrl, replayed);
}

/** A trip that ended without a payment: its page, still open at Stripe or not, would take a payment only to refund it. */
const ENDED_UNPAID: readonly Trip['status'][] = ['expired', 'payment_failed'];

function keyReused(input: StartCheckoutInput, trip: Trip): BookingFailure {
  return failure(
    'IDEMPOTENCY_KEY_REUSED',
    `Idempotency-Key ${input.idempotencyKey} was used for another checkout (trip ${trip.tripId}); use a new key for other items or URLs.`,
  );
}

function checkoutEnded(trip: Trip): BookingFailure {
  const why = trip.statusReason === undefined ? trip.status : `${trip.status}: ${trip.statusReason}`;
  // Paid (a session of an earlier attempt, found by its traveller): starting again would book the trip twice.
  if (!ENDED_UNPAID.includes(trip.status) && trip.status !== 'pending_payment') {
    return failure('CHECKOUT_PAID', `The checkout of trip ${trip.tripId} was paid (${why}); there is nothing more to pay.`);
  }
  return failure('TRIP_NOT_PENDING', `The checkout of trip ${trip.tripId} ended (${why}) and holds nothing; start again with a new Idempotency-Key.`);
}

/** `{TRIP_ID}`, as written or percent-encoded (a URL built with the URL API encodes the braces: `%7BTRIP_ID%7D`). */
const TRIP_ID_WRITTEN = /\{TRIP_ID\}|%7[Bb]TRIP_ID%7[Dd]/g;

function withTripId(url: string, tripId: string): string {
  return url.replaceAll(TRIP_ID_WRITTEN, encodeURIComponent(tripId));
}

/** The session's expiry, derived from the stored hold only: the same on every attempt. */
function sessionExpiry(trip: Pick<Trip, 'holdExpiresAt'>): Date {
  return new Date(Date.parse(trip.holdExpiresAt as string) - SESSION_SLACK_MS);
}

/** When a hold made now ends: its session `holdMinutes` (and the slack) away, within Stripe's 24 hours, and the hold a little after. */
function holdExpiry(now: Date, holdMinutes: number): string {
  const session = Math.min(holdMinutes * 60_000 + SESSION_SLACK_MS, HOLD_MINUTES.max * 60_000 - 60_000);
  return new Date(now.getTime() + session + SESSION_SLACK_MS).toISOString();
}

/** The same items (in any order) and, on a trip that kept them, the same URLs. */
function sameRequest(trip: Trip, input: StartCheckoutInput): boolean {
  const key = (list: readonly { slotId: string; guestCount: number }[]): string =>
    list
      .map((item) => `${item.slotId}:${item.guestCount}`)
      .sort()
      .join(',');
  const sameUrls = trip.returnUrlsDigest === undefined || trip.returnUrlsDigest === returnUrlsDigest(input);
  return key(trip.items) === key(input.items) && sameUrls;
}

/**
 * The trip ends `expired`, its hold released with it (or alone, when the sweeper gave the hold's seats back already), if
 * no page was recorded on it meanwhile and its hold was not held on. Answers the page another request under the key
 * recorded, when one did, or a retryable failure when one held the hold on (this request's attempt was the stale one);
 * nothing when the checkout ended here, or had moved on.
 */
async function endCheckout(deps: StartCheckoutDeps, trip: Trip, why: string): Promise<CheckoutStarted | BookingFailure | undefined> {
  const ending = pagelessCheckoutEnd(deps, trip, why, deps.clock.now().toISOString());
  const seats = seatsPerSlot(trip.items).map(({ slotId, guests }) => ({ slotId, guests }));
  const { audit, ...release } = holdRelease(deps, { tripId: trip.tripId, seats }, 'system', why);
  const released = await releaseUnlessUnusable(deps.store, { at: ending.at, ...release, tripTransition: ending.tripTransition, audits: [audit] });
  // A slot that no longer reads takes no seats back: the trip ends all the same, so nobody pays for it, and its hold is
  // left to the sweeper, which leaves it held and says which slot to repair.
  const result = 'unusable' in released ? await deps.store.commit(ending) : released;
  if (result.committed) return undefined;
  if (result.rejection.trip === undefined && result.rejection.hold !== undefined) {
    await deps.store.commit(ending);
    return undefined;
  }
  const current = result.rejection.trip?.current;
  if (current?.checkoutUrl !== undefined) return pageOf(current, true);
  if (current?.status === 'pending_payment' && current.holdExpiresAt !== trip.holdExpiresAt) {
    return failure('TRANSACTION_FAILED', 'Another request under this Idempotency-Key held the checkout on meanwhile; retry with the same key.', {
      retryable: true,
    });
  }
  return undefined;
}

function started(trip: Trip, checkoutUrl: string, replayed: boolean): CheckoutStarted {
  return { ok: true, tripId: trip.tripId, checkoutUrl, expiresAt: trip.holdExpiresAt as string, amount: trip.amount, currency: trip.currency, replayed };
}

async function holdNewTrip(
  deps: StartCheckoutDeps,
  input: z.infer<typeof startCheckoutInputSchema>,
  tripId: string,
): Promise<{ ok: true; trip: Trip } | BookingFailure> {
  // The caller's mistake is answered before any slot is read (priceTrip checks it again for its other callers).
  const tooMany = checkGuestsPerSlot(input.items);
  if (tooMany) return tooMany;
  const slots = await deps.store.getSlots(input.items.map((item) => item.slotId));
  const missing = input.items.filter((item) => !slots.has(item.slotId));
  if (missing.length > 0) return slotRefusalFailure(missing.map((item) => classifySlotRefusal(item.slotId, item.guestCount, undefined)));
  const items = input.items.map((item) => ({ experienceId: slots.get(item.slotId)?.experienceId as string, slotId: item.slotId, guestCount: item.guestCount }));
  const priced = await priceTrip(deps, { tripId, userId: input.userId, items }, { fromUnheld: true });
  if (!priced.ok) return priced;
  const now = deps.clock.now();
  const at = now.toISOString();
  const holdExpiresAt = holdExpiry(now, deps.holdMinutes);
  const trip: Trip = { ...priced.trip, holdExpiresAt, returnUrlsDigest: returnUrlsDigest(input) };
  const seats = seatsPerSlot(trip.items);
  const hold: Hold = {
    tripId,
    seats: seats.map(({ slotId, guests }) => ({ slotId, guests })),
    expiresAt: holdExpiresAt,
    status: 'held',
    createdAt: at,
    updatedAt: at,
  };
  const audit = auditEntry(deps, {
    eventType: 'trip.held',
    entityType: 'trip',
    entityId: tripId,
    actorType: 'system',
    at,
    metadata: { userId: trip.userId, amount: trip.amount, currency: trip.currency, holdExpiresAt },
  });
  const result = await deps.store.commit({
    at,
    newTrip: trip,
    newHold: hold,
    seatChanges: seats.map(({ slotId, experienceId, guests }) => ({ kind: 'hold', slotId, experienceId, guests })),
    audits: [audit],
  });
  if (result.committed) return { ok: true, trip };
  const { rejection } = result;
  if (rejection.tripExisted) {
    // The same key, raced: the other request made the trip (and may have taken the last seats for it).
    const existing = await deps.store.getTrip(tripId);
    if (existing) return { ok: true, trip: existing };
  }
  if (rejection.seatChanges.length > 0) {
    return slotRefusalFailure(rejection.seatChanges.map(({ change, current }) => classifySlotRefusal(change.slotId, change.guests, current, undefined, true)));
  }
  return failure('TRANSACTION_FAILED', 'The checkout could not be stored; try again.', { retryable: true });
}
