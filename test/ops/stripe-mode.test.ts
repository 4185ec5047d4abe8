// The ops commands that act at Stripe (reconcile, bookings cancel, payments retry-refund and resume-refunds) refuse a key whose mode is not
// the table's deployment's, before anything is read from Stripe or written, and payments retry-refund and resume-refunds a key of another
// account; the others are not asked.
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { ProviderMode } from '../../lambdas/shared/domain/model';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { resumeRequestedRefunds } from '../../lambdas/shared/domain/resume-refunds';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { cursorOf, STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { runOps } from '../../scripts/ops/cli';
import { AccountMismatchError, accountChecked } from '../../scripts/ops/stripe-mode';
import { checkedOutTrip } from '../support/checked-out';
import { storeOnOwnTable } from '../support/store';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** A table of the test's own, its sweep's cursor saying `mode` (none: no deployment's sweep runs on it), with one booked trip. */
async function tableWithBookedTrip(mode: ProviderMode | undefined) {
  const store = await storeOnOwnTable();
  if (mode) await store.moveEventCursor({ source: STRIPE_CURSOR, resumeAt: Math.floor(Date.now() / 1000), mode, updatedAt: new Date().toISOString() });
  const trip = await checkedOutTrip(store, fake);
  const booked = await webhookHarness(fake, { store }).send(signedRequest(await trip.pay()));
  expect(booked.body.outcome).toBe('booked');
  const [booking] = await trip.bookings();
  return { store, trip, reference: booking?.reference as string, paymentId: trip.paymentIntent() };
}

async function opsOn(store: DynamoDbBookingStore, apiKey: string, ...argv: string[]) {
  return opsAt(fake, store, apiKey, ...argv);
}

/** The CLI with STRIPE_API_KEY of the account `stripe` stands for. */
async function opsAt(stripe: StripeFake, store: DynamoDbBookingStore, apiKey: string, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runOps([...argv, '--endpoint', inject('dynamoEndpoint'), '--table', store.tableName], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: { STRIPE_API_KEY: apiKey, STRIPE_API_BASE: stripe.url },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const stripeCalls = () => fake.calls.filter((call) => call.path.startsWith('/v1/refunds') || call.path.startsWith('/v1/events')).length;

describe('a key of the other mode than the table’s deployment', () => {
  it.each([
    { table: 'live' as const, key: 'sk_test_from_a_laptop' },
    { table: 'test' as const, key: 'sk_live_on_the_wrong_table' },
    { table: undefined, key: 'rk_live_restricted_on_an_unswept_table' },
  ])('is refused by bookings cancel (table $table, key $key): the booking stays, nothing is refunded', async ({ table, key }) => {
    const { store, trip, reference, paymentId } = await tableWithBookedTrip(table);
    const before = stripeCalls();

    const cancelled = await opsOn(store, key, 'bookings', 'cancel', reference, '--reason', 'traveller asked');

    expect(cancelled.code).toBe(2);
    expect(cancelled.err.split('\n')).toEqual([
      expect.stringMatching(/^error: MODE_MISMATCH: STRIPE_API_KEY is a (test|live) key and table \S+ .*nothing was read from Stripe or written$/),
    ]);
    expect(stripeCalls()).toBe(before);
    expect(await trip.bookings()).toEqual([expect.objectContaining({ reference, status: 'confirmed' })]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', version: 1 });
  });

  it('is refused by bookings cancel of a booking cancelled before whose share Stripe did not take', async () => {
    const { store, reference, paymentId } = await tableWithBookedTrip('live');
    // The command's Stripe client retries twice itself: all three attempts fail.
    fake.failNext(3, 500);
    const first = await opsOn(store, 'sk_live_its_own', 'bookings', 'cancel', reference, '--reason', 'traveller asked');
    const stored = await store.getPaymentRecord(paymentId);
    const before = stripeCalls();

    const again = await opsOn(store, 'sk_test_from_a_laptop', 'bookings', 'cancel', reference, '--reason', 'traveller asked');

    expect(first.code).toBe(1);
    expect(stored?.refunds).toEqual([expect.objectContaining({ status: 'requested' })]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^error: MODE_MISMATCH: STRIPE_API_KEY is a test key /);
    expect(stripeCalls()).toBe(before);
    expect(await store.getPaymentRecord(paymentId)).toEqual(stored);
  });

  it('is refused by payments resume-refunds: the refund due stays requested, and the key of the table’s mode asks for it', async () => {
    const { store, reference, paymentId } = await tableWithBookedTrip('live');
    fake.failNext(3, 500);
    expect((await opsOn(store, 'sk_live_its_own', 'bookings', 'cancel', reference, '--reason', 'traveller asked')).code).toBe(1);
    const stored = await store.getPaymentRecord(paymentId);
    const before = stripeCalls();

    const refused = await opsOn(store, 'sk_test_from_a_laptop', 'payments', 'resume-refunds');

    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^error: MODE_MISMATCH: STRIPE_API_KEY is a test key /);
    expect(stripeCalls()).toBe(before);
    expect(await store.getPaymentRecord(paymentId)).toEqual(stored);

    const resumed = await opsOn(store, 'sk_live_its_own', 'payments', 'resume-refunds');

    expect(resumed.code).toBe(0);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refunded' });
  });

  it('is refused when a live key is pasted with a space before it', async () => {
    const { store, paymentId } = await tableWithBookedTrip('test');

    const retried = await opsOn(store, ' sk_live_pasted_with_a_space', 'payments', 'retry-refund', paymentId);

    expect(retried.code).toBe(2);
    expect(retried.err).toMatch(/^error: MODE_MISMATCH: STRIPE_API_KEY is a live key /);
  });

  it('is refused by payments retry-refund: the record is left as it was', async () => {
    const { store, paymentId } = await tableWithBookedTrip('test');
    const before = await store.getPaymentRecord(paymentId);

    const retried = await opsOn(store, 'sk_live_on_the_wrong_table', 'payments', 'retry-refund', paymentId);

    expect(retried.code).toBe(2);
    expect(retried.err).toMatch(/^error: MODE_MISMATCH: STRIPE_API_KEY is a live key and table \S+ belongs to a test deployment/);
    expect(await store.getPaymentRecord(paymentId)).toEqual(before);
  });

  it('is not asked about by a cancellation that refunds nothing (--no-refund)', async () => {
    const { store, reference } = await tableWithBookedTrip('live');

    const cancelled = await opsOn(store, 'sk_test_from_a_laptop', 'bookings', 'cancel', reference, '--reason', 'goodwill', '--no-refund');

    expect(cancelled).toMatchObject({ code: 0, err: '' });
  });
});

describe('a key of the table’s own mode', () => {
  it('cancels and refunds the booking’s share', async () => {
    const { store, trip, reference } = await tableWithBookedTrip('test');

    const cancelled = await opsOn(store, 'sk_test_fake', 'bookings', 'cancel', reference, '--reason', 'traveller asked');

    expect(cancelled).toMatchObject({ code: 0, err: '' });
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
  });

  it('is the mode of the cursor its sweep moved last, when it swept in both (a key of the other mode for a while)', async () => {
    const { store, trip, reference } = await tableWithBookedTrip(undefined);
    const sweptIn = (mode: ProviderMode, at: string) =>
      store.moveEventCursor({ source: cursorOf(STRIPE_CURSOR, mode), resumeAt: Math.floor(Date.now() / 1000), mode, updatedAt: at });
    await sweptIn('test', '2026-11-27T10:00:00.000Z');
    await sweptIn('live', '2026-11-27T10:15:00.000Z');

    const whileLive = await opsOn(store, 'sk_test_fake', 'bookings', 'cancel', reference, '--reason', 'traveller asked');
    await sweptIn('test', '2026-11-27T10:30:00.000Z');
    const testAgain = await opsOn(store, 'sk_test_fake', 'bookings', 'cancel', reference, '--reason', 'traveller asked');

    expect(whileLive).toMatchObject({ code: 2, err: expect.stringContaining('belongs to a live deployment') });
    expect(testAgain).toMatchObject({ code: 0, err: '' });
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
  });
});

describe('a key of another Stripe account of the same mode', () => {
  let otherAccount: StripeFake;
  beforeEach(async () => {
    otherAccount = await startStripeFake();
  });
  afterEach(() => otherAccount.close());

  const otherAccountRefunds = () => otherAccount.calls.filter((call) => call.method === 'POST' && call.path === '/v1/refunds');

  it('leaves the share of a booking bookings cancel cancels requested, never refused, and the deployment’s key refunds it', async () => {
    const { store, trip, reference, paymentId } = await tableWithBookedTrip('test');

    const cancelled = await opsAt(otherAccount, store, 'sk_test_of_another_account', 'bookings', 'cancel', reference, '--reason', 'traveller asked');

    expect(cancelled.code).toBe(1);
    expect(cancelled.err.split('\n')).toEqual([
      `error: ACCOUNT_MISMATCH: the Stripe account of STRIPE_API_KEY holds no payment ${paymentId} (a key of another account, or a payment Stripe no longer has): is it a key of this deployment's account? ` +
        'what was decided is stored as requested, and the reconciliation sweep asks for it with the deployment’s own key (or payments retry-refund with a key of its account)',
    ]);
    expect(otherAccountRefunds()).toEqual([]);
    expect(await trip.bookings()).toEqual([expect.objectContaining({ reference, status: 'cancelled' })]);
    const record = await store.getPaymentRecord(paymentId);
    expect(record).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested', amount: trip.amount }] });
    expect(record?.attention).toBeUndefined();

    expect((await opsOn(store, 'sk_test_fake', 'payments', 'resume-refunds')).code).toBe(0);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refunded' });
  });

  it('asks nothing with it of a payment that comes due after resume-refunds looked the account up: it stays due', async () => {
    const { store, reference, paymentId } = await tableWithBookedTrip('test');
    fake.failNext(3, 500);
    expect((await opsOn(store, 'sk_test_fake', 'bookings', 'cancel', reference, '--reason', 'traveller asked')).code).toBe(1);
    const stored = await store.getPaymentRecord(paymentId);
    // The command's gateway, as its run uses it once its look-up found nothing due to look up.
    const gateway = accountChecked(new StripePaymentGateway(async () => otherAccount.client()));

    const resumed = await resumeRequestedRefunds({ store, gateway, clock: systemClock, ids: randomIds }, { olderThanMs: 0 });

    expect(resumed.payments).toEqual([expect.objectContaining({ status: 'unavailable', paymentId, error: expect.any(AccountMismatchError) })]);
    expect(otherAccountRefunds()).toEqual([]);
    expect(await store.getPaymentRecord(paymentId)).toEqual(stored);
  });

  it('is refused by payments retry-refund: the refund stays requested, and the deployment’s key refunds it', async () => {
    const { store, trip, reference, paymentId } = await tableWithBookedTrip('test');
    fake.failNext(3, 500);
    expect((await opsOn(store, 'sk_test_fake', 'bookings', 'cancel', reference, '--reason', 'traveller asked')).code).toBe(1);
    const stored = await store.getPaymentRecord(paymentId);
    expect(stored?.refunds).toEqual([expect.objectContaining({ status: 'requested' })]);

    const retried = await opsAt(otherAccount, store, 'sk_test_of_another_account', 'payments', 'retry-refund', paymentId);

    expect(retried.code).toBe(2);
    expect(retried.err).toMatch(/^error: ACCOUNT_MISMATCH: .* \(the payment\)/);
    expect(otherAccountRefunds()).toEqual([]);
    expect(await store.getPaymentRecord(paymentId)).toEqual(stored);

    expect((await opsOn(store, 'sk_test_fake', 'payments', 'retry-refund', paymentId)).code).toBe(0);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
  });
});
