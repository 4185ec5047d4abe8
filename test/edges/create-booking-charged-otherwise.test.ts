// create-booking books a trip at its price before the payment's own session says Stripe charged less (a discount): the
// session's event corrects the record and the bookings' shares once, or puts the payment in front of a person.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { ListedEvent, PaymentEventSource, PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { tripRequest } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { minutesLater, resumeRefundsAt, testReconciler } from '../support/reconciler';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { Trip } from '../../lambdas/shared/domain/model';
import { processedEventRecord } from '../../lambdas/shared/domain/audit-trail';
import { PROCESSED_EVENT_RETENTION_DAYS } from '../../lambdas/shared/domain/payment-events';
import { reasonsOf, shareRefundKey } from '../../lambdas/shared/domain/payment-ledger';
import { keys, tripItem } from '../../lambdas/shared/dynamodb/items';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking, resolvePayment, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { chargeRefunded, checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { deps, seedSlot, tableOf, testDocumentClient, testStore, type TestStore, testTableName } from '../support/store';
import { createPendingTrip } from '../support/trips';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const PRICE = 4_500;
const DISCOUNT = 1_000;

/** A trip of two bookings at 45.00 each, booked by create-booking with a PaymentIntent Stripe charged 80.00 (10.00 off). */
async function bookedAtItsPrice(store: TestStore, charge: { more?: number; currency?: string } = {}, stripe: StripeFake = fake) {
  const a = await seedSlot(store, { capacity: 5, priceAmount: PRICE });
  const b = await seedSlot(store, { capacity: 5, priceAmount: PRICE });
  const trip = await createPendingTrip(store, [
    [a, 1],
    [b, 1],
  ]);
  const charged = charge.more === undefined ? trip.amount - DISCOUNT : trip.amount + charge.more;
  const paymentId = paymentIntentId();
  stripe.registerPayment(paymentId, charged, charge.currency ?? 'eur');
  const invoke = createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) });
  const direct = await invoke({ paymentId, tripId: trip.tripId, userId: trip.userId, tripItems: trip.items.map((item) => ({ ...item })) });
  expect(direct.success).toBe(true);
  return { trip: (await store.getTrip(trip.tripId)) as Trip, paymentId, charged };
}

/** The payment's own session completing, with its discount. */
function sessionCompleted(trip: Trip, paymentId: string, charged: number, overrides: Record<string, unknown> = {}, withItems = false) {
  const session = {
    ...checkoutSession(trip, { paymentIntent: paymentId, amount: charged, withItems }),
    amount_subtotal: trip.amount,
    total_details: { amount_discount: trip.amount - charged, amount_shipping: 0, amount_tax: 0 },
    ...overrides,
  };
  return signedRequest(stripeEvent('checkout.session.completed', session));
}

function operator(store: BookingStore, stripe: StripeFake = fake, clock: Clock = systemClock) {
  return { store, gateway: new StripePaymentGateway(async () => stripe.client()), clock, ids: randomIds };
}

