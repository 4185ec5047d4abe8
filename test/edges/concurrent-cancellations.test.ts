// Every booking of one payment cancelled at once, each refund's events reaching the webhook while the other cancellations read and write the same payment record.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { BOOKED_TRIP_CAPACITY, bookedTripAt } from '../support/booked-trip';
import { testStore } from '../support/store';
import { serveWebhookFor } from '../support/webhook-server';

let fake: StripeFake;
let stopWebhook: () => Promise<void>;
beforeEach(async () => {
  fake = await startStripeFake();
  stopWebhook = await serveWebhookFor(fake, testStore());
});
afterEach(async () => {
  await stopWebhook();
  await fake.close();
});

it('cancels five bookings of one payment at once: each answers, each share is refunded once, every seat comes back', async () => {
  const t = await bookedTripAt(fake, [1, 2, 1, 3, 1]);

  const answers = await Promise.all(
    t.references.map((reference) =>
      cancelBooking({ store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, { reference, reason: 'storm', refund: true }),
    ),
  );

  // Each cancellation and each refund event writes the record under the version it read: the losers read again, after a
  // random pause, until every one has landed.
  expect(answers.map((answer) => (answer.ok ? answer.refund?.status : answer.errorCode))).toEqual(Array(5).fill('succeeded'));
  expect(answers.map((answer) => answer.ok && answer.released.map((released) => released.reference))).toEqual(t.references.map((reference) => [reference]));
  expect(
    fake
      .refundsOf(t.pi)
      .map((refund) => refund.amount)
      .sort((a, b) => a - b),
  ).toEqual([...t.shares].sort((a, b) => a - b));
  expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  expect(fake.deliveries.filter((delivery) => delivery.status !== 200)).toEqual([]);
  const record = await t.record();
  expect(record).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
  expect(new Set(record.refunds.map((entry) => `${entry.status} ${entry.stripeRefundId !== undefined}`))).toEqual(new Set(['succeeded true']));
  expect(record.refunds).toHaveLength(5);
  expect(await t.tripStatus()).toBe('refunded');
  expect(await t.available()).toEqual(Array(5).fill(BOOKED_TRIP_CAPACITY));
});
