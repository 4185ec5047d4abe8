// The one-request confirmation pushed at its edges: races forced at the SDK boundary, lost answers, odd sessions and odd stored trips.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { confirmedGuests, unheldSeats, type Slot, type Trip } from '../../lambdas/shared/domain/model';
import { attachCheckoutSession } from '../../lambdas/shared/domain/create-trip';
import { commitHoldRelease, holdRelease } from '../../lambdas/shared/domain/release-holds';
import { setSlotBlocked } from '../../lambdas/shared/domain/operations';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { checkoutTripOf, TRIP_ITEMS_METADATA_PREFIX, tripItemsMetadata } from '../../lambdas/shared/stripe/trip-metadata';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { chargeRefunded, checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { isCheckoutEvent, startStripeFake, type FakeCheckoutEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { readSlot, seedSlot, testDocumentClient, testStore, uniqueId, testTableName } from '../support/store';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';
import { startTogether } from '../reliability/harness';

const TRANSACT = 'TransactWriteItemsCommand';

let fake: StripeFake;
// The webhook's store: its client counts, holds and faults the calls the webhook makes.
const client = testDocumentClient();
const requests = injectFaults(client);
const store = testStore(client);
// The other side of every race: its own client, never held nor faulted.
const other = testStore();

beforeAll(async () => {
  // No webhook target: the fake records the events its payment page causes, and each test delivers them itself.
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const webhook = () => webhookHarness(fake, { store });
const deliver = (event: unknown) => webhook().send(signedRequest(event));

type PageAction = 'pay' | 'pay-later';

/** A trip opened by the front door (its seats held, its session recorded), then paid on the fake's page. */
async function checkedOut(parts: readonly [Slot, number][], action: PageAction = 'pay'): Promise<{ trip: Trip; event: FakeCheckoutEvent; url: string }> {
  const started = await startCheckout(
    { store: other, clock: systemClock, ids: randomIds, checkout: new StripeCheckoutSessions(async () => fake.client()), holdMinutes: 30 },
    {
      userId: uniqueId('user'),
      items: parts.map(([slot, guestCount]) => ({ slotId: slot.slotId, guestCount })),
      successUrl: 'https://example.com/done',
      cancelUrl: 'https://example.com/cancelled',
    },
  );
  if (!started.ok) expect.fail(`checkout refused: ${started.errorCode}`);
  const acted = await fetch(`${started.checkoutUrl}/${action}`, { method: 'POST', redirect: 'manual' });
  expect(acted.status).toBe(303);
  const trip = (await other.getTrip(started.tripId)) as Trip;
  return { trip, event: lastEventOf(trip), url: started.checkoutUrl };
}

function lastEventOf(trip: Trip): FakeCheckoutEvent {
  const event = fake.events.filter(isCheckoutEvent).findLast((candidate) => candidate.data.object.id === trip.checkoutSessionId);
  if (!event) expect.fail('the fake sent no event for the session');
  return event;
}

/** Another traveller's checkout of `guests` seats of `slot`: a hold of its own, taken from the unheld seats. */
async function anotherCheckout(slot: Slot, guests: number) {
  return startCheckout(
    { store: other, clock: systemClock, ids: randomIds, checkout: new StripeCheckoutSessions(async () => fake.client()), holdMinutes: 30 },
    { userId: uniqueId('user'), items: [{ slotId: slot.slotId, guestCount: guests }], successUrl: 'https://example.com/d', cancelUrl: 'https://example.com/c' },
  );
}

/** What the hold sweeper does for one expired hold, in its own transaction: the hold released, its seats back to sale. */
async function sweep(tripId: string): Promise<void> {
  const hold = await other.getHold(tripId);
  if (!hold) expect.fail(`trip ${tripId} has no hold`);
  const { audit, ...release } = holdRelease({ store: other, clock: systemClock, ids: randomIds }, hold, 'system', 'expired');
  const result = await commitHoldRelease(other, { at: new Date().toISOString(), ...release, audits: [audit] });
  expect(result.committed).toBe(true);
}

/** The same event under a new id, its session changed by `change` (an API version, a coupon, a platform's session…). */
function variant(event: FakeCheckoutEvent, change: (session: Record<string, unknown>) => Record<string, unknown>): FakeCheckoutEvent {
  const session = structuredClone(event.data.object) as unknown as Record<string, unknown>;
  return { ...event, id: uniqueId('evt'), data: { object: change(session) as unknown as FakeCheckoutEvent['data']['object'] } };
}

const itemsOf = (metadata: Record<string, string>) => Object.keys(metadata).filter((key) => key.startsWith(TRIP_ITEMS_METADATA_PREFIX));

function withoutItems(session: Record<string, unknown>): Record<string, unknown> {
  const metadata = { ...(session.metadata as Record<string, string>) };
  for (const key of itemsOf(metadata)) delete metadata[key];
  return { ...session, metadata };
}

function withMetadata(session: Record<string, unknown>, change: (metadata: Record<string, string>) => Record<string, string>): Record<string, unknown> {
  return { ...session, metadata: change({ ...(session.metadata as Record<string, string>) }) };
}

/** Counts the DynamoDB requests one delivery makes. */
async function deliverCounting(event: unknown) {
  requests.calls.clear();
  const response = await deliver(event);
  return { response, made: Object.fromEntries(requests.calls) };
}

/**
 * The seat invariants of a slot, read back: capacity = available + confirmed guests, and available − guests of
 * holds still held = unheld ≥ 0. Returns the counters for the test's own expectations.
 */
async function seatsOf(slot: Slot): Promise<{ available: number; unheld: number; booked: number; held: number }> {
  const now = (await readSlot(store, slot.slotId)) as Slot;
  const booked = confirmedGuests(await store.listBookingsOfSlot(slot.slotId));
  const held = (await store.listActiveHolds())
    .flatMap((hold) => hold.seats)
    .filter((seat) => seat.slotId === slot.slotId)
    .reduce((sum, seat) => sum + seat.guests, 0);
  expect(now.availableCount + booked, `slot ${slot.slotId}: available + booked = capacity`).toBe(now.capacity);
  expect(unheldSeats(now), `slot ${slot.slotId}: available − held = unheld`).toBe(now.availableCount - held);
  expect(unheldSeats(now)).toBeGreaterThanOrEqual(0);
  return { available: now.availableCount, unheld: unheldSeats(now), booked, held };
}

const paymentOf = (event: FakeCheckoutEvent): string => event.data.object.payment_intent as string;

describe('races with the one request, forced at the SDK boundary', () => {
  it('takes the seats once when the sweeper releases the hold while the one request is on its way', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    const held = requests.hold(TRANSACT);

    const delivery = deliver(event);
    await held.reached;
    await sweep(trip.tripId);
    held.release();
    const response = await delivery;

    expect(response).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'released' });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
    expect(await store.getPaymentRecord(paymentOf(event))).toMatchObject({ status: 'booked', amountPaid: trip.amount });
  });

  it('refunds in full, selling nothing twice, when the seats the sweeper released are held by another checkout between the two attempts', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    await sweep(trip.tripId);
    const heldAttempt = requests.hold(TRANSACT);
    const unheldAttempt = requests.hold(TRANSACT);

    const delivery = deliver(event);
    await heldAttempt.reached;
    heldAttempt.release();
    await unheldAttempt.reached;
    const competitor = await anotherCheckout(slot, 2);
    expect(competitor).toMatchObject({ ok: true });
    unheldAttempt.release();
    const response = await delivery;

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'INSUFFICIENT_AVAILABILITY' } });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
    expect(fake.totalRefunded(paymentOf(event))).toBe(trip.amount);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refunded' });
    // The competitor's hold is intact: its two seats are still off sale, and nobody has them twice.
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 0, booked: 0, held: 2 });
  });

  it('books nothing, and gives the held seats back once, when a full refund is recorded while the one request is on its way', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    const paymentId = paymentOf(event);
    const held = requests.hold(TRANSACT);

    const delivery = deliver(event);
    await held.reached;
    const refundFirst = await webhookHarness(fake, { store: other }).send(signedRequest(chargeRefunded(paymentId, trip.amount, { tripId: trip.tripId })));
    held.release();
    const response = await delivery;

    expect(refundFirst.body).toMatchObject({ outcome: 'refund_recorded' });
    expect(response).toMatchObject({ status: 200, body: { outcome: 'already_refunded' } });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refunded', statusReason: 'refunded_before_confirmation' });
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await seatsOf(slot)).toEqual({ available: 4, unheld: 4, booked: 0, held: 0 });
  });

  it('books nothing when a full refund is recorded between the refused held attempt and the attempt for the unheld seats', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    const paymentId = paymentOf(event);
    await sweep(trip.tripId);
    const heldAttempt = requests.hold(TRANSACT);
    const unheldAttempt = requests.hold(TRANSACT);

    const delivery = deliver(event);
    await heldAttempt.reached;
    heldAttempt.release();
    await unheldAttempt.reached;
    const refundFirst = await webhookHarness(fake, { store: other }).send(signedRequest(chargeRefunded(paymentId, trip.amount, { tripId: trip.tripId })));
    unheldAttempt.release();
    const response = await delivery;

    expect(refundFirst.body).toMatchObject({ outcome: 'refund_recorded' });
    expect(response.body).toMatchObject({ outcome: 'already_refunded' });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refunded', reason: 'refunded_before_confirmation' });
    expect(await seatsOf(slot)).toEqual({ available: 4, unheld: 4, booked: 0, held: 0 });
  });

  it('refunds and gives the held seats back when an operator blocks the slot while the one request is on its way', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    const held = requests.hold(TRANSACT);

    const delivery = deliver(event);
    await held.reached;
    expect(await setSlotBlocked({ store: other, clock: systemClock, ids: randomIds }, slot.slotId, true)).toMatchObject({ ok: true, changed: true });
    held.release();
    const response = await delivery;

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'SLOT_BLOCKED' } });
    expect(fake.totalRefunded(paymentOf(event))).toBe(trip.amount);
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'released' });
    expect(await seatsOf(slot)).toEqual({ available: 4, unheld: 4, booked: 0, held: 0 });
  });

  it('books once when the unpaid completion of a delayed payment is held and its async_payment_succeeded books meanwhile', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event: unpaid, url } = await checkedOut([[slot, 1]], 'pay-later');
    expect(unpaid.data.object.payment_status).toBe('unpaid');
    expect((await fetch(`${url}/settle`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    const succeeded = lastEventOf(trip);
    expect(succeeded.type).toBe('checkout.session.async_payment_succeeded');
    const held = requests.hold(TRANSACT);

    const first = deliver(unpaid);
    await held.reached;
    const paid = await webhookHarness(fake, { store: other }).send(signedRequest(succeeded));
    held.release();
    const late = await first;

    expect(paid.body).toMatchObject({ outcome: 'booked' });
    expect(late.body).toMatchObject({ outcome: 'no_change' });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'booked', paymentId: paymentOf(succeeded) });
    expect(await seatsOf(slot)).toEqual({ available: 3, unheld: 3, booked: 1, held: 0 });
  });

  it('books the delayed payment whose one request was held while its unpaid completion moved the trip to awaiting_payment', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event: unpaid, url } = await checkedOut([[slot, 1]], 'pay-later');
    expect((await fetch(`${url}/settle`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    const succeeded = lastEventOf(trip);
    const held = requests.hold(TRANSACT);

    const payment = deliver(succeeded);
    await held.reached;
    const waiting = await webhookHarness(fake, { store: other }).send(signedRequest(unpaid));
    held.release();
    const response = await payment;

    expect(waiting.body).toMatchObject({ outcome: 'awaiting_payment' });
    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(await seatsOf(slot)).toEqual({ available: 3, unheld: 3, booked: 1, held: 0 });
  });

  it('answers the second of two deliveries racing through the held→unheld retry duplicate, with the first one’s references', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    await sweep(trip.tripId);
    const heldAttempt = requests.hold(TRANSACT);
    const unheldAttempt = requests.hold(TRANSACT);
    const twin = { ...event, id: uniqueId('evt') };

    const first = deliver(event);
    await heldAttempt.reached;
    heldAttempt.release();
    await unheldAttempt.reached;
    const second = await webhookHarness(fake, { store: other }).send(signedRequest(twin));
    unheldAttempt.release();
    const late = await first;

    expect(second.body).toMatchObject({ outcome: 'booked' });
    expect(late.body).toMatchObject({ outcome: 'duplicate', references: second.body.references });
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });
});

