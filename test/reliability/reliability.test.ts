// Reliability under faults and abuse, on the real DynamoDB Local: nothing oversold, lost or double-counted.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { setSlotBlocked, setSlotCapacity } from '../../lambdas/shared/domain/operations';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import { StripeCheckoutSessions, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { injectFaults, type Fault } from '../../scripts/dev-kit/faults';
import { LOCAL_INDEXES, FAST_RETRIES, overwriteSlot, seedSlot, storeOnOwnTable, testDocumentClient, testStore, uniqueId } from '../support/store';
import { chargeRefunded, checkoutSession, signatureHeader, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';
import { startDiskDynamo } from '../support/disk-dynamo';
import { seededRandom } from '../../scripts/dev-kit/seeded-random';
import { findViolations, runSeed, startTogether, type AcknowledgedPayment } from './harness';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

/** A payment Stripe knows, for `amount` (by default 1 000.00, well above what these trips cost). */
const pi = (amount = 100_000): string => {
  const id = `pi_${uniqueId('r').replace(/-/g, '')}`;
  fake.registerPayment(id, amount);
  return id;
};

/** A refund made in Stripe's dashboard, then Stripe's charge.refunded with the charge's real total. */
async function refundInDashboard(paymentId: string, amount: number, tripId: string) {
  try {
    await fake.client().refunds.create({ payment_intent: paymentId });
  } catch {
    // Refunded in full already (by us): Stripe still reports the charge.
  }
  return chargeRefunded(paymentId, amount, { refunded: fake.totalRefunded(paymentId), tripId });
}

/** Delivers until Stripe would stop retrying: every non-2xx is sent again (bounded). */
async function deliverUntilAcknowledged(send: (event: APIGatewayProxyEventV2) => Promise<{ status: number }>, event: unknown, attempts = 10): Promise<number> {
  let status = 0;
  for (let attempt = 0; attempt < attempts && !(status >= 200 && status < 300); attempt++) status = (await send(signedRequest(event))).status;
  return status;
}

describe('negative control', () => {
  /** Deliberately racy: read the seats, then write the new count unconditionally. Never use this. */
  async function racyConfirm(store: DynamoDbBookingStore, trip: Trip): Promise<boolean> {
    const item = trip.items[0]!;
    const slot = (await store.getSlots([item.slotId])).get(item.slotId)!;
    if (slot.availableCount < item.guestCount) return false;
    await overwriteSlot({ ...slot, availableCount: slot.availableCount - item.guestCount }, { endpoint: inject('dynamoEndpoint'), tableName: store.tableName });
    const reference = randomIds.reference();
    const paymentId = pi();
    await store.commit({
      at: new Date().toISOString(),
      newBookings: [
        {
          bookingId: randomIds.uuid(),
          reference,
          tripId: trip.tripId,
          userId: trip.userId,
          paymentId,
          ...item,
          status: 'confirmed',
          createdAt: new Date().toISOString(),
        },
      ],
      audits: [
        {
          auditId: randomIds.uuid(),
          eventType: 'booking.confirmed',
          entityType: 'booking',
          entityId: reference,
          actorType: 'system',
          occurredAt: new Date().toISOString(),
          metadata: {},
        },
      ],
      tripTransition: { tripId: trip.tripId, from: ['pending_payment'], to: 'booked', paymentId, bookingReferences: [reference] },
    });
    return true;
  }

  it('catches a read-then-write decrement overselling the last seat, so the harness can see a race', async () => {
    const store = await storeOnOwnTable();
    let caught: string[] = [];
    for (let round = 0; round < 20 && caught.length === 0; round++) {
      const slot = await seedSlot(store, { capacity: 1 });
      const trips = await Promise.all(Array.from({ length: 10 }, () => createPendingTrip(store, [[slot, 1]])));
      await startTogether(trips.map((trip) => () => racyConfirm(store, trip)));
      caught = await findViolations(store, [slot], trips);
    }
    console.info(`negative control: racy decrement caught overselling (${caught.length} violations), e.g. ${caught[0]}`);
    expect(caught.length).toBeGreaterThan(0);
    expect(caught.join('\n')).toMatch(/confirmed guests \d+ != capacity 1/);
  });
});

describe('randomised concurrent mix', () => {
  it('keeps every invariant under confirmations, duplicates, out-of-order events, refunds, cancellations, blocks and capacity changes', async () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    const store = testStore();
    const webhook = webhookHarness(fake, { store });
    const deps = { store, clock: systemClock, ids: randomIds };
    const slots: Slot[] = await Promise.all(Array.from({ length: 6 }, () => seedSlot(store, { capacity: random.int(2, 6) })));
    const trips: Trip[] = [];
    for (let i = 0; i < 30; i++) {
      const chosen = random.shuffle(slots).slice(0, random.int(1, 3));
      trips.push(
        await createPendingTrip(
          store,
          chosen.map((slot) => [slot, random.int(1, 2)] as [Slot, number]),
        ),
      );
    }
    const acknowledged: AcknowledgedPayment[] = [];
    const tasks: (() => Promise<unknown>)[] = [];
    const gateway = new StripePaymentGateway(async () => fake.client());
    for (const trip of trips) {
      const paymentId = pi(trip.amount);
      const session = checkoutSession(trip, { paymentIntent: paymentId });
      const paid = stripeEvent(random.chance(0.3) ? 'checkout.session.async_payment_succeeded' : 'checkout.session.completed', session);
      const deliverPaid = async () => {
        if ((await deliverUntilAcknowledged(webhook.send, paid)) === 200) acknowledged.push({ tripId: trip.tripId, paymentId });
      };
      for (let copies = random.int(1, 3); copies > 0; copies--) tasks.push(deliverPaid);
      if (random.chance(0.25))
        tasks.push(() => deliverUntilAcknowledged(webhook.send, stripeEvent('checkout.session.completed', { ...session, payment_status: 'unpaid' })));
      if (random.chance(0.2))
        tasks.push(() => deliverUntilAcknowledged(webhook.send, stripeEvent('checkout.session.expired', { ...session, payment_status: 'unpaid' })));
      if (random.chance(0.3)) tasks.push(async () => deliverUntilAcknowledged(webhook.send, await refundInDashboard(paymentId, trip.amount, trip.tripId)));
      if (random.chance(0.3)) {
        // An operator cancels the first booking, if there is one by then, with or without its refund.
        const refund = random.chance(0.7);
        tasks.push(async () => {
          const reference = (await store.getTrip(trip.tripId))?.bookingReferences[0];
          if (reference) await cancelBooking({ ...deps, gateway }, { reference, reason: 'chaos', refund });
        });
      }
    }
    for (let i = 0; i < 8; i++) {
      const slot = random.pick(slots);
      tasks.push(
        random.chance(0.5)
          ? () => setSlotBlocked(deps, slot.slotId, random.chance(0.5), 'chaos')
          : () => setSlotCapacity(deps, slot.slotId, slot.capacity + random.int(0, 2), 'chaos'),
      );
    }

    const results = await startTogether(random.shuffle(tasks));

    const failures = results.filter((result) => result.status === 'rejected');
    const violations = await findViolations(store, slots, trips, acknowledged, { refundedAtProvider: (paymentId) => fake.totalRefunded(paymentId) });
    console.info(
      `random mix: seed ${seed}, ${tasks.length} concurrent tasks over ${trips.length} trips and ${slots.length} slots, ${acknowledged.length} payments acknowledged, ${violations.length} violations`,
    );
    expect({ seed, failures: failures.length, violations }, `reproduce with RELIABILITY_SEED=${seed}`).toEqual({ seed, failures: 0, violations: [] });
    expect(acknowledged.length).toBeGreaterThan(0);
  });
});

