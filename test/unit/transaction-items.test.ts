// The transaction's items as DynamoDB receives them, and its refusals decoded: pure builders, no table.
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import type { AtomicWrite, TripTransition } from '../../lambdas/shared/domain/booking-store';
import { StoredDataError } from '../../lambdas/shared/domain/errors';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { newPaymentRecord } from '../../lambdas/shared/domain/payment-ledger';
import { slotItem, tripItem } from '../../lambdas/shared/dynamodb/items';
import { fromItem, STORED_TRIP_FIELDS } from '../../lambdas/shared/dynamodb/stored-items';
import { MAX_TRIP_ITEMS } from '../../lambdas/shared/domain/trip-input';
import {
  buildTransaction,
  countConfirmationWrites,
  guard,
  MAX_TRANSACTION_ITEMS,
  requestToken,
  TRIP_FIELDS_LEFT_AS_STORED,
} from '../../lambdas/shared/dynamodb/transaction-items';
import { decodeRejection } from '../../lambdas/shared/dynamodb/write-rejection';

const TABLE = 'bookings';
const AT = '2027-03-01T10:00:00.000Z';

const slot: Slot = {
  slotId: 'slot-1',
  experienceId: 'exp-1',
  date: '2027-03-14',
  time: '09:30',
  capacity: 10,
  availableCount: 4,
  unheldCount: 3,
  isBlocked: false,
  priceAmount: 4_500,
  currency: 'eur',
  updatedAt: AT,
};

const trip: Trip = {
  tripId: 'trip-1',
  userId: 'user-1',
  items: [{ experienceId: 'exp-1', slotId: 'slot-1', guestCount: 2, date: '2027-03-14', time: '09:30' }],
  amount: 9_000,
  currency: 'eur',
  status: 'pending_payment',
  bookingReferences: [],
  createdAt: AT,
  updatedAt: AT,
};

function onlyItem(write: Omit<AtomicWrite, 'at'>) {
  const parts = buildTransaction(TABLE, { at: AT, ...write });
  expect(parts).toHaveLength(1);
  return parts[0]!.item;
}

const items = (count: number, slots = count) => Array.from({ length: count }, (_, i) => ({ slotId: `s${i % slots}` }));

describe('transaction size', () => {
  it('counts a slot update per distinct slot, a booking and an audit entry per item, the trip, the event record, the payment record and the hold', () => {
    expect(countConfirmationWrites(items(3))).toBe(3 + 6 + 4);
    expect(countConfirmationWrites(items(4, 1))).toBe(1 + 8 + 4);
  });

  it(`fits the domain's largest trip, ${MAX_TRIP_ITEMS} items on distinct slots, in ${MAX_TRANSACTION_ITEMS} transaction items, and not one more`, () => {
    expect(countConfirmationWrites(items(MAX_TRIP_ITEMS))).toBeLessThanOrEqual(MAX_TRANSACTION_ITEMS);
    expect(countConfirmationWrites(items(MAX_TRIP_ITEMS + 1))).toBeGreaterThan(MAX_TRANSACTION_ITEMS);
  });
});