describe('the one request without a definite answer', () => {
  it('answers booked when the response of the one request is lost once: the retry carries the same token', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 1]]);
    requests.queue(TRANSACT, 'lost-response');

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 2 });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'booked', bookingReferences: response.body.references });
    expect(await seatsOf(slot)).toEqual({ available: 3, unheld: 3, booked: 1, held: 0 });
  });

  it('answers with the references it booked when every response of the one request is lost', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 1]]);
    requests.queue(TRANSACT, 'lost-response', 'lost-response', 'lost-response', 'lost-response', 'lost-response');

    const response = await deliver(event);

    expect(response.status).toBe(200);
    const stored = (await store.getTrip(trip.tripId)) as Trip;
    expect(stored).toMatchObject({ status: 'booked', paymentId: paymentOf(event) });
    expect(response.body.references).toEqual(stored.bookingReferences);
    expect(await store.getProcessedEvent(event.id)).toMatchObject({ outcome: 'booked', references: stored.bookingReferences });
    expect(await seatsOf(slot)).toEqual({ available: 3, unheld: 3, booked: 1, held: 0 });
  });

  it('answers booked when the response of the second attempt, for the unheld seats, is lost', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    await sweep(trip.tripId);
    // The first attempt is refused (its hold is gone): the refusal itself reaches the caller. The second commits, its answer lost.
    requests.queue(TRANSACT, 'lost-response', 'lost-response');

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 3 });
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('answers booked when the one request meets a conflicting transaction and is retried with the same token', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { event } = await checkedOut([[slot, 1]]);
    requests.queue(TRANSACT, 'conflict', 'conflict');

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 3 });
    expect(await seatsOf(slot)).toEqual({ available: 3, unheld: 3, booked: 1, held: 0 });
  });
});