describe('randomised mix with holds', () => {
  it('never sells a held seat twice and gives every hold back once, under checkouts, payments, expiries, sweeps and cancellations', async () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    const store = testStore();
    const webhook = webhookHarness(fake, { store });
    const deps = { store, clock: systemClock, ids: randomIds };
    const gateway = new StripePaymentGateway(async () => fake.client());
    const checkoutDeps = { ...deps, checkout: new StripeCheckoutSessions(async () => fake.client()), holdMinutes: 30 };
    const slots: Slot[] = await Promise.all(Array.from({ length: 4 }, () => seedSlot(store, { capacity: random.int(2, 5) })));
    // Past every hold: a 30-minute checkout holds its seats for 40 minutes (its session, plus slack, plus the hold's own margin).
    const afterExpiry = { now: () => new Date(Date.now() + 45 * 60_000) };

    // Checkouts race for the seats first: only those that got a hold go on to pay, let it expire, or be swept.
    const attempts = await startTogether(
      Array.from(
        { length: 24 },
        () => () =>
          startCheckout(checkoutDeps, {
            userId: uniqueId('user'),
            items: random
              .shuffle(slots)
              .slice(0, random.int(1, 2))
              .map((slot) => ({ slotId: slot.slotId, guestCount: random.int(1, 2) })),
            successUrl: 'https://example.com/done',
            cancelUrl: 'https://example.com/cancelled',
          }),
      ),
    );
    const held = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' && attempt.value.ok ? [attempt.value.tripId] : []));
    const trips = (await Promise.all(held.map((tripId) => store.getTrip(tripId)))).filter((trip): trip is Trip => trip !== undefined);
    const acknowledged: AcknowledgedPayment[] = [];
    const tasks: (() => Promise<unknown>)[] = [];
    for (const trip of trips) {
      const paymentId = pi(trip.amount);
      const session = checkoutSession(trip, { paymentIntent: paymentId });
      if (random.chance(0.6)) {
        const paid = stripeEvent('checkout.session.completed', session);
        const deliverPaid = async () => {
          if ((await deliverUntilAcknowledged(webhook.send, paid)) === 200) acknowledged.push({ tripId: trip.tripId, paymentId });
        };
        for (let copies = random.int(1, 2); copies > 0; copies--) tasks.push(deliverPaid);
      }
      if (random.chance(0.4))
        tasks.push(() =>
          deliverUntilAcknowledged(webhook.send, stripeEvent('checkout.session.expired', { ...session, payment_status: 'unpaid', status: 'expired' })),
        );
      if (random.chance(0.3)) {
        tasks.push(async () => {
          const reference = (await store.getTrip(trip.tripId))?.bookingReferences[0];
          if (reference) await cancelBooking({ ...deps, gateway }, { reference, reason: 'chaos', refund: true });
        });
      }
    }
    for (let i = 0; i < 4; i++) tasks.push(() => releaseExpiredHolds({ ...deps, clock: afterExpiry }));

    const results = await startTogether(random.shuffle(tasks));
    // Whatever is still held expires in the end: every seat must come back.
    await releaseExpiredHolds({ ...deps, clock: afterExpiry });

    const failures = results.filter((result) => result.status === 'rejected');
    const violations = await findViolations(store, slots, trips, acknowledged, { refundedAtProvider: (paymentId) => fake.totalRefunded(paymentId) });
    const report = await checkConsistency(store, LOCAL_INDEXES);
    const holdDrift = report.drifted
      .filter((drift) => slots.some((slot) => slot.slotId === drift.slotId))
      .map((drift) => `slot ${drift.slotId}: ${JSON.stringify(drift)}`);
    const stillHeld = (await Promise.all(trips.map((trip) => store.getHold(trip.tripId))))
      .filter((hold) => hold?.status === 'held')
      .map((hold) => `hold of ${hold?.tripId} still held`);
    console.info(
      `hold mix: seed ${seed}, ${attempts.length} checkouts, ${trips.length} held, ${tasks.length} concurrent tasks, ${acknowledged.length} payments acknowledged, ${violations.length + holdDrift.length + stillHeld.length} violations`,
    );
    expect({ seed, failures: failures.length, violations: [...violations, ...holdDrift, ...stillHeld] }, `reproduce with RELIABILITY_SEED=${seed}`).toEqual({
      seed,
      failures: 0,
      violations: [],
    });
    expect(trips.length).toBeGreaterThan(0);
  });
});