/** Stripe's client, each refund request held on its way until `release`: `atStripe` once the first has left. */
function heldRefunds(): { gateway: PaymentGateway; atStripe: Promise<void>; release: () => void } {
  const real = new StripePaymentGateway(async () => fake.client());
  let reached!: () => void;
  const atStripe = new Promise<void>((resolve) => (reached = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const gateway: PaymentGateway = Object.assign(Object.create(real) as PaymentGateway, {
    refund: async (request: Parameters<PaymentGateway['refund']>[0]) => {
      reached();
      await gate;
      return real.refund(request);
    },
  });
  return { gateway, atStripe, release };
}

async function shares(store: TestStore, trip: Trip) {
  return (await store.getBookings(trip.bookingReferences)).map((booking) => booking.amount);
}

async function auditsOf(store: TestStore, paymentId: string, eventType: string) {
  return (await store.listAudit('payment', paymentId)).filter((entry) => entry.eventType === eventType);
}

describe('create-booking first, then the discounted session of the same trip', () => {
  it.each([
    { session: 'a platform’s (no items)', withItems: false },
    { session: 'one carrying its items (tried in one request first)', withItems: true },
  ])(
    '$session: the record says what Stripe charged, each booking its share of it, and a cancellation gives back its share, not its price',
    async ({ withItems }) => {
      const store = testStore();
      const { trip, paymentId, charged } = await bookedAtItsPrice(store);
      const webhook = webhookHarness(fake, { store });

      const answer = await webhook.send(sessionCompleted(trip, paymentId, charged, {}, withItems));

      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ outcome: 'duplicate', tripId: trip.tripId, references: trip.bookingReferences });
      expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', amountPaid: charged, currency: 'eur', sessionId: expect.any(String) });
      expect(await shares(store, trip)).toEqual([4_000, 4_000]);
      expect(await auditsOf(store, paymentId, 'payment.charge_recorded')).toEqual([
        expect.objectContaining({ metadata: expect.objectContaining({ charged, recordedAsPaid: trip.amount }) }),
      ]);
      const trail = await store.listAudit('booking', trip.bookingReferences[0] as string);
      expect(trail.filter((entry) => entry.eventType === 'booking.share_corrected')).toEqual([
        expect.objectContaining({ metadata: expect.objectContaining({ from: PRICE, to: 4_000, paymentId }) }),
      ]);

      const [first, second] = trip.bookingReferences as [string, string];
      await cancelBooking(operator(store), { reference: first, reason: 'guide ill', actorId: 'ana', refund: true });
      expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([4_000]);
      await cancelBooking(operator(store), { reference: second, reason: 'guide ill', actorId: 'ana', refund: true });
      expect({ back: fake.totalRefunded(paymentId), record: (await store.getPaymentRecord(paymentId))?.status }).toEqual({ back: charged, record: 'refunded' });
    },
  );

  it('delivered twice, and twice at once: corrected once, audited once, never scaled again', async () => {
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store);
    const webhook = webhookHarness(fake, { store });
    const event = sessionCompleted(trip, paymentId, charged);

    const together = await Promise.all([webhook.send(event), webhook.send(event)]);
    const again = await webhook.send(event);
    // Another event of the same session (the reconciliation sweep's, say, a day later): the record decides.
    const another = await webhook.send(sessionCompleted(trip, paymentId, charged, { id: (await store.getPaymentRecord(paymentId))?.sessionId }));

    expect([...together, again, another].map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect([...together, again, another].map((answer) => answer.body.outcome)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(await shares(store, trip)).toEqual([4_000, 4_000]);
    expect((await store.getPaymentRecord(paymentId))?.amountPaid).toBe(charged);
    expect(await auditsOf(store, paymentId, 'payment.charge_recorded')).toHaveLength(1);
  });

  it('a booking cancelled with its share between the read and the write: the write is refused, and the payment goes to a person, never over-refunded', async () => {
    const plain = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(plain);
    const [first, second] = trip.bookingReferences as [string, string];
    // The operator's cancellation lands just after the event's step read the bookings.
    let cancelled = false;
    const store = new Proxy(plain, {
      get(target, property) {
        if (property === 'getBookings') {
          return async (references: readonly string[]) => {
            const read = await target.getBookings(references);
            if (!cancelled) {
              cancelled = true;
              await cancelBooking(operator(plain), { reference: first, reason: 'guide ill', actorId: 'ana', refund: true });
            }
            return read;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    const answer = await webhookHarness(fake, { store }).send(sessionCompleted(trip, paymentId, charged));

    expect({ status: answer.status, cancelledInBetween: cancelled }).toEqual({ status: 200, cancelledInBetween: true });
    expect(answer.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', amountPaid: charged, amountRefunded: PRICE });
    // Nothing scaled: the cancelled booking's share was refunded at the first figure.
    expect(await shares(plain, trip)).toEqual([PRICE, PRICE]);
    expect(await auditsOf(plain, paymentId, 'payment.charge_recorded')).toHaveLength(0);
    // The other booking's share is cut to what is left of the charge: all of it back, not a cent more.
    await cancelBooking(operator(plain), { reference: second, reason: 'guide ill', actorId: 'ana', refund: true });
    expect(fake.totalRefunded(paymentId)).toBe(charged);
  });

  it('a share refunded before the session said what was charged: in front of a person, the rest of the charge refundable and no more', async () => {
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store);
    const [first, second] = trip.bookingReferences as [string, string];
    await cancelBooking(operator(store), { reference: first, reason: 'guide ill', actorId: 'ana', refund: true });

    const answer = await webhookHarness(fake, { store }).send(sessionCompleted(trip, paymentId, charged));
    await cancelBooking(operator(store), { reference: second, reason: 'guide ill', actorId: 'ana', refund: true });

    expect(answer.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    expect(await auditsOf(store, paymentId, 'payment.needs_attention')).toEqual([
      expect.objectContaining({ metadata: expect.objectContaining({ reason: 'charged_otherwise', charged, recordedAsPaid: trip.amount }) }),
    ]);
    expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([PRICE, charged - PRICE]);
  });

  it('charged in another currency than the trip’s: in front of a person, nothing scaled', async () => {
    const store = testStore();
    const { trip, paymentId } = await bookedAtItsPrice(store);

    const answer = await webhookHarness(fake, { store }).send(
      sessionCompleted(trip, paymentId, trip.amount, { currency: 'usd', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );

    expect(answer.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', currency: 'usd', amountPaid: trip.amount });
    expect(await shares(store, trip)).toEqual([PRICE, PRICE]);
  });

  it('a session priced otherwise than the trip (its subtotal another figure): in front of a person, nothing scaled', async () => {
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store);

    const answer = await webhookHarness(fake, { store }).send(
      sessionCompleted(trip, paymentId, charged, {
        amount_subtotal: charged + 500,
        total_details: { amount_discount: 500, amount_shipping: 0, amount_tax: 0 },
      }),
    );

    expect(answer.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', amountPaid: charged });
    expect(await shares(store, trip)).toEqual([PRICE, PRICE]);
  });

  it('charged the trip’s price: the duplicate it always was, nothing written', async () => {
    const store = testStore();
    const { trip, paymentId } = await bookedAtItsPrice(store);
    const versionBefore = (await store.getPaymentRecord(paymentId))?.version;

    const answer = await webhookHarness(fake, { store }).send(
      sessionCompleted(trip, paymentId, trip.amount, { total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );

    expect(answer.body).toMatchObject({ outcome: 'duplicate', references: trip.bookingReferences });
    expect((await store.getPaymentRecord(paymentId))?.version).toBe(versionBefore);
    expect(await shares(store, trip)).toEqual([PRICE, PRICE]);
  });
});

/** The store as `bookings cancel` sees it: the session's event is delivered (and corrects the shares) just before it reads the record. */
function sessionLandingBeforeRecordRead(plain: TestStore, deliver: () => Promise<void>) {
  let delivered = false;
  const store = new Proxy(plain, {
    get(target, property) {
      if (property === 'getPaymentRecord') {
        return async (id: string) => {
          if (!delivered) {
            delivered = true;
            await deliver();
          }
          return target.getPaymentRecord(id);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, delivered: () => delivered };
}

describe('the correction landing between a cancellation’s read of its booking and its read of the record', () => {
  it('with its refund: the booking gets its corrected share, not its undiscounted price (the cancellation reads again)', async () => {
    const plain = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(plain);
    const [first, second] = trip.bookingReferences as [string, string];
    const webhook = webhookHarness(fake, { store: plain });
    const race = sessionLandingBeforeRecordRead(plain, async () => {
      expect((await webhook.send(sessionCompleted(trip, paymentId, charged))).body).toMatchObject({ outcome: 'duplicate' });
    });

    await cancelBooking(operator(race.store), { reference: first, reason: 'guide ill', actorId: 'ana', refund: true });

    expect(race.delivered()).toBe(true);
    expect((await plain.getPaymentRecord(paymentId))?.amountPaid).toBe(charged);
    expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([4_000]);
    expect((await plain.getPaymentRecord(paymentId))?.status).toBe('booked');
    await cancelBooking(operator(plain), { reference: second, reason: 'guide ill', actorId: 'ana', refund: true });
    expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([4_000, 4_000]);
  });

  it('--no-refund: the share waived is the corrected one', async () => {
    const plain = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(plain);
    const webhook = webhookHarness(fake, { store: plain });
    const race = sessionLandingBeforeRecordRead(plain, async () => {
      await webhook.send(sessionCompleted(trip, paymentId, charged));
    });

    await cancelBooking(operator(race.store), { reference: trip.bookingReferences[0] as string, reason: 'no show', actorId: 'ana', refund: false });

    const record = await plain.getPaymentRecord(paymentId);
    expect(record?.amountPaid).toBe(charged);
    expect(record?.refunds.map((entry) => ({ status: entry.status, amount: entry.amount }))).toEqual([{ status: 'waived', amount: 4_000 }]);
  });
});

describe('the discounted session arriving once create-booking’s payment left `booked`', () => {
  it('one share refunded at the price, the other waived: in front of a person, the record saying what was charged', async () => {
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store);
    const [first, second] = trip.bookingReferences as [string, string];
    await cancelBooking(operator(store), { reference: first, reason: 'guide ill', actorId: 'ana', refund: true });
    await cancelBooking(operator(store), { reference: second, reason: 'no show', actorId: 'ana', refund: false });

    const answer = await webhookHarness(fake, { store }).send(sessionCompleted(trip, paymentId, charged));

    const record = await store.getPaymentRecord(paymentId);
    expect({
      outcome: answer.body.outcome,
      status: record?.status,
      reasons: reasonsOf(record?.attention).map((r) => r.reason),
      amountPaid: record?.amountPaid,
    }).toEqual({
      outcome: 'needs_attention',
      status: 'needs_attention',
      reasons: ['charged_otherwise'],
      amountPaid: charged,
    });
  });

  it.each([
    { charged: 'less (a discount)', more: undefined, currency: 'eur' },
    { charged: 'more (a tax)', more: 1_000, currency: 'eur' },
    { charged: 'in another currency', more: 500, currency: 'usd' },
  ])(
    'the whole charge, $charged, refunded in the Dashboard first: the charge recorded, nothing for a person, no refund counted',
    async ({ more, currency }) => {
      const store = testStore();
      const { trip, paymentId, charged } = await bookedAtItsPrice(store, { ...(more !== undefined && { more }), currency });
      const webhook = webhookHarness(fake, { store });
      await (await fake.client()).refunds.create({ payment_intent: paymentId });
      const released = await webhook.send(signedRequest(chargeRefunded(paymentId, charged, { tripId: trip.tripId, currency })));
      expect(released.body).toMatchObject({ outcome: 'released' });
      const metrics = vi.spyOn(webhook.metrics, 'addMetric');

      const answer = await webhook.send(
        sessionCompleted(trip, paymentId, charged, {
          currency,
          total_details: { amount_discount: Math.max(0, trip.amount - charged), amount_shipping: 0, amount_tax: Math.max(0, charged - trip.amount) },
        }),
      );

      const record = await store.getPaymentRecord(paymentId);
      expect(answer.body.outcome).toBe('already_refunded');
      expect({ status: record?.status, amountPaid: record?.amountPaid, currency: record?.currency, amountRefunded: record?.amountRefunded }).toEqual({
        status: 'refunded',
        amountPaid: charged,
        currency,
        amountRefunded: fake.totalRefunded(paymentId),
      });
      expect(await auditsOf(store, paymentId, 'payment.charge_recorded')).toHaveLength(1);
      expect(metrics.mock.calls.map(([name]) => name)).not.toContain('Refunds');
    },
  );

  it('a person already looking at a refused share: the charge joins the reasons, and the record says what was charged', async () => {
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store);
    fake.refuseNext('charge_disputed');
    await cancelBooking(operator(store), { reference: trip.bookingReferences[0] as string, reason: 'guide ill', actorId: 'ana', refund: true });
    expect((await store.getPaymentRecord(paymentId))?.status).toBe('needs_attention');

    await webhookHarness(fake, { store }).send(sessionCompleted(trip, paymentId, charged));

    const record = await store.getPaymentRecord(paymentId);
    expect({ amountPaid: record?.amountPaid, reasons: reasonsOf(record?.attention).map((r) => r.reason) }).toEqual({
      amountPaid: charged,
      reasons: ['refund_refused', 'charged_otherwise'],
    });
  });
});

describe('the same session at the same time as create-booking, or as another delivery of it', () => {
  it('the sweep’s confirmation, refused because create-booking booked the trip meanwhile, still records what Stripe charged', async () => {
    const plain = testStore();
    const a = await seedSlot(plain, { capacity: 5, priceAmount: PRICE });
    const b = await seedSlot(plain, { capacity: 5, priceAmount: PRICE });
    const pending = await createPendingTrip(plain, [
      [a, 1],
      [b, 1],
    ]);
    const charged = pending.amount - DISCOUNT;
    const paymentId = paymentIntentId();
    fake.registerPayment(paymentId, charged, 'eur');
    // A platform's session (no items in its metadata): the sweep reads the trip before it confirms.
    const session = {
      ...checkoutSession(pending, { paymentIntent: paymentId, amount: charged }),
      amount_subtotal: pending.amount,
      total_details: { amount_discount: DISCOUNT, amount_shipping: 0, amount_tax: 0 },
    };
    const event = stripeEvent('checkout.session.completed', session);
    const listed: ListedEvent = { id: event.id, type: event.type, created: event.created, pendingDeliveries: 0, json: event };
    const events: PaymentEventSource = {
      listEvents: async ({ createdFrom, createdTo }) => (event.created >= createdFrom && event.created <= createdTo ? [listed] : []),
    };
    // create-booking (knowing no session) commits right after the sweep read the trip still waiting.
    const invoke = createBookingHandler({ ...deps(plain), logger: new Logger({ logLevel: 'SILENT' }) });
    let booked: Awaited<ReturnType<typeof invoke>> | undefined;
    const store = new Proxy(plain, {
      get(target, property) {
        if (property === 'getTrip') {
          return async (tripId: string) => {
            const read = await target.getTrip(tripId);
            if (booked === undefined && tripId === pending.tripId && read?.status === 'pending_payment') {
              booked = await invoke({ paymentId, tripId, userId: pending.userId, tripItems: pending.items.map((item) => ({ ...item })) });
            }
            return read;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as DynamoDbBookingStore;

    await testReconciler(fake, store, { events, clock: minutesLater(10) }).run(undefined as never, undefined as never);

    expect(booked?.success).toBe(true);
    const trip = (await plain.getTrip(pending.tripId)) as Trip;
    expect(trip).toMatchObject({ status: 'booked', paymentId });
    expect(await plain.getProcessedEvent(event.id)).toMatchObject({ outcome: 'duplicate' });
    expect(await plain.getPaymentRecord(paymentId)).toMatchObject({ amountPaid: charged, sessionId: session.id });
    expect(await shares(plain, trip)).toEqual([PRICE - DISCOUNT / 2, PRICE - DISCOUNT / 2]);
  });

  it('the delivery that read the record before the other corrected it answers as any redelivery: duplicate, the references, no reason', async () => {
    const plain = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(plain);
    const event = sessionCompleted(trip, paymentId, charged);
    const other = webhookHarness(fake, { store: plain });
    let second: Awaited<ReturnType<typeof other.send>> | undefined;
    const store = new Proxy(plain, {
      get(target, property) {
        if (property === 'getBookings') {
          return async (references: readonly string[]) => {
            if (second === undefined) second = await other.send(event);
            return target.getBookings(references);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    const first = await webhookHarness(fake, { store }).send(event);

    expect(second?.body).toMatchObject({ outcome: 'duplicate', references: trip.bookingReferences });
    expect(first).toEqual({ status: 200, body: { received: true, outcome: 'duplicate', tripId: trip.tripId, references: trip.bookingReferences } });
    expect(await plain.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', amountPaid: charged });
  });
});

describe('a booking cancelled with its refund once its payment was charged in another currency', () => {
  /** Booked at 45.00 EUR a booking by create-booking; its session then says Stripe charged ¥9000. */
  async function chargedInYen(store: TestStore) {
    const booked = await bookedAtItsPrice(store, { more: 0, currency: 'jpy' });
    const answer = await webhookHarness(fake, { store }).send(
      sessionCompleted(booked.trip, booked.paymentId, booked.trip.amount, {
        currency: 'jpy',
        total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      }),
    );
    expect(answer.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    return booked;
  }

  it('asks Stripe for nothing (45.00 EUR is no amount of yen), gives the seats back, and adds the share to what the person settles', async () => {
    const store = testStore();
    const { trip, paymentId } = await chargedInYen(store);
    const [first, second] = trip.bookingReferences as [string, string];

    const cancelled = await cancelBooking(operator(store), { reference: first, reason: 'guide ill', refund: true });
    const again = await cancelBooking(operator(store), { reference: first, reason: 'guide ill', refund: true });

    expect(cancelled).toMatchObject({
      ok: true,
      released: [{ reference: first }],
      shareInAnotherCurrency: { share: PRICE, shareCurrency: 'eur', chargeCurrency: 'jpy' },
      currency: 'jpy',
    });
    expect(cancelled).not.toHaveProperty('refund');
    expect(again).toMatchObject({ ok: true, released: [], alreadyReleased: true, currency: 'jpy' });
    expect(fake.refundsOf(paymentId)).toEqual([]);
    const record = await store.getPaymentRecord(paymentId);
    expect(record).toMatchObject({ status: 'needs_attention', currency: 'jpy', amountPaid: trip.amount, amountRefunded: 0, refunds: [] });
    expect(reasonsOf(record?.attention).map((reason) => reason.reason)).toEqual(['charged_otherwise', 'share_in_another_currency']);
    expect(await store.getBookings([first, second])).toMatchObject([{ status: 'cancelled' }, { status: 'confirmed' }]);
    const slotId = trip.items[0]?.slotId as string;
    expect((await store.getSlots([slotId])).get(slotId)?.availableCount).toBe(5);
  });

  it('bookings cancel says so and asks Stripe nothing; the last booking with --no-refund is waived at its share, in its own currency', async () => {
    const store = testStore();
    const { trip, paymentId } = await chargedInYen(store);
    const [first, second] = trip.bookingReferences as [string, string];
    const gateway = new StripePaymentGateway(async () => fake.client());

    const withRefund = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], gateway, { STRIPE_API_KEY: 'sk_test_ops' });
    const waived = await ops(['bookings', 'cancel', second, '--reason', 'guide ill', '--no-refund'], gateway, { STRIPE_API_KEY: 'sk_test_ops' });

    expect(withRefund).toMatchObject({ code: 1, err: 'warning: nothing was refunded: the payment is in front of a person (`npm run ops -- attention list`)' });
    expect(withRefund.out).toContain('none (its share, 45.00 EUR, is priced in another currency than its payment was charged in, JPY');
    expect(waived).toMatchObject({ code: 0 });
    expect(waived.out).toContain('waived: 45.00 EUR');
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', amountRefunded: 0 });
  });
});

describe('a share asked for before the session said the charge was in another currency', () => {
  /** Booked at 45.00 EUR a booking by create-booking; the first cancelled with its refund, as `before` leaves it; then the session says ¥9000. */
  async function shareThenYen(store: DynamoDbBookingStore, before: () => void) {
    const { trip, paymentId } = await bookedAtItsPrice(store, { more: 0, currency: 'jpy' });
    const first = trip.bookingReferences[0] as string;
    before();
    await cancelBooking(operator(store), { reference: first, reason: 'guide ill', refund: true }).catch(() => undefined);
    const answer = await webhookHarness(fake, { store }).send(
      sessionCompleted(trip, paymentId, trip.amount, { currency: 'jpy', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );
    expect(answer.body).toMatchObject({ outcome: 'needs_attention' });
    expect(reasonsOf((await store.getPaymentRecord(paymentId))?.attention).map((reason) => reason.reason)).toContain('charged_otherwise');
    return { trip, paymentId, first, key: shareRefundKey(paymentId, first) };
  }

  /**
   * Booked at 45.00 EUR a booking, charged ¥9000; the first booking's cancellation asks Stripe for its share, the request
   * held on its way while the session says yen and the sweep looks the share up by its key and finds nothing.
   */
  async function supersededWhileOnItsWay(store: DynamoDbBookingStore) {
    const { trip, paymentId } = await bookedAtItsPrice(store, { more: 0, currency: 'jpy' });
    const first = trip.bookingReferences[0] as string;
    const webhook = webhookHarness(fake, { store });
    const { gateway, atStripe, release } = heldRefunds();
    const cancelling = cancelBooking({ ...operator(store), gateway }, { reference: first, reason: 'guide ill', refund: true });
    await atStripe;
    await webhook.send(
      sessionCompleted(trip, paymentId, trip.amount, { currency: 'jpy', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );
    await resumeRefundsAt(fake, store, { clock: minutesLater(10) });
    return { trip, paymentId, first, webhook, release, cancelling };
  }

  it.each([
    { by: 'payments retry-refund', resume: (store: DynamoDbBookingStore, paymentId: string) => retryRefund(operator(store), paymentId, 'ana') },
    {
      by: 'bookings cancel run again',
      resume: async (store: DynamoDbBookingStore, paymentId: string) => {
        const record = await store.getPaymentRecord(paymentId);
        return cancelBooking(operator(store), { reference: record?.refunds[0]?.bookingReferences[0] as string, reason: 'guide ill', refund: true });
      },
    },
    { by: 'the reconciliation sweep', resume: (store: DynamoDbBookingStore) => resumeRefundsAt(fake, store, { clock: minutesLater(10) }) },
  ])('left requested (Stripe down), then resumed by $by: looked up by its key, never asked for in yen; a person refunds it', async ({ resume }) => {
    const store = testStore();
    const { paymentId, key } = await shareThenYen(store, () => fake.failNext(1, 500));
    expect((await store.getPaymentRecord(paymentId))?.refunds).toMatchObject([{ refundKey: key, status: 'requested', pricedIn: 'eur' }]);

    await resume(store, paymentId);
    fake.advance(25 * 3_600_000);
    await resumeRefundsAt(fake, store, { clock: minutesLater(25 * 60) });
    await retryRefund(operator(store), paymentId, 'ana');

    expect(fake.refundsOf(paymentId)).toEqual([]);
    const record = await store.getPaymentRecord(paymentId);
    expect(record).toMatchObject({
      status: 'needs_attention',
      currency: 'jpy',
      amountRefunded: 0,
      refunds: [{ refundKey: key, status: 'superseded', failureCode: 'share_in_another_currency', pricedIn: 'eur' }],
    });
    expect(reasonsOf(record?.attention).map((reason) => reason.reason)).toEqual(['charged_otherwise', 'share_in_another_currency']);
    expect((await ops(['payments', 'show', paymentId])).out).toMatch(/superseded +45\.00 EUR +share_in_another_currency/);
  });

  it('refused for good (disputed), then the session: payments retry-refund asks nothing again, under no new key', async () => {
    const store = testStore();
    const { paymentId, key } = await shareThenYen(store, () => fake.refuseNext('charge_disputed'));

    const retried = await retryRefund(operator(store), paymentId, 'ana');

    expect(retried).toMatchObject({ ok: false, errorCode: 'NOTHING_TO_RETRY' });
    expect(fake.refundsOf(paymentId).filter((refund) => refund.status !== 'failed')).toEqual([]);
    expect((await store.getPaymentRecord(paymentId))?.refunds).toMatchObject([{ refundKey: key, status: 'failed', pricedIn: 'eur' }]);
  });

  it('on its way at Stripe (pending) when the session came, failing later: payments retry-refund asks nothing again', async () => {
    const store = testStore();
    const { trip, paymentId, key } = await shareThenYen(store, () => fake.nextRefundStatus('pending'));
    expect((await store.getPaymentRecord(paymentId))?.refunds).toMatchObject([{ refundKey: key, status: 'pending', pricedIn: 'eur' }]);
    const failed = fake.setRefundStatus(fake.refundsOf(paymentId)[0]?.id as string, 'failed', 'expired_or_canceled_card');
    await webhookHarness(fake, { store }).send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));

    const retried = await retryRefund(operator(store), paymentId, 'ana');

    expect(retried).toMatchObject({ ok: false, errorCode: 'NOTHING_TO_RETRY' });
    expect(fake.refundsOf(paymentId).map((refund) => refund.status)).toEqual(['failed']);
    expect(trip.bookingReferences).toHaveLength(2);
  });

  it('still in flight at Stripe when the sweep looked it up: superseded, then recorded as the refund Stripe made, counted once', async () => {
    const store = testStore();
    const { trip, paymentId, first, webhook, release, cancelling } = await supersededWhileOnItsWay(store);
    expect((await store.getPaymentRecord(paymentId))?.refunds).toMatchObject([{ status: 'superseded', failureCode: 'share_in_another_currency' }]);

    release();
    await cancelling;
    const made = fake.refundsOf(paymentId);
    await webhook.send(signedRequest(stripeEvent('refund.created', refundObject(made[0] as never))));
    await webhook.send(signedRequest(chargeRefunded(paymentId, trip.amount, { refunded: PRICE, currency: 'jpy', tripId: trip.tripId })));

    expect(made).toMatchObject([{ amount: PRICE, status: 'succeeded' }]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({
      amountRefunded: PRICE,
      refunds: [{ refundKey: shareRefundKey(paymentId, first), status: 'succeeded', stripeRefundId: made[0]?.id }],
    });
  });

  it('superseded, refunded by hand as the person is told, then made by Stripe after all: back in front of a person (share_made_late)', async () => {
    const store = testStore();
    const { trip, paymentId, webhook, release, cancelling } = await supersededWhileOnItsWay(store);
    // The person refunds the booking's half of the charge in the Dashboard, then resolves.
    const byHand = await (await fake.client()).refunds.create({ payment_intent: paymentId, amount: trip.amount / 2 });
    await webhook.send(
      signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(paymentId).find((refund) => refund.id === byHand.id) as never))),
    );
    expect(await resolvePayment(operator(store), paymentId, 'refunded the booking by hand in yen', 'ana')).toMatchObject({ ok: true });

    release();
    await cancelling;
    const late = fake.refundsOf(paymentId).find((refund) => refund.id !== byHand.id);
    await webhook.send(signedRequest(stripeEvent('refund.created', refundObject(late as never))));

    const after = await store.getPaymentRecord(paymentId);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect(after).toMatchObject({
      status: 'needs_attention',
      refunds: expect.arrayContaining([expect.objectContaining({ stripeRefundId: late?.id, status: 'succeeded' })]),
    });
    expect(reasonsOf(after?.attention).map((reason) => reason.reason)).toContain('share_made_late');
  });

  it('the session committing between the cancellation’s write and its request to Stripe: the share Stripe makes puts the payment back before a person (share_made_late)', async () => {
    const store = testStore();
    const { trip, paymentId } = await bookedAtItsPrice(store, { more: 0, currency: 'jpy' });
    const webhook = webhookHarness(fake, { store });
    const real = new StripePaymentGateway(async () => fake.client());
    // The session lands after the cancellation stored its share (priced in euros) and before it asks Stripe for it.
    const gateway: PaymentGateway = Object.assign(Object.create(real) as PaymentGateway, {
      refund: async (request: Parameters<PaymentGateway['refund']>[0]) => {
        const session = await webhook.send(
          sessionCompleted(trip, paymentId, trip.amount, { currency: 'jpy', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
        );
        expect(session.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
        return real.refund(request);
      },
    });

    await cancelBooking({ ...operator(store), gateway }, { reference: trip.bookingReferences[0] as string, reason: 'guide ill', refund: true });

    const after = await store.getPaymentRecord(paymentId);
    expect(fake.totalRefunded(paymentId)).toBe(PRICE);
    expect(after).toMatchObject({ status: 'needs_attention', currency: 'jpy', refunds: [expect.objectContaining({ status: 'succeeded', pricedIn: 'eur' })] });
    expect(reasonsOf(after?.attention).map((reason) => reason.reason)).toEqual(['charged_otherwise', 'share_made_late']);
  });

  it('--no-refund after yen came back in the Dashboard: the share waived whole, in its own currency, not cut to the yen left', async () => {
    const store = testStore();
    const { trip, paymentId } = await bookedAtItsPrice(store, { more: 0, currency: 'jpy' });
    const webhook = webhookHarness(fake, { store });
    await webhook.send(
      sessionCompleted(trip, paymentId, trip.amount, { currency: 'jpy', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );
    const byHand = await (await fake.client()).refunds.create({ payment_intent: paymentId, amount: 8_000 });
    await webhook.send(
      signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(paymentId).find((refund) => refund.id === byHand.id) as never))),
    );

    await cancelBooking(operator(store), { reference: trip.bookingReferences[1] as string, reason: 'no show', actorId: 'ana', refund: false });

    expect((await store.getPaymentRecord(paymentId))?.refunds.find((entry) => entry.status === 'waived')).toMatchObject({ pricedIn: 'eur', amount: PRICE });
  });

  it('made by Stripe, its answer lost, then the session: the sweep finds it under its key and records it, making no other', async () => {
    const store = testStore();
    const { paymentId, key } = await shareThenYen(store, () => fake.leaveNextRefundsUnanswered(1));

    await resumeRefundsAt(fake, store, { clock: minutesLater(10) });

    expect(fake.refundsOf(paymentId)).toMatchObject([{ amount: PRICE, status: 'succeeded' }]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({
      currency: 'jpy',
      amountRefunded: PRICE,
      refunds: [{ refundKey: key, status: 'succeeded', stripeRefundId: fake.refundsOf(paymentId)[0]?.id }],
    });
  });
});

describe('GET /trips once a charge in another currency was recorded', () => {
  it('does not state the yen charged as euro cents', async () => {
    const store = testStore();
    const { trip, paymentId } = await bookedAtItsPrice(store, { more: 0, currency: 'jpy' });
    const answer = await webhookHarness(fake, { store }).send(
      sessionCompleted(trip, paymentId, trip.amount, { currency: 'jpy', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );
    expect(answer.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    const shown = await shownTrip(store, trip);

    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ currency: 'eur', amount: trip.amount, paid: null, refunded: null });
  });
});

describe('an event recorded as processed while the record still held create-booking’s figure', () => {
  it('delivered again (a redelivery, or ops reconcile), the charge is recorded and the shares corrected all the same', async () => {
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store);
    const event = sessionCompleted(trip, paymentId, charged);
    const eventId = (JSON.parse(event.body ?? '{}') as { id: string }).id;
    // What a sweep wrote down for the `duplicate` a version before this row answered (nothing else written).
    const at = new Date().toISOString();
    const marker = { eventId, eventType: 'checkout.session.completed', expiresAt: Math.floor(Date.now() / 1000) + PROCESSED_EVENT_RETENTION_DAYS * 86_400 };
    const recorded = await store.commit({
      at,
      processedEvent: processedEventRecord(marker, 'duplicate', { tripId: trip.tripId, references: trip.bookingReferences, at }),
    });
    expect(recorded.committed).toBe(true);

    const answer = await webhookHarness(fake, { store }).send(event);

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: trip.bookingReferences } });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ amountPaid: charged, sessionId: expect.any(String) });
    expect(await shares(store, trip)).toEqual([4_000, 4_000]);
    await cancelBooking(operator(store), { reference: trip.bookingReferences[0] as string, reason: 'guide ill', actorId: 'ana', refund: true });
    expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([4_000]);
  });
});

describe('a payment record of the format before versions (no currency: read as eur), of a trip in dollars', () => {
  const putRaw = (item: Record<string, unknown>) => testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: item }));

  /** A trip in dollars the old code could not book, moved to `status` with its payment, and that payment's old record. */
  async function legacyUsdTrip(store: TestStore, status: 'refund_pending' | 'refunded') {
    const slot = await seedSlot(store, { capacity: 3, priceAmount: PRICE, currency: 'usd' });
    const pending = await createPendingTrip(store, [[slot, 2]]);
    const paymentId = paymentIntentId();
    fake.registerPayment(paymentId, pending.amount, 'usd');
    const at = new Date().toISOString();
    await putRaw(tripItem({ ...pending, status, paymentId, statusReason: 'SLOT_BLOCKED' }));
    await putRaw({
      ...keys.paymentRecord(paymentId),
      entity: 'payment',
      paymentId,
      tripId: pending.tripId,
      status,
      reason: 'SLOT_BLOCKED',
      amount: pending.amount,
      createdAt: at,
      updatedAt: at,
    });
    return { trip: (await store.getTrip(pending.tripId)) as Trip, paymentId };
  }

  it('its session redelivered: the refund still owed is made, not put in front of a person as charged otherwise', async () => {
    const store = testStore();
    const { trip, paymentId } = await legacyUsdTrip(store, 'refund_pending');

    const answer = await webhookHarness(fake, { store }).send(
      signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId, currency: 'usd' }))),
    );

    expect({ outcome: answer.body.outcome, refunded: fake.totalRefunded(paymentId) }).toEqual({ outcome: 'refunded', refunded: trip.amount });
  });

  const redelivered = (trip: Trip, paymentId: string) =>
    signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId, currency: 'usd' }), `evt_${paymentId}`));
  it('written again (its refund made, so it is stored with the eur it was read with): still no charge in another currency', async () => {
    const store = testStore();
    const { trip, paymentId } = await legacyUsdTrip(store, 'refund_pending');
    const webhook = webhookHarness(fake, { store });
    expect((await webhook.send(redelivered(trip, paymentId))).body.outcome).toBe('refunded');

    const again = await webhook.send(
      signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId, currency: 'usd' }))),
    );

    expect(again.body.outcome).toBe('refunded');
    expect(await auditsOf(store, paymentId, 'payment.charge_recorded')).toHaveLength(0);
    expect((await shownTrip(store, trip)).body).toMatchObject({ currency: 'usd', paid: trip.amount, refunded: trip.amount });
  });

  it('its refund refused by Stripe, then its session again: the person is told of the refusal only', async () => {
    const store = testStore();
    const { trip, paymentId } = await legacyUsdTrip(store, 'refund_pending');
    const webhook = webhookHarness(fake, { store });
    fake.refuseNext('charge_disputed');
    expect((await webhook.send(redelivered(trip, paymentId))).body.outcome).toBe('needs_attention');

    await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId, currency: 'usd' }))));

    expect(reasonsOf((await store.getPaymentRecord(paymentId))?.attention).map((r) => r.reason)).toEqual(['refund_refused']);
  });

  it('GET /trips states what was paid and refunded', async () => {
    const store = testStore();
    const { trip } = await legacyUsdTrip(store, 'refunded');

    const shown = await shownTrip(store, trip);

    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ currency: 'usd', paid: trip.amount, refunded: trip.amount });
  });
});