/** What a delivery did, in terms two trips can be compared by. */
async function effectsOf(trip: Trip, slots: readonly Slot[], response: Awaited<ReturnType<typeof deliver>>, paymentId: string) {
  const record = await store.getPaymentRecord(paymentId);
  const bookings = await store.listBookingsOfTrip(trip.tripId);
  const stored = (await store.getTrip(trip.tripId)) as Trip;
  return {
    status: response.status,
    outcome: response.body.outcome,
    reason: response.body.reason,
    setAside: response.body.setAside,
    trip: stored.status,
    record: record && {
      status: record.status,
      amountPaid: record.amountPaid,
      currency: record.currency,
      setAside: record.setAside,
      reason: record.reason,
      refunds: record.refunds.map((refund) => ({ amount: refund.amount, status: refund.status })),
    },
    bookings: slots.map((slot) =>
      bookings
        .filter((booking) => booking.slotId === slot.slotId)
        .map(({ guestCount, amount, currency, status }) => ({ guestCount, amount, currency, status })),
    ),
    seats: await Promise.all(slots.map(async (slot) => ({ ...(await seatsOf(slot)), capacity: slot.capacity }))),
    refundedAtStripe: fake.totalRefunded(paymentId),
  };
}

/** A paid checkout of two items on slots of its own (2 guests at 45.00, 1 at 120.00: 210.00). */
async function twoItemCheckout() {
  const a = await seedSlot(store, { capacity: 5, priceAmount: 4_500 });
  const b = await seedSlot(store, { capacity: 3, priceAmount: 12_000 });
  const { trip, event } = await checkedOut([
    [a, 2],
    [b, 1],
  ]);
  return { trip, event, slots: [a, b] as const };
}