describe('faults in front of DynamoDB Local', () => {
  it('100 responses lost after commit: every delivery ends booked, 0 double decrements', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const store = new DynamoDbBookingStore({ client, tableName: testStore().tableName, retryPolicy: FAST_RETRIES });
    const webhook = webhookHarness(fake, { store });
    const slot = await seedSlot(store, { capacity: 100 });
    const trips: Trip[] = [];
    const acknowledged: AcknowledgedPayment[] = [];
    for (let i = 0; i < 100; i++) {
      const trip = await createPendingTrip(store, [[slot, 1]]);
      trips.push(trip);
      const paymentId = pi();
      faults.queue('TransactWriteItemsCommand', 'lost-response');
      const status = await deliverUntilAcknowledged(
        webhook.send,
        stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId })),
      );
      expect(status).toBe(200);
      acknowledged.push({ tripId: trip.tripId, paymentId });
    }
    expect(faults.injected).toBe(100);
    const violations = await findViolations(store, [slot], trips, acknowledged);
    console.info(
      `lost responses: 100 deliveries, ${faults.injected} responses lost after commit, ${100 - ((await store.getSlots([slot.slotId])).get(slot.slotId)?.availableCount ?? 0)} seats taken for 100 trips, ${violations.length} violations`,
    );
    expect(violations).toEqual([]);
    expect((await store.getSlots([slot.slotId])).get(slot.slotId)?.availableCount).toBe(0);
  });

  it('a seeded mix of throttling, conflicts, refused connections and lost responses: 5xx or retried, never double-applied', async () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const store = new DynamoDbBookingStore({ client, tableName: testStore().tableName, retryPolicy: FAST_RETRIES });
    const webhook = webhookHarness(fake, { store });
    // Room for all 40 trips on any one slot: a seeded draw that puts 21 on one slot must not sell it out before the faults run.
    const slots = await Promise.all(Array.from({ length: 3 }, () => seedSlot(store, { capacity: 40 })));
    const trips: Trip[] = [];
    const acknowledged: AcknowledgedPayment[] = [];
    const kinds: Fault[] = ['throttle', 'conflict', 'network-before', 'lost-response'];
    let serverErrors = 0;
    for (let i = 0; i < 40; i++) {
      const trip = await createPendingTrip(store, [[random.pick(slots), 1]]);
      trips.push(trip);
      const paymentId = pi();
      const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId }));
      // The first delivery is throttled past every retry, so the 500-then-redelivery path is always taken.
      const injected =
        i === 0 ? Array<Fault>(FAST_RETRIES.maxAttempts + 1).fill('throttle') : Array.from({ length: random.int(1, 6) }, () => random.pick(kinds));
      faults.queue(i === 0 ? 'GetItemCommand' : random.pick(['TransactWriteItemsCommand', 'GetItemCommand']), ...injected);
      let status = (await webhook.send(signedRequest(event))).status;
      if (status === 500) serverErrors++;
      for (let retry = 0; status !== 200 && retry < 5; retry++) status = (await webhook.send(signedRequest(event))).status;
      expect(status, `seed ${seed}`).toBe(200);
      acknowledged.push({ tripId: trip.tripId, paymentId });
      faults.clear(); // nothing left over for the next delivery
    }
    const violations = await findViolations(store, slots, trips, acknowledged);
    console.info(
      `fault mix: seed ${seed}, 40 deliveries, ${faults.injected} faults injected, ${serverErrors} answered 500 then redelivered, ${violations.length} violations`,
    );
    expect(violations, `reproduce with RELIABILITY_SEED=${seed}`).toEqual([]);
    expect(faults.injected).toBeGreaterThan(40);
    expect(serverErrors).toBeGreaterThan(0); // faults that outlasted the retries were answered 500, then redelivered
  });

  it('refunds exactly once, with one idempotency key, when Stripe fails twice and then succeeds', async () => {
    const store = testStore();
    const webhook = webhookHarness(fake, { store });
    const slot = await seedSlot(store, { capacity: 1 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    await setSlotBlocked({ store, clock: systemClock, ids: randomIds }, slot.slotId, true);
    const paymentId = pi();
    const before = fake.calls.length;
    fake.failNext(2);

    const status = await deliverUntilAcknowledged(webhook.send, stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId })));

    expect(status).toBe(200);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    // Each redelivery looks the refund up by its key (a GET without one) before asking for it again under the same key.
    expect(fake.calls.slice(before).map((call) => `${call.method} ${call.idempotencyKey ?? '-'}`)).toEqual([
      `POST refund-${paymentId}`,
      'GET -',
      `POST refund-${paymentId}`,
      'GET -',
      `POST refund-${paymentId}`,
    ]);
  });
});