describe('a corrected share asked of Stripe while it is down, asked again 25 hours later, and failing after that', () => {
  it('refunds the corrected share once, and asks the corrected share again once it failed', async () => {
    // A Stripe of its own: its clock is moved past the 24 hours it keeps idempotency keys.
    const stripe = await startStripeFake();
    onTestFinished(() => stripe.close());
    const store = testStore();
    const { trip, paymentId, charged } = await bookedAtItsPrice(store, {}, stripe);
    const webhook = webhookHarness(stripe, { store });
    const session = sessionCompleted(trip, paymentId, charged);
    expect((await webhook.send(session)).body.outcome).toBe('duplicate');
    const [first] = trip.bookingReferences as [string, string];

    stripe.failNext(1, 500);
    // Stripe down: the share stays requested, at its corrected figure.
    await expect(cancelBooking(operator(store, stripe), { reference: first, reason: 'guide ill', actorId: 'ana', refund: true })).rejects.toThrow(
      PaymentGatewayUnavailableError,
    );
    expect((await store.getPaymentRecord(paymentId))?.refunds).toMatchObject([{ status: 'requested', amount: 4_000 }]);
    stripe.advance(25 * 3_600_000);
    const dayLater = { now: () => new Date(Date.now() + 25 * 3_600_000) };
    await retryRefund(operator(store, stripe, dayLater), paymentId, 'ana');
    await retryRefund(operator(store, stripe, dayLater), paymentId, 'ana');
    expect((await webhook.send(session)).body.outcome).toBe('duplicate');

    expect(stripe.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([4_000]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', amountPaid: charged, amountRefunded: 4_000 });

    // Stripe accepted it; the bank fails it days later.
    const failed = stripe.setRefundStatus(stripe.refundsOf(paymentId)[0]?.id as string, 'failed', 'expired_or_canceled_card');
    await webhook.send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', amountRefunded: 0 });
    await retryRefund(operator(store, stripe, dayLater), paymentId, 'ana');

    expect(stripe.refundsOf(paymentId).map((refund) => ({ amount: refund.amount, status: refund.status }))).toEqual([
      { amount: 4_000, status: 'failed' },
      { amount: 4_000, status: 'succeeded' },
    ]);
    expect(await shares(store, trip)).toEqual([4_000, 4_000]);
  });
});

/** GET /trips/{tripId} as its traveller, through the route's handler over `store`. */
async function shownTrip(store: TestStore, trip: Trip): Promise<{ status: number | undefined; body: Record<string, unknown> }> {
  const route = createLocalTripHandler({
    store,
    table: tableOf(store),
    stripeClient: () => fake.client(),
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
  });
  const response = await route(tripRequest(trip.tripId, trip.userId));
  return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
}

describe('payments retry-refund on a payment charged in another currency than its bookings’ shares', () => {
  it('does not weigh the shares (euros) as yen: a failed Dashboard refund beside money back outside is a person’s, not asked again', async () => {
    const store = testStore();
    // ¥14000 charged for two bookings priced 45.00 EUR each: both still confirmed, so all of it pays for them.
    const { trip, paymentId } = await bookedAtItsPrice(store, { more: 5_000, currency: 'jpy' });
    const webhook = webhookHarness(fake, { store });
    const charged = trip.amount + 5_000;
    const session = await webhook.send(
      sessionCompleted(trip, paymentId, charged, { currency: 'jpy', total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } }),
    );
    expect(session.body).toMatchObject({ outcome: 'needs_attention', reason: 'charged_otherwise' });
    // A person refunds ¥4000 in the Dashboard, which fails later; ¥1000 comes back that no refund of ours accounts for.
    const dashboard = await fake.client().refunds.create({ payment_intent: paymentId, amount: 4_000 });
    await webhook.send(signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(paymentId)[0] as never))));
    const failed = fake.setRefundStatus(dashboard.id, 'failed', 'expired_or_canceled_card');
    await webhook.send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));
    // Stripe's total, taken seconds after the failure: it cannot count the failed refund.
    const totalLater = Math.floor(Date.now() / 1000) + 5;
    await webhook.send(
      signedRequest({ ...chargeRefunded(paymentId, charged, { refunded: 1_000, currency: 'jpy', tripId: trip.tripId }), created: totalLater }),
    );
    const before = await store.getPaymentRecord(paymentId);
    expect(before).toMatchObject({ status: 'needs_attention', currency: 'jpy', amountPaid: charged, amountRefunded: 1_000 });

    const retried = await retryRefund(operator(store), paymentId, 'ana');

    expect(retried).toMatchObject({ ok: false, errorCode: 'REFUND_UNCLEAR' });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', version: before?.version });
  });
});