/** A PaymentIntent the fake knows, charged `amount`: what a session charging other than its trip's price paid with. */
function chargedPaymentIntent(amount: number): string {
  const id = paymentIntentId();
  fake.registerPayment(id, amount);
  return id;
}

type SessionChange = (session: Record<string, unknown>) => Record<string, unknown>;
const amounts =
  (total: number, details: Record<string, number>, subtotal?: number | null): SessionChange =>
  (session) => ({
    ...session,
    amount_total: total,
    ...(subtotal !== undefined && { amount_subtotal: subtotal }),
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0, ...details },
  });

describe('the one request decides as the full path does', () => {
  // Each session is delivered twice, for two identical trips: once carrying its items (one request), once without (read first).
  it.each<{ name: string; change: SessionChange; expected: Record<string, unknown> }>([
    { name: 'the session as paid', change: (session) => session, expected: { outcome: 'booked', record: { amountPaid: 21_000 } } },
    {
      name: 'a coupon (amount_total = amount_subtotal − amount_discount)',
      change: amounts(20_000, { amount_discount: 1_000 }),
      expected: { outcome: 'booked', record: { amountPaid: 20_000 } },
    },
    {
      name: 'a charge that is not the subtotal less the discount',
      change: amounts(20_000, { amount_discount: 0 }),
      expected: { outcome: 'refunded', reason: 'amount_mismatch', trip: 'pending_payment', refundedAtStripe: 20_000 },
    },
    {
      name: 'tax added on top',
      change: (session) => ({ ...amounts(23_100, { amount_tax: 2_100 })(session), payment_intent: chargedPaymentIntent(23_100) }),
      expected: { outcome: 'refunded', reason: 'amount_mismatch', trip: 'pending_payment', refundedAtStripe: 23_100 },
    },
    { name: 'no amount_subtotal (an older API version)', change: amounts(21_000, {}, null), expected: { outcome: 'booked' } },
    {
      name: 'no amount_subtotal and a coupon',
      change: amounts(20_000, { amount_discount: 1_000 }, null),
      expected: { outcome: 'refunded', reason: 'amount_mismatch', refundedAtStripe: 20_000 },
    },
    {
      name: 'a 100 % coupon: nothing charged, no PaymentIntent',
      change: (session) => ({ ...amounts(0, { amount_discount: 21_000 })(session), payment_intent: null, payment_status: 'no_payment_required' }),
      expected: { outcome: 'booked', record: { amountPaid: 0 }, refundedAtStripe: 0 },
    },
    { name: 'the currency in capitals', change: (session) => ({ ...session, currency: 'EUR' }), expected: { outcome: 'booked' } },
    {
      name: 'another currency',
      change: (session) => ({ ...session, currency: 'usd' }),
      expected: { outcome: 'refunded', reason: 'currency_mismatch', trip: 'pending_payment' },
    },
    {
      name: 'another user',
      change: (session) => withMetadata(session, (metadata) => ({ ...metadata, userId: 'someone-else' })),
      expected: { outcome: 'refunded', reason: 'user_mismatch', trip: 'pending_payment', refundedAtStripe: 21_000 },
    },
    {
      name: 'a trip we do not know',
      change: (session) => withMetadata(session, (metadata) => ({ ...metadata, [TRIP_MARK]: uniqueId('trip') })),
      expected: { outcome: 'refunded', reason: 'unknown_trip', setAside: true, trip: 'pending_payment', refundedAtStripe: 21_000 },
    },
    {
      name: 'another session of the same trip',
      change: (session) => ({ ...session, id: `cs_test_${uniqueId('other').replace(/-/g, '')}` }),
      expected: { outcome: 'refunded', reason: 'session_mismatch', trip: 'pending_payment', refundedAtStripe: 21_000 },
    },
  ])('$name', async ({ change, expected }) => {
    const withItems = await twoItemCheckout();
    const readFirst = await twoItemCheckout();
    const fast = variant(withItems.event, change);
    const full = variant(readFirst.event, (session) => withoutItems(change(session)));
    expect(checkoutTripOf(fast.data.object.metadata)).toBeDefined();
    expect(checkoutTripOf(full.data.object.metadata)).toBeUndefined();

    const fastAnswer = await deliver(fast);
    const fullAnswer = await deliver(full);

    const fastEffects = await effectsOf(withItems.trip, withItems.slots, fastAnswer, (fast.data.object.payment_intent as string | null) ?? fast.data.object.id);
    const fullEffects = await effectsOf(readFirst.trip, readFirst.slots, fullAnswer, (full.data.object.payment_intent as string | null) ?? full.data.object.id);
    expect(fastEffects).toMatchObject(expected);
    expect(fastEffects).toEqual(fullEffects);
  });
});