describe('DynamoDB Local killed mid-burst', () => {
  // Two server starts on disk, a kill and 200 deliveries with retries: a minute on a quiet machine, more on a busy CI runner.
  it('200 deliveries, SIGKILL after 60 answers, restart, redeliver what was not acknowledged: every trip all or nothing', { timeout: 180_000 }, async () => {
    const dynamo = await startDiskDynamo('kill');
    try {
      const { store } = dynamo;
      const webhook = webhookHarness(fake, { store });
      const slots = await Promise.all(Array.from({ length: 10 }, () => seedSlot(store, { capacity: 15 })));
      const trips: Trip[] = [];
      for (let i = 0; i < 200; i++) {
        const [a, b] = [slots[i % 10]!, slots[(i * 7 + 3) % 10]!];
        trips.push(
          await createPendingTrip(
            store,
            a === b
              ? [[a, 1]]
              : [
                  [a, 1],
                  [b, 1],
                ],
          ),
        );
      }
      const events = trips
        .map((trip) => ({ trip, paymentId: pi() }))
        .map(({ trip, paymentId }) => ({
          trip,
          paymentId,
          event: stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId })),
        }));

      let answered = 0;
      let killed: Promise<void> | undefined;
      const statuses = new Map<string, number>();
      const queue = [...events];
      const worker = async (): Promise<void> => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          statuses.set(next.trip.tripId, (await webhook.send(signedRequest(next.event))).status);
          if (++answered === 60) killed = dynamo.kill();
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      await killed;
      await dynamo.restart();

      // Right after the restart, before anything is redelivered: every trip is all or nothing and every slot adds up.
      expect(await findViolations(store, slots, trips)).toEqual([]);
      // DynamoDB Local (SQLite on -dbPath) can lose the last transactions it acknowledged before a SIGKILL; the
      // service does not (it acknowledges a write once it is durable). Such a loss must be whole, as checked
      // above; it is counted, and those events are delivered again too.
      const lostByDatabase: string[] = [];
      for (const { trip } of events.filter(({ trip }) => statuses.get(trip.tripId) === 200)) {
        if ((await store.getTrip(trip.tripId))?.status === 'pending_payment') lostByDatabase.push(trip.tripId);
      }
      const unacknowledged = events.filter(({ trip }) => statuses.get(trip.tripId) !== 200 || lostByDatabase.includes(trip.tripId));
      for (const { trip, event } of unacknowledged) statuses.set(trip.tripId, await deliverUntilAcknowledged(webhook.send, event));
      console.info(
        `kill test: ${events.length - unacknowledged.length + lostByDatabase.length} acknowledged before the restart, ${lostByDatabase.length} of them lost by DynamoDB Local, ${unacknowledged.length} redelivered`,
      );

      expect(unacknowledged.length).toBeGreaterThan(0);
      expect(lostByDatabase.length).toBeLessThan(20);
      expect([...statuses.values()].every((status) => status === 200)).toBe(true);
      expect(
        await findViolations(
          store,
          slots,
          trips,
          events.map(({ trip, paymentId }) => ({ tripId: trip.tripId, paymentId })),
        ),
      ).toEqual([]);
    } finally {
      await dynamo.dispose();
    }
  });
});

