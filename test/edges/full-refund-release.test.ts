// A full refund releases the trip the webhook loaded (the one the payment booked), its seats and bookings once: reproductions.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { chargeRefunded, signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { paymentScenario } from '../support/payment-scenario';
import { readSlot, seedSlot, testDocumentClient, testTableName } from '../support/store';
import { createPendingTrip } from '../support/trips';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

describe('a full refund of a trip booked before payment records existed', () => {
  it('releases the trip the payment booked (found by the payment index), not the trip the charge names, seats back once', async () => {
    const s = await paymentScenario(fake);
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    // Booked by the old code: no payment record, only the trip indexed under its payment.
    await testDocumentClient().send(new DeleteCommand({ TableName: testTableName(), Key: keys.paymentRecord(s.paymentIntent) }));
    const otherSlot = await seedSlot(s.store, { capacity: 3 });
    const other = await createPendingTrip(s.store, [[otherSlot, 1]], s.trip.userId);

    const response = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: other.tripId })));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'released', tripId: s.trip.tripId } });
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.tripStatus()).toBe('refunded');
    expect((await s.store.listBookingsOfTrip(s.trip.tripId)).map((booking) => booking.status)).toEqual(['cancelled', 'cancelled']);
    expect((await s.store.getTrip(other.tripId))?.status).toBe('pending_payment');
    expect((await readSlot(s.store, otherSlot.slotId))?.availableCount).toBe(3);
    expect(await s.record()).toMatchObject({ status: 'refunded', tripId: s.trip.tripId });
  });

  it('releases once when the same charge.refunded is delivered twice', async () => {
    const s = await paymentScenario(fake);
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    const event = signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId }));

    const [a, b] = await Promise.all([s.webhook.send(event), s.webhook.send(event)]);

    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.body.outcome, b.body.outcome].sort()).toEqual(['duplicate', 'released']);
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.tripStatus()).toBe('refunded');
  });
});