describe('the one request answers from the stored state as the full path does', () => {
  // Each state is made twice, by the same deliveries, for two identical trips; the paid session then comes with items and without.
  it.each<{ name: string; madeBy: (trip: Trip, event: FakeCheckoutEvent) => Promise<void>; expected: Record<string, unknown> }>([
    {
      name: 'the session expired first',
      madeBy: async (trip) => {
        await deliver(stripeEvent('checkout.session.expired', { ...checkoutSession(trip), payment_status: 'unpaid', payment_intent: null, status: 'expired' }));
      },
      expected: { outcome: 'refunded', reason: 'trip_expired', setAside: true, trip: 'expired' },
    },
    {
      name: 'the same payment set aside before, under another user',
      madeBy: async (_trip, event) => {
        await deliver(variant(event, (session) => withoutItems(withMetadata(session, (metadata) => ({ ...metadata, userId: 'someone-else' })))));
      },
      expected: { outcome: 'refunded', setAside: true, trip: 'pending_payment' },
    },
    {
      name: 'the payment refunded in full before its confirmation',
      madeBy: async (trip, event) => {
        await deliver(chargeRefunded(paymentOf(event), trip.amount, { tripId: trip.tripId }));
      },
      expected: { outcome: 'already_refunded', trip: 'refunded', refundedAtStripe: 0 },
    },
    {
      name: 'a partial refund seen before its confirmation',
      madeBy: async (trip, event) => {
        await deliver(chargeRefunded(paymentOf(event), trip.amount, { tripId: trip.tripId, refunded: 1_000 }));
      },
      expected: { outcome: 'booked', trip: 'booked', record: { status: 'booked', amountPaid: 21_000 } },
    },
  ])('$name', async ({ madeBy, expected }) => {
    const withItems = await twoItemCheckout();
    const readFirst = await twoItemCheckout();
    await madeBy(withItems.trip, withItems.event);
    await madeBy(readFirst.trip, readFirst.event);

    const fastAnswer = await deliver(variant(withItems.event, (session) => session));
    const fullAnswer = await deliver(variant(readFirst.event, withoutItems));

    const fastEffects = await effectsOf(withItems.trip, withItems.slots, fastAnswer, paymentOf(withItems.event));
    const fullEffects = await effectsOf(readFirst.trip, readFirst.slots, fullAnswer, paymentOf(readFirst.event));
    expect(fastEffects).toMatchObject(expected);
    expect(fastEffects).toEqual(fullEffects);
  });
});