describe('forged requests', () => {
  it('accepts none of 10,000 seeded mutations of body, signature header and timestamp, and writes nothing', async () => {
    const seed = runSeed();
    const random = seededRandom(seed);
    const client = testDocumentClient();
    const counter = injectFaults(client);
    const store = new DynamoDbBookingStore({ client, tableName: testStore().tableName });
    const slot = await seedSlot(testStore(), { capacity: 5 });
    const trip = await createPendingTrip(testStore(), [[slot, 1]]);
    const webhook = webhookHarness(fake, { store });
    const payload = JSON.stringify(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: pi() })), null, 2);
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader(payload, { timestamp: now });
    const flip = (text: string, at: number): string => {
      const code = text.charCodeAt(at);
      return text.slice(0, at) + String.fromCharCode(code === 0x7a ? 0x79 : code + 1) + text.slice(at + 1);
    };
    const mutations: (() => { body: string; headers: Record<string, string>; isBase64Encoded?: boolean })[] = [
      () => ({ body: flip(payload, random.int(0, payload.length - 1)), headers: { 'stripe-signature': header } }),
      () => ({ body: payload.slice(0, random.int(0, payload.length - 1)), headers: { 'stripe-signature': header } }),
      () => ({ body: random.chance(0.5) ? ` ${payload}` : `${payload}\n`, headers: { 'stripe-signature': header } }),
      () => ({ body: JSON.stringify(JSON.parse(payload)), headers: { 'stripe-signature': header } }),
      () => {
        const signature = header.split('v1=')[1]!;
        return { body: payload, headers: { 'stripe-signature': header.replace(signature, flip(signature, random.int(0, signature.length - 1))) } };
      },
      () => ({
        body: payload,
        headers: { 'stripe-signature': header.replace(`t=${now}`, `t=${now + random.int(1, 10_000) * (random.chance(0.5) ? 1 : -1)}`) },
      }),
      () => ({
        body: payload,
        headers: { 'stripe-signature': signatureHeader(payload, { timestamp: now + random.int(301, 100_000) * (random.chance(0.5) ? 1 : -1) }) },
      }),
      () => ({ body: payload, headers: { 'stripe-signature': signatureHeader(payload, { secret: `whsec_${random.int(0, 1e9)}` }) } }),
      () => ({ body: payload, headers: { 'stripe-signature': header.replace('v1=', random.pick(['v0=', 'v2=', 'V1=', 'v1 ='])) } }),
      () => ({
        body: payload,
        headers: random.pick<Record<string, string>>([{}, { 'stripe-signature': '' }, { 'stripe-signature': 't=,v1=' }, { 'x-stripe-signature': header }]),
      }),
      () => ({ body: payload, headers: { 'stripe-signature': header }, isBase64Encoded: true }),
    ];
    const before = new Map(counter.calls);

    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const request = random.pick(mutations)();
      const response = await webhook.send(apiGatewayEvent(request));
      if (response.status < 400) accepted++;
    }

    console.info(
      `forged requests: seed ${seed}, 10000 mutations, ${accepted} accepted, ${[...counter.calls.values()].reduce((a, b) => a + b, 0) - [...before.values()].reduce((a, b) => a + b, 0)} DynamoDB calls`,
    );
    expect({ seed, accepted }, `reproduce with RELIABILITY_SEED=${seed}`).toEqual({ seed, accepted: 0 });
    expect(counter.calls).toEqual(before);
    expect((await testStore().getTrip(trip.tripId))?.status).toBe('pending_payment');
    // The same harness accepts the genuine request, so 0 accepted means the mutations were refused, not everything.
    expect((await webhook.send(apiGatewayEvent({ body: payload, headers: { 'stripe-signature': header } }))).status).toBe(200);
  });
});
