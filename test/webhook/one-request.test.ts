// A paid checkout confirmed in one DynamoDB request: the session carries its trip's items, the transaction's conditions check the stored trip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats, type Slot, type Trip } from '../../lambdas/shared/domain/model';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { TRIP_ITEMS_METADATA_PREFIX, tripItemsMetadata } from '../../lambdas/shared/stripe/trip-metadata';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { chargeRefunded, checkoutSession, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { isCheckoutEvent, startStripeFake, type FakeCheckoutEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { readSlot, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
const client = testDocumentClient();
const requests = injectFaults(client);
const store = testStore(client);

beforeAll(async () => {
  // No webhook target: the fake records the events its payment page causes, and each test delivers them itself.
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const webhook = () => webhookHarness(fake, { store });

/** A trip opened by the front door (its seats held, its session recorded), then paid on the fake's page. */
async function paidCheckout(parts: readonly [Slot, number][], clock: Clock = systemClock): Promise<{ trip: Trip; event: FakeCheckoutEvent }> {
  const started = await startCheckout(
    { store, clock, ids: randomIds, checkout: new StripeCheckoutSessions(async () => fake.client()), holdMinutes: 30 },
    {
      userId: uniqueId('user'),
      items: parts.map(([slot, guestCount]) => ({ slotId: slot.slotId, guestCount })),
      successUrl: 'https://example.com/done',
      cancelUrl: 'https://example.com/cancelled',
    },
  );
  if (!started.ok) expect.fail(`checkout refused: ${started.errorCode}`);
  const paid = await fetch(`${started.checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' });
  expect(paid.status).toBe(303);
  const trip = (await store.getTrip(started.tripId)) as Trip;
  const event = fake.events.filter(isCheckoutEvent).findLast((candidate) => candidate.data.object.id === trip.checkoutSessionId);
  if (!event) expect.fail('the fake sent no event for the session');
  return { trip, event };
}

/** Delivers `event` and counts the DynamoDB requests the webhook made for it. */
async function deliverCounting(event: unknown) {
  requests.calls.clear();
  const response = await webhook().send(signedRequest(event));
  return { response, requests: Object.fromEntries(requests.calls) };
}

async function counts(slot: Slot): Promise<{ available: number; unheld: number }> {
  const now = (await readSlot(store, slot.slotId)) as Slot;
  return { available: now.availableCount, unheld: unheldSeats(now) };
}

/** The same event with its session's metadata changed, as someone holding the account's key could. */
function withMetadata(event: FakeCheckoutEvent, change: (metadata: Record<string, string>) => Record<string, string>): FakeCheckoutEvent {
  const session = event.data.object;
  return { ...event, id: uniqueId('evt'), data: { object: { ...session, metadata: change({ ...session.metadata }) } } };
}

describe('one request per confirmation', () => {
  it('confirms a paid checkout with one transaction and no read: seats, bookings, hold, payment record, trip', async () => {
    const a = await seedSlot(store, { capacity: 5, priceAmount: 4_500 });
    const b = await seedSlot(store, { capacity: 3, priceAmount: 12_000 });
    const { trip, event } = await paidCheckout([
      [a, 2],
      [b, 1],
    ]);

    const { response, requests: made } = await deliverCounting(event);

    expect(made).toEqual({ TransactWriteItemsCommand: 1 });
    expect(response).toMatchObject({ status: 200, body: { outcome: 'booked', tripId: trip.tripId } });
    const references = response.body.references as string[];
    expect(references).toHaveLength(2);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'booked', bookingReferences: references });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ slotId: a.slotId, guestCount: 2, amount: 9_000, status: 'confirmed', date: a.date, time: a.time }),
        expect.objectContaining({ slotId: b.slotId, guestCount: 1, amount: 12_000, status: 'confirmed' }),
      ]),
    );
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'consumed' });
    // Held seats were already off sale: only availability moves.
    expect(await counts(a)).toEqual({ available: 3, unheld: 3 });
    expect(await counts(b)).toEqual({ available: 2, unheld: 2 });
    const paymentId = event.data.object.payment_intent as string;
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({
      status: 'booked',
      tripId: trip.tripId,
      sessionId: trip.checkoutSessionId,
      amountPaid: 21_000,
    });
    expect(await store.getProcessedEvent(event.id)).toMatchObject({ outcome: 'booked', references });
  });

  it('answers a redelivery with one request, from the trip its refusal returns, booking nothing more', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await paidCheckout([[slot, 2]]);
    const first = await deliverCounting(event);

    const again = await deliverCounting(event);

    expect(again.requests).toEqual({ TransactWriteItemsCommand: 1 });
    expect(again.response).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: first.response.body.references } });
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });

  it('books once when two events of the same payment race, and answers the other duplicate', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await paidCheckout([[slot, 1]]);
    const twin = { ...event, id: uniqueId('evt') };

    const answers = await Promise.all([webhook().send(signedRequest(event)), webhook().send(signedRequest(twin))]);

    expect(answers.map((answer) => answer.body.outcome).sort()).toEqual(['booked', 'duplicate']);
    expect(answers[0]?.body.references).toEqual(answers[1]?.body.references);
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });
  });

  it('reads the trip first for a session that carries no items (opened before sessions carried them)', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await paidCheckout([[slot, 1]]);
    const older = withMetadata(event, (metadata) =>
      Object.fromEntries(Object.entries(metadata).filter(([key]) => !key.startsWith(TRIP_ITEMS_METADATA_PREFIX))),
    );

    const { response, requests: made } = await deliverCounting(older);

    expect(made).toEqual({ GetItemCommand: 1, TransactWriteItemsCommand: 1 });
    expect(response.body).toMatchObject({ outcome: 'booked', tripId: trip.tripId });
    expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });
  });

  it('competes for the unheld seats once the hold has been released: a second transaction, both counters move', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await paidCheckout([[slot, 2]]);
    const later: Clock = { now: () => new Date(Date.now() + 2 * 86_400_000) };
    await releaseExpiredHolds({ store, clock: later, ids: randomIds });
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'released' });

    const { response, requests: made } = await deliverCounting(event);

    expect(made).toEqual({ TransactWriteItemsCommand: 2 });
    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });

  it('books the stored trip, not items the session was changed to carry', async () => {
    const booked = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    const other = await seedSlot(store, { capacity: 4, priceAmount: 4_500, date: booked.date, time: booked.time });
    const { trip, event } = await paidCheckout([[booked, 1]]);
    const changed = withMetadata(event, (metadata) => ({
      ...metadata,
      ...tripItemsMetadata({ items: [{ ...trip.items[0]!, slotId: other.slotId, experienceId: other.experienceId }], itemAmounts: [4_500] }),
    }));

    const { response } = await deliverCounting(changed);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([expect.objectContaining({ slotId: booked.slotId })]);
    expect(await counts(other)).toEqual({ available: 4, unheld: 4 });
    expect(await counts(booked)).toEqual({ available: 3, unheld: 3 });
  });

  it.each([
    { name: 'another user', change: (metadata: Record<string, string>) => ({ ...metadata, userId: 'someone-else' }), reason: 'user_mismatch' },
    {
      name: 'a cheaper price for the same items',
      change: (metadata: Record<string, string>) => ({ ...metadata, ...tripItemsMetadata(cheaper(metadata)) }),
      reason: 'amount_mismatch',
    },
  ])('refuses a session naming $name, then sets the payment aside and refunds it, leaving the trip waiting', async ({ change, reason }) => {
    const slot = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    const { trip, event } = await paidCheckout([[slot, 1]]);
    const changed = withMetadata(event, change);
    const paymentId = changed.data.object.payment_intent as string;
    if (reason === 'amount_mismatch') {
      // The charge follows the changed price, as it would for a session opened with it.
      Object.assign(changed.data.object, { amount_total: 100, amount_subtotal: 100 });
    }

    const { response } = await deliverCounting(changed);

    expect(response.body).toMatchObject({ outcome: 'refunded', reason, setAside: true });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'pending_payment' });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
    expect(await counts(slot)).toEqual({ available: 4, unheld: 3 });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });

  it('falls back to reading when the store gives no answer to the one request, and books once', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip, event } = await paidCheckout([[slot, 1]]);
    // Every attempt of the first transaction fails before it leaves; the next one goes through.
    requests.queue('TransactWriteItemsCommand', 'network-before', 'network-before', 'network-before', 'network-before', 'network-before');

    const { response, requests: made } = await deliverCounting(event);

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect(made).toEqual({ TransactWriteItemsCommand: 6, GetItemCommand: 1 });
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });
  });

  it('confirms the largest trip from its session in one request', async () => {
    const slots = await Promise.all(Array.from({ length: 32 }, () => seedSlot(store, { capacity: 2 })));
    const { trip, event } = await paidCheckout(slots.map((slot) => [slot, 1] as [Slot, number]));

    const { response, requests: made } = await deliverCounting(event);

    expect(made).toEqual({ TransactWriteItemsCommand: 1 });
    expect(response.body.references).toHaveLength(32);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'booked' });
  });

  it.each([
    { order: 'after its confirmation', refundFirst: false, outcomes: ['booked', 'released'] },
    { order: 'before its confirmation', refundFirst: true, outcomes: ['refund_recorded', 'already_refunded'] },
  ])('gives every seat of the largest trip back on a full refund $order: the release fits one transaction', async ({ refundFirst, outcomes }) => {
    const slots = await Promise.all(Array.from({ length: 32 }, () => seedSlot(store, { capacity: 3 })));
    const { trip, event } = await paidCheckout(slots.map((slot) => [slot, 2] as [Slot, number]));
    const paid = signedRequest(event);
    const refunded = signedRequest(chargeRefunded(event.data.object.payment_intent as string, trip.amount, { tripId: trip.tripId }));

    const answers = [];
    for (const request of refundFirst ? [refunded, paid] : [paid, refunded]) answers.push(await webhook().send(request));

    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers.map((answer) => answer.body.outcome)).toEqual(outcomes);
    expect((await store.getTrip(trip.tripId))?.status).toBe('refunded');
    for (const slot of slots) expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });
  });
});

describe('sessions made by the dev kit', () => {
  it('carry the items of a trip our checkout opened, and none for a trip made without it', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip } = await paidCheckout([[slot, 1]]);
    const carriesItems = (metadata: unknown) => Object.keys(metadata as object).some((key) => key.startsWith(TRIP_ITEMS_METADATA_PREFIX));
    const { checkoutSessionId: _session, ...withoutSession } = trip;
    const { holdExpiresAt: _hold, ...withoutHold } = trip;

    expect(carriesItems(checkoutSession(trip).metadata)).toBe(true);
    expect(carriesItems(checkoutSession(withoutSession).metadata)).toBe(false);
    // Its own session, recorded with attachCheckoutSession by a platform that makes sessions itself.
    expect(carriesItems(checkoutSession(withoutHold).metadata)).toBe(false);
    expect(stripeEvent('checkout.session.completed', checkoutSession(trip)).data.object).toMatchObject({ id: trip.checkoutSessionId });
  });
});

/** The same items at one unit each: a price the stored trip does not have. */
function cheaper(metadata: Record<string, string>) {
  const text = Object.keys(metadata)
    .filter((key) => key.startsWith(TRIP_ITEMS_METADATA_PREFIX))
    .sort((x, y) => Number(x.slice(TRIP_ITEMS_METADATA_PREFIX.length)) - Number(y.slice(TRIP_ITEMS_METADATA_PREFIX.length)))
    .map((key) => metadata[key])
    .join('');
  const tuples = JSON.parse(text) as [string, string, number, string, string, number][];
  return {
    items: tuples.map(([slotId, experienceId, guestCount, date, time]) => ({ slotId, experienceId, guestCount, date, time })),
    itemAmounts: tuples.map(() => 100),
  };
}