describe('a refund made in the dashboard before the one request', () => {
  it('books the payment refund.created alone could not be recorded for, then gives the seats back when charge.refunded arrives', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    const paymentId = paymentOf(event);
    await fake.client().refunds.create({ payment_intent: paymentId, amount: trip.amount });
    const [refund] = fake.refundsOf(paymentId);
    if (!refund) expect.fail('the fake made no refund');

    const created = await deliver(stripeEvent('refund.created', refundObject(refund)));
    const confirmation = await deliver(event);
    const charge = await deliver(chargeRefunded(paymentId, trip.amount, { tripId: trip.tripId }));

    expect(created.body).toMatchObject({ outcome: 'no_change' });
    expect(confirmation.body).toMatchObject({ outcome: 'booked' });
    expect(charge.body).toMatchObject({ outcome: 'released', tripId: trip.tripId });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refunded' });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect(await seatsOf(slot)).toEqual({ available: 4, unheld: 4, booked: 0, held: 0 });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });
});

describe('a stored trip that no longer reads', () => {
  it('puts its payment in front of a person, as the full path does, instead of booking a trip nobody can read', async () => {
    const withItems = await twoItemCheckout();
    const readFirst = await twoItemCheckout();
    // Each trip's item fails its shape (its creation time lost): every read of it raises StoredDataError.
    for (const { trip } of [withItems, readFirst]) await rewriteTrip(trip.tripId, 'REMOVE createdAt');

    const full = await deliver(variant(readFirst.event, withoutItems));
    const oneRequest = await deliver(withItems.event);

    expect(full.body).toMatchObject({ outcome: 'needs_attention', reason: 'stored_data_unusable' });
    expect(await store.getPaymentRecord(paymentOf(readFirst.event))).toMatchObject({ status: 'needs_attention' });
    expect(await store.listBookingsOfTrip(readFirst.trip.tripId)).toEqual([]);
    // The one request checks the fields its conditions name, never the item's shape: it books the trip.
    expect(oneRequest.body).toMatchObject({ outcome: 'needs_attention', reason: 'stored_data_unusable' });
    expect(await store.getPaymentRecord(paymentOf(withItems.event))).toMatchObject({ status: 'needs_attention' });
    expect(await store.listBookingsOfTrip(withItems.trip.tripId)).toEqual([]);
  });
});

/** A paid checkout whose items take more than one metadata value (six items with long ids: two values of 500 characters). */
async function multiValueCheckout() {
  const slots = await Promise.all(Array.from({ length: 6 }, () => seedSlot(store, { capacity: 3, priceAmount: 1_000 })));
  const { trip, event } = await checkedOut(slots.map((slot) => [slot, 1] as [Slot, number]));
  expect(itemsOf(event.data.object.metadata)).toHaveLength(2);
  return { trip, event, slots };
}

/** The metadata values holding the items, joined, as JSON tuples. */
function tuplesOf(metadata: Record<string, string>): [string, string, number, string, string, number][] {
  const keysInOrder = itemsOf(metadata).sort((x, y) => Number(x.slice(TRIP_ITEMS_METADATA_PREFIX.length)) - Number(y.slice(TRIP_ITEMS_METADATA_PREFIX.length)));
  return JSON.parse(keysInOrder.map((key) => metadata[key]).join(''));
}

function withTuples(
  metadata: Record<string, string>,
  change: (tuples: [string, string, number, string, string, number][]) => [string, string, number, string, string, number][],
) {
  const tuples = change(tuplesOf(metadata));
  const rest = Object.fromEntries(Object.entries(metadata).filter(([key]) => !key.startsWith(TRIP_ITEMS_METADATA_PREFIX)));
  return {
    ...rest,
    ...tripItemsMetadata({
      items: tuples.map(([slotId, experienceId, guestCount, date, time]) => ({ slotId, experienceId, guestCount, date, time })),
      itemAmounts: tuples.map((tuple) => tuple[5]),
    }),
  };
}

describe('sessions whose items are not as our checkout wrote them', () => {
  it.each<{ name: string; change: (metadata: Record<string, string>) => Record<string, string> }>([
    {
      name: 'a value missing in the middle',
      change: (metadata) => Object.fromEntries(Object.entries(metadata).filter(([key]) => key !== `${TRIP_ITEMS_METADATA_PREFIX}0`)),
    },
    {
      name: 'the items spread over 49 values, the last beyond those read',
      change: (metadata) => {
        const json = JSON.stringify(tuplesOf(metadata));
        const rest = Object.fromEntries(Object.entries(metadata).filter(([key]) => !key.startsWith(TRIP_ITEMS_METADATA_PREFIX)));
        const values = Array.from({ length: 49 }, (_, index) => [`${TRIP_ITEMS_METADATA_PREFIX}${index}`, index < 48 ? ' ' : json]);
        return { ...rest, ...Object.fromEntries(values) };
      },
    },
    {
      name: 'text that is not JSON',
      change: (metadata) => ({ ...metadata, [`${TRIP_ITEMS_METADATA_PREFIX}1`]: `${metadata[`${TRIP_ITEMS_METADATA_PREFIX}1`]}]]` }),
    },
    {
      name: 'a value of 100 000 characters',
      change: (metadata) => ({ ...metadata, [`${TRIP_ITEMS_METADATA_PREFIX}1`]: `${'['.repeat(50_000)}${']'.repeat(50_000)}` }),
    },
    { name: 'the items in another order', change: (metadata) => withTuples(metadata, (tuples) => [...tuples].reverse()) },
    {
      name: 'the prices moved between items, the total the same',
      change: (metadata) =>
        withTuples(metadata, (tuples) =>
          tuples.map((tuple, index) => [tuple[0], tuple[1], tuple[2], tuple[3], tuple[4], index === 0 ? 2_000 : index === 1 ? 0 : tuple[5]]),
        ),
    },
    { name: 'one item fewer at a price one item less', change: (metadata) => withTuples(metadata, (tuples) => tuples.slice(1)) },
    {
      name: 'a guest more on one item',
      change: (metadata) =>
        withTuples(metadata, (tuples) => tuples.map((tuple, index) => [tuple[0], tuple[1], index === 0 ? 2 : tuple[2], tuple[3], tuple[4], tuple[5]])),
    },
  ])('books the stored trip, once, for a session with $name', async ({ change }) => {
    const { trip, event, slots } = await multiValueCheckout();
    const changed = variant(event, (session) => withMetadata(session, change));

    const response = await deliver(changed);

    expect(response.body).toMatchObject({ outcome: 'booked', tripId: trip.tripId });
    const bookings = await store.listBookingsOfTrip(trip.tripId);
    expect(bookings.map(({ slotId, guestCount, amount }) => ({ slotId, guestCount, amount })).sort((x, y) => x.slotId.localeCompare(y.slotId))).toEqual(
      trip.items.map((item) => ({ slotId: item.slotId, guestCount: item.guestCount, amount: 1_000 })).sort((x, y) => x.slotId.localeCompare(y.slotId)),
    );
    for (const slot of slots) expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 1, held: 0 });
    expect(fake.refundsOf(paymentOf(event))).toEqual([]);
  });

  it('keeps for a person, and acts on nothing, an event whose metadata holds a value that is not a string, as before sessions carried items', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 1]]);
    const changed = variant(event, (session) => ({
      ...session,
      metadata: { ...(session.metadata as object), [`${TRIP_ITEMS_METADATA_PREFIX}0`]: { toString: 1 } },
    }));

    const response = await deliver(changed);

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'unusable_event' } });
    expect(await store.getUnusableEvent(changed.id)).toMatchObject({ status: 'needs_attention' });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'pending_payment' });
    expect(await seatsOf(slot)).toEqual({ available: 4, unheld: 3, booked: 0, held: 1 });
  });
});

