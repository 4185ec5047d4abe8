import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { checkPayments } from '../../lambdas/shared/domain/payment-operations';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import type { Slot } from '../../lambdas/shared/domain/model';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { LOCAL_INDEXES, testDocumentClient, testStore, type TestStore, testTableName } from '../support/store';

describe('review11: claim write moving trip A', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  async function setup(webhookStore?: (s: TestStore) => TestStore) {
    const client = testDocumentClient();
    const store = testStore(client);
    const { paying, paid, paymentId, other, slots, booked } = await paymentClaimedForAnotherTrip(store, fake);
    const [slot] = slots as [Slot];
    expect(booked.success).toBe(true);
    const plain = webhookHarness(fake, { store });
    const webhook = webhookStore ? webhookHarness(fake, { store: webhookStore(store) }) : plain;
    // B's Dashboard refund delivered before B's paid event: trip A released as an ordinary full refund.
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: paymentId });
    for (const event of fake.events.slice(before)) expect((await plain.send(signedRequest(event))).status).toBe(200);
    expect((await store.getTrip(other.tripId))?.status).toBe('refunded');
    return { client, store, paying, paid, paymentId, other, slot, webhook };
  }

  it('two deliveries of B’s paid event at once: both 200, A cancelled once', async () => {
    const t = await setup();
    const results = await Promise.all([t.webhook.send(signedRequest(t.paid)), t.webhook.send(signedRequest(t.paid))]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('cancelled');
    const trail = await t.store.listAudit('trip', t.other.tripId);
    expect(trail.filter((a) => a.eventType === 'trip.cancelled')).toHaveLength(1);
  });

  it('trip A moved out of refunded between the claim’s read and its write: retried, 200, claim raised, A left as moved', async () => {
    let moved = false;
    // The move is written past every guard, as another writer's would be, just before the claim's own write.
    const client = testDocumentClient();
    const t = await setup(
      (store) =>
        new Proxy(store, {
          get(target, prop, receiver) {
            if (prop === 'commit')
              return async (write: Parameters<TestStore['commit']>[0]) => {
                if (!moved && write.tripTransition?.statusReason === 'paid_for_another_trip') {
                  moved = true;
                  await client.send(
                    new UpdateCommand({
                      TableName: testTableName(),
                      Key: keys.trip(write.tripTransition.tripId),
                      UpdateExpression: 'SET #s = :s, statusReason = :r',
                      ExpressionAttributeNames: { '#s': 'status' },
                      ExpressionAttributeValues: { ':s': 'cancelled', ':r': 'someone_else' },
                    }),
                  );
                }
                return target.commit(write);
              };
            const value = Reflect.get(target, prop, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }) as TestStore,
    );
    const r = await t.webhook.send(signedRequest(t.paid));
    expect(moved).toBe(true);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    expect((await t.store.getTrip(t.other.tripId))?.statusReason).toBe('someone_else');
    expect((await t.store.getPaymentRecord(t.paymentId))?.paidForTripId).toBe(t.paying.tripId);
  });

  it('after the move: seats add up, bookings coherent with a cancelled trip, ops check clean before and after resolve', async () => {
    const t = await setup();
    expect((await t.webhook.send(signedRequest(t.paid))).body).toMatchObject({ outcome: 'needs_attention' });
    const trip = await t.store.getTrip(t.other.tripId);
    const bookings = await t.store.getBookings(trip?.bookingReferences ?? []);
    expect(trip?.status).toBe('cancelled');
    expect(bookings.map((b) => b.status)).toEqual(['cancelled']);
    const drift = (await checkConsistency(t.store, LOCAL_INDEXES)).drifted.filter((d) => d.slotId === t.slot.slotId);
    expect(drift).toEqual([]);
    expect((await t.store.getSlots([t.slot.slotId])).get(t.slot.slotId)?.availableCount).toBe(5);
    expect((await checkPayments(t.store)).problems.filter((p) => p.paymentId === t.paymentId)).toEqual([]);
    const resolved = await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full']);
    expect(resolved.code).toBe(0);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('cancelled');
    expect((await checkPayments(t.store)).problems.filter((p) => p.paymentId === t.paymentId)).toEqual([]);
    // B itself: never booked, its traveller's money all back, and the resolution said so on it.
    expect((await t.store.getTrip(t.paying.tripId))?.status).toBe('refunded');
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
  });
});
