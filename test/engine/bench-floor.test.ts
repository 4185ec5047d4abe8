// The bench's floor leaves the table as a confirmation does (the same items and index keys), so the ratio to it measures
// the handler and not a floor that writes less.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { bareTransaction } from '../../bench/floor';
import type { Trip } from '../../lambdas/shared/domain/model';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { testDocumentClient, testStore, testTableName } from '../support/store';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

it('books a trip its checkout held as the handler does: trip, bookings, hold out of the sweeper’s index, payment record, trip of the payment', async () => {
  const store = testStore();
  const trip = await checkedOutTrip(store, fake);
  const stored = (await trip.trip()) as Trip;

  const taken = await bareTransaction(testDocumentClient(), testTableName(), stored);

  expect(taken).toBe(true);
  const booked = await trip.trip();
  const bookings = await trip.bookings();
  expect(booked).toMatchObject({ status: 'booked', bookingReferences: bookings.map((booking) => booking.reference) });
  expect(bookings).toEqual([expect.objectContaining({ status: 'confirmed', amount: trip.amount, currency: stored.currency })]);
  const paymentId = booked?.paymentId as string;
  expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', tripId: trip.tripId, amountPaid: trip.amount, version: 1 });
  expect(await store.findTripByPayment(paymentId)).toMatchObject({ tripId: trip.tripId });
  expect((await store.listActiveHolds()).map((hold) => hold.tripId)).not.toContain(trip.tripId);
  expect(await trip.available()).toBe(2);
});