/** Writes one attribute of a stored trip past every use case, as an older version of the code might have left it. */
async function rewriteTrip(tripId: string, update: string, values?: Record<string, unknown>, names?: Record<string, string>): Promise<void> {
  await testDocumentClient().send(
    new UpdateCommand({
      TableName: testTableName(),
      Key: keys.trip(tripId),
      UpdateExpression: update,
      ...(values && { ExpressionAttributeValues: values }),
      ...(names && { ExpressionAttributeNames: names }),
    }),
  );
}

/** A trip a platform made itself (createTrip: nothing held), paid through a session that carries its items as our checkout writes them. */
async function platformTrip(slot: Slot, guests: number, options: { attach: boolean }) {
  const trip = await createPendingTrip(other, [[slot, guests]]);
  const sessionId = `cs_test_${uniqueId('s').replace(/-/g, '')}`;
  if (options.attach) expect(await attachCheckoutSession({ store: other, clock: systemClock }, trip.tripId, sessionId)).toEqual({ ok: true });
  const paymentIntent = paymentIntentId();
  fake.registerPayment(paymentIntent, trip.amount);
  const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { sessionId, paymentIntent, withItems: true }));
  return { trip, event, paymentIntent };
}

describe('stored trips the one request was not written for', () => {
  it('books a trip whose stored items carry an attribute more, by reading it (the lists no longer compare equal)', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    await rewriteTrip(trip.tripId, 'SET #items[0].note = :note', { ':note': 'window seat' }, { '#items': 'items' });

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 2, GetItemCommand: 1 });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('books a trip stored without prices per item, by reading it, with bookings that carry no share', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    await rewriteTrip(trip.tripId, 'REMOVE itemAmounts');

    const response = await deliver(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([expect.not.objectContaining({ amount: expect.anything() })]);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('books a trip a platform made and never recorded a session on, by reading it, from the unheld seats', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event, paymentIntent } = await platformTrip(slot, 2, { attach: false });

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 2, GetItemCommand: 1 });
    expect(await store.getPaymentRecord(paymentIntent)).toMatchObject({ status: 'booked', tripId: trip.tripId });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('books a trip a platform made and recorded its session on, in two transactions: no hold, so both counters move', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { event } = await platformTrip(slot, 2, { attach: true });

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 2 });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('refunds a platform trip whose seats are gone, with nothing taken from anyone else’s hold', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const { trip, event, paymentIntent } = await platformTrip(slot, 2, { attach: true });
    expect(await anotherCheckout(slot, 1)).toMatchObject({ ok: true });

    const response = await deliver(event);

    expect(response.body).toMatchObject({ outcome: 'refunded', reason: 'INSUFFICIENT_AVAILABILITY' });
    expect(fake.totalRefunded(paymentIntent)).toBe(trip.amount);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 1, booked: 0, held: 1 });
  });
});

describe('a delayed payment whose hold was released long ago', () => {
  /** Checked out, paid later, its completion delivered (awaiting_payment), its hold swept, and then its money arriving. */
  async function settledLate(slot: Slot, guests: number) {
    const { trip, event: unpaid, url } = await checkedOut([[slot, guests]], 'pay-later');
    expect((await deliver(unpaid)).body).toMatchObject({ outcome: 'awaiting_payment' });
    await sweep(trip.tripId);
    expect((await fetch(`${url}/settle`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    return { trip, succeeded: lastEventOf(trip) };
  }

  it('books it in two transactions when the seats are still there, taking them from the unheld ones', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, succeeded } = await settledLate(slot, 2);

    const { response, made } = await deliverCounting(succeeded);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ [TRANSACT]: 2 });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'booked', paymentId: paymentOf(succeeded) });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('refunds it in full when another checkout holds its seats now, and gives nothing back twice', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const { trip, succeeded } = await settledLate(slot, 2);
    expect(await anotherCheckout(slot, 1)).toMatchObject({ ok: true });

    const response = await deliver(succeeded);
    const again = await deliver(succeeded);

    expect(response.body).toMatchObject({ outcome: 'refunded', reason: 'INSUFFICIENT_AVAILABILITY' });
    expect(again.body).toMatchObject({ outcome: 'refunded' });
    expect(fake.totalRefunded(paymentOf(succeeded))).toBe(trip.amount);
    expect(fake.refundsOf(paymentOf(succeeded))).toHaveLength(1);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 1, booked: 0, held: 1 });
  });
});