describe('transaction items', () => {
  it('takes unheld seats with every guard of a confirmation and both counters', () => {
    const item = onlyItem({ seatChanges: [{ kind: 'take', slotId: 'slot-1', experienceId: 'exp-1', guests: 2 }] });
    expect(item.Update).toMatchObject({
      TableName: TABLE,
      Key: { pk: 'SLOT#slot-1', sk: 'SLOT' },
      ConditionExpression: [guard.exists, guard.slotIsForExperience, guard.slotNotBlocked, guard.enoughSeats, guard.enoughUnheldSeats].join(' AND '),
      UpdateExpression: 'SET availableCount = availableCount - :guests, unheldCount = if_not_exists(unheldCount, availableCount) - :guests, updatedAt = :at',
      ExpressionAttributeValues: { ':guests': 2, ':true': true, ':at': AT, ':experienceId': 'exp-1' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('takes held seats from availableCount only', () => {
    const item = onlyItem({ seatChanges: [{ kind: 'take', slotId: 'slot-1', experienceId: 'exp-1', guests: 2, held: true }] });
    expect(item.Update?.ConditionExpression).toBe([guard.exists, guard.slotIsForExperience, guard.slotNotBlocked, guard.enoughSeats].join(' AND '));
    expect(item.Update?.UpdateExpression).toBe('SET availableCount = availableCount - :guests, updatedAt = :at');
  });

  it('gives seats back only against the capacity read and never above it', () => {
    const item = onlyItem({ seatChanges: [{ kind: 'give', slotId: 'slot-1', guests: 2, capacity: 10 }] });
    expect(item.Update).toMatchObject({
      ConditionExpression: [guard.exists, guard.capacityUnchanged, guard.roomToGiveBack].join(' AND '),
      ExpressionAttributeNames: { '#capacity': 'capacity' },
      ExpressionAttributeValues: { ':guests': 2, ':capacity': 10, ':ceiling': 8, ':at': AT },
    });
  });

  it('moves a trip only from the statuses named, only for its owner, and indexes it under its payment', () => {
    const item = onlyItem({
      tripTransition: { tripId: 'trip-1', from: ['pending_payment', 'awaiting_payment'], to: 'booked', userId: 'user-1', paymentId: 'pi_1' },
    });
    expect(item.Update).toMatchObject({
      Key: { pk: 'TRIP#trip-1', sk: 'TRIP' },
      ConditionExpression: [guard.exists, guard.tripStatusIn([':from0', ':from1']), guard.tripOwnedBy].join(' AND '),
      ExpressionAttributeValues: {
        ':from0': 'pending_payment',
        ':from1': 'awaiting_payment',
        ':to': 'booked',
        ':userId': 'user-1',
        ':gsi2pk': 'PAYMENT#pi_1',
        ':gsi2sk': 'TRIP',
      },
    });
    expect(item.Update?.ConditionExpression).toContain('#status IN (:from0, :from1)');
  });

  it('forgets, with every move of a trip, when a traveller’s return last asked Stripe about it', () => {
    const moves: TripTransition[] = [
      { tripId: 'trip-1', from: ['pending_payment'], to: 'awaiting_payment', checkoutSessionId: 'cs_1' },
      { tripId: 'trip-1', from: ['pending_payment'], to: 'pending_payment', checkoutSessionId: 'cs_2' },
      { tripId: 'trip-1', from: ['pending_payment', 'awaiting_payment'], to: 'booked', paymentId: 'pi_1', bookingReferences: ['PL-1'] },
    ];
    for (const tripTransition of moves) {
      expect(onlyItem({ tripTransition }).Update?.UpdateExpression).toMatch(/^SET .* REMOVE returnCheckedAt$/);
    }
  });

  it('books a trip paid for by a session only if it was opened for that session, at that price, for exactly those items', () => {
    const paidFor = { checkoutSessionId: 'cs_1', amount: 9_000, currency: 'eur', items: trip.items, itemAmounts: [9_000] };
    const item = onlyItem({ tripTransition: { tripId: 'trip-1', from: ['pending_payment'], to: 'booked', userId: 'user-1', paidFor } });
    expect(item.Update?.ConditionExpression).toBe(
      [
        guard.exists,
        guard.tripStatusIn([':from0']),
        guard.tripOwnedBy,
        guard.tripSessionIs,
        guard.tripPriceIs,
        guard.tripItemsAre,
        guard.noChargeRefundedEarly,
        guard.tripFieldsReadable,
      ].join(' AND '),
    );
    expect(item.Update?.ExpressionAttributeValues).toMatchObject({
      ':checkoutSession': 'cs_1',
      ':price': 9_000,
      ':currency': 'eur',
      ':items': trip.items,
      ':itemAmounts': [9_000],
    });
    // The list compares whole against the stored trip's: the same attributes the trip item holds, in the same order.
    expect(item.Update?.ExpressionAttributeValues?.[':items']).toEqual(tripItem(trip).items);
    expect(item.Update?.ExpressionAttributeNames).toMatchObject({ '#amount': 'amount', '#currency': 'currency', '#items': 'items' });
  });

  it('leaves no field of a stored trip unchecked by a confirmation that does not read it: each is compared, rewritten or type-checked', () => {
    const paidFor = { checkoutSessionId: 'cs_1', amount: 9_000, currency: 'eur', items: trip.items, itemAmounts: [9_000] };
    const update = onlyItem({
      tripTransition: { tripId: 'trip-1', from: ['pending_payment'], to: 'booked', userId: 'user-1', paidFor, paymentId: 'pi_1', bookingReferences: ['PL-1'] },
    }).Update;
    const compared = ['status', 'userId', 'checkoutSessionId', 'amount', 'currency', 'items', 'itemAmounts', 'chargeRefundedEarly'];
    const rewritten = ['status', 'paymentId', 'bookingReferences', 'updatedAt'];
    const typeChecked = [...TRIP_FIELDS_LEFT_AS_STORED.required, ...TRIP_FIELDS_LEFT_AS_STORED.optional];

    expect(new Set([...compared, ...rewritten, ...typeChecked])).toEqual(new Set(STORED_TRIP_FIELDS));
    for (const field of typeChecked) expect(update?.ConditionExpression).toContain(`attribute_type(${field}, :text)`);
    expect(update?.ExpressionAttributeValues?.[':text']).toBe('S');
  });

  it('replaces a payment record only at the version read, and puts a new one only where none exists', () => {
    const record = { ...newPaymentRecord({ paymentId: 'pi_1', status: 'booked', setAside: false, amountPaid: 9_000, currency: 'eur' }, AT), version: 3 };
    expect(onlyItem({ paymentRecord: { record, expectedVersion: 2 } }).Put).toMatchObject({
      ConditionExpression: [guard.exists, guard.recordVersionIs].join(' AND '),
      ExpressionAttributeValues: { ':version': 2 },
    });
    expect(onlyItem({ paymentRecord: { record } }).Put?.ConditionExpression).toBe(guard.isNew);
  });

  it('cancels only a confirmed booking', () => {
    const item = onlyItem({ cancellations: [{ reference: 'PL-ABCD2345', reason: 'customer asked' }] });
    expect(item.Update?.ConditionExpression).toBe([guard.exists, guard.bookingConfirmed].join(' AND '));
  });

  it('draws a new token for every commit, within the 36 characters DynamoDB allows', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => requestToken()));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token.length).toBeLessThanOrEqual(36);
  });
});

describe('decodeRejection', () => {
  it('reads each refusal against the part that caused it, with the item as it was', () => {
    const parts = buildTransaction(TABLE, {
      at: AT,
      seatChanges: [{ kind: 'take', slotId: 'slot-1', experienceId: 'exp-1', guests: 5 }],
      newBookings: [],
      tripTransition: { tripId: 'trip-1', from: ['pending_payment'], to: 'booked' },
      processedEvent: { eventId: 'evt_1', eventType: 'checkout.session.completed', outcome: 'booked', references: [], processedAt: AT, expiresAt: 1 },
    });
    const refused = { Code: 'ConditionalCheckFailed' };
    const rejection = decodeRejection(parts, [
      { ...refused, Item: marshall(slotItem(slot), { removeUndefinedValues: true }) },
      { ...refused, Item: marshall(tripItem({ ...trip, status: 'booked' }), { removeUndefinedValues: true }) },
      refused,
    ]);
    expect(rejection).toEqual({
      seatChanges: [{ change: expect.objectContaining({ slotId: 'slot-1' }), current: slot }],
      takenReferences: [],
      trip: { current: { ...trip, status: 'booked' } },
      eventAlreadyProcessed: true,
    });
  });

  it('reads parts that passed as nothing', () => {
    const parts = buildTransaction(TABLE, { at: AT, newTrip: trip });
    expect(decodeRejection(parts, [{ Code: 'None' }])).toEqual({ seatChanges: [], takenReferences: [], eventAlreadyProcessed: false });
  });
});

describe('stored items', () => {
  it('reads an item back as its entity, without the table’s own attributes', () => {
    expect(fromItem.slot(slotItem(slot))).toEqual(slot);
    expect(fromItem.trip(tripItem({ ...trip, paymentId: 'pi_1' }))).toEqual({ ...trip, paymentId: 'pi_1' });
  });

  it('reports an item that lacks what its entity needs, naming the field', () => {
    const { capacity: _capacity, ...withoutCapacity } = slotItem(slot);
    expect(() => fromItem.slot(withoutCapacity)).toThrow(StoredDataError);
    expect(() => fromItem.slot(withoutCapacity)).toThrow(/slot slot-1 is unusable: capacity/);
  });
});