describe('after the one request is refused', () => {
  it('books from the unheld seats when the sweeper releases the hold between the refused one request and the full path’s confirmation', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await checkedOut([[slot, 2]]);
    // Items stored as an older version wrote them: the one request is refused, the full path reads and confirms.
    await rewriteTrip(trip.tripId, 'SET #items[0].note = :note', { ':note': 'older' }, { '#items': 'items' });
    const oneRequest = requests.hold(TRANSACT);
    const confirmation = requests.hold(TRANSACT);

    const delivery = deliver(event);
    await oneRequest.reached;
    oneRequest.release();
    await confirmation.reached;
    await sweep(trip.tripId);
    confirmation.release();
    const response = await delivery;

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'released' });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
  });

  it('books a trip of the same slot twice in one request, its seats taken once for both items', async () => {
    const slot = await seedSlot(store, { capacity: 5, priceAmount: 1_000 });
    const { trip, event } = await checkedOut([
      [slot, 1],
      [slot, 2],
    ]);

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(response.body.references).toHaveLength(2);
    expect(made).toEqual({ [TRANSACT]: 1 });
    expect((await store.listBookingsOfTrip(trip.tripId)).map((booking) => booking.amount).sort()).toEqual([1_000, 2_000]);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 3, held: 0 });
  });

  it('confirms the largest trip whose hold is gone in two transactions (100 items, then 99)', async () => {
    const slots = await Promise.all(Array.from({ length: 32 }, () => seedSlot(store, { capacity: 2 })));
    const { trip, event } = await checkedOut(slots.map((slot) => [slot, 1] as [Slot, number]));
    await sweep(trip.tripId);

    const { response, made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(response.body.references).toHaveLength(32);
    expect(made).toEqual({ [TRANSACT]: 2 });
    for (const slot of slots.slice(0, 3)) expect(await seatsOf(slot)).toEqual({ available: 1, unheld: 1, booked: 1, held: 0 });
  });
});

describe('everything at once', () => {
  it('keeps seats and money whole over 12 rounds of two deliveries, the sweeper and another checkout started together', async () => {
    for (let round = 0; round < 12; round++) {
      const slot = await seedSlot(store, { capacity: 3 });
      const { trip, event } = await checkedOut([[slot, 2]]);
      const paymentId = paymentOf(event);
      const twin = { ...event, id: uniqueId('evt') };

      const [first, second, , competitor] = await startTogether<unknown>([
        () => deliver(event),
        () => webhookHarness(fake, { store: other }).send(signedRequest(twin)),
        () => sweepIfHeld(trip.tripId),
        () => anotherCheckout(slot, 2),
      ]);

      const answers = [first, second].map((settled) =>
        settled?.status === 'fulfilled' ? (settled.value as Awaited<ReturnType<typeof deliver>>).body : settled,
      );
      const outcomes = answers.map((answer) => (answer as { outcome?: string }).outcome).sort();
      const bookings = await store.listBookingsOfTrip(trip.tripId);
      const competitorHolds = competitor?.status === 'fulfilled' && (competitor.value as { ok: boolean }).ok;
      if (bookings.length > 0) {
        expect(outcomes, `round ${round}`).toEqual(['booked', 'duplicate']);
        expect(bookings).toHaveLength(1);
        expect(fake.refundsOf(paymentId)).toEqual([]);
      } else {
        expect(outcomes, `round ${round}`).toEqual(['refunded', 'refunded']);
        expect(competitorHolds).toBe(true);
        expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
        expect(fake.refundsOf(paymentId)).toHaveLength(1);
      }
      const seats = await seatsOf(slot);
      // Three seats: this trip's two booked, or the other checkout's two held, never both.
      expect(seats.booked + seats.held, `round ${round}`).toBe((bookings.length > 0 ? 2 : 0) + (competitorHolds ? 2 : 0));
      expect(seats.booked + seats.held).toBeLessThanOrEqual(3);
    }
  });
});

/** The sweeper's transaction for one hold, as it runs when it finds the hold still held; nothing when another path settled it first. */
async function sweepIfHeld(tripId: string): Promise<void> {
  const hold = await other.getHold(tripId);
  if (hold?.status !== 'held') return;
  const { audit, ...release } = holdRelease({ store: other, clock: systemClock, ids: randomIds }, hold, 'system', 'expired');
  await commitHoldRelease(other, { at: new Date().toISOString(), ...release, audits: [audit] });
}
