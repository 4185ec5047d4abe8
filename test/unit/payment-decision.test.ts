// The payment state machine's decisions, one row per row of docs/payment-flow.md, without DynamoDB.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PaymentRecord, RefundEntry, Trip, TripStatus } from '../../lambdas/shared/domain/model';
import {
  bookedAtItsPrice,
  decide,
  type ChargeRefunded,
  type CheckoutCompleted,
  type CheckoutEnded,
  type PaymentEvent,
  type PaymentState,
  type RefundChanged,
} from '../../lambdas/shared/domain/payment-decision';

const AT = '2026-11-26T10:00:00.000Z';
const PI = 'pi_decision';

function trip(status: TripStatus, extra: Partial<Trip> = {}): Trip {
  return {
    tripId: 'trip-1',
    userId: 'user-1',
    items: [{ experienceId: 'exp-1', slotId: 'slot-1', guestCount: 2, date: '2027-01-01', time: '09:00' }],
    amount: 9_000,
    currency: 'eur',
    status,
    checkoutSessionId: 'cs_1',
    bookingReferences: [],
    createdAt: AT,
    updatedAt: AT,
    ...extra,
  };
}

function record(status: PaymentRecord['status'], extra: Partial<PaymentRecord> = {}): PaymentRecord {
  return {
    paymentId: PI,
    status,
    tripId: 'trip-1',
    setAside: false,
    amountPaid: 9_000,
    currency: 'eur',
    amountRefunded: 0,
    refunds: [],
    version: 3,
    createdAt: AT,
    updatedAt: AT,
    ...extra,
  };
}

function refund(status: RefundEntry['status']): RefundEntry {
  return {
    refundKey: `refund-${PI}`,
    amount: 9_000,
    status,
    requestedBy: 'system',
    reason: 'SLOT_BLOCKED',
    bookingReferences: [],
    stripeRefundId: 're_1',
    requestedAt: AT,
    updatedAt: AT,
  };
}

function paid(extra: Partial<CheckoutCompleted> = {}): CheckoutCompleted {
  return {
    kind: 'checkout-completed',
    eventId: 'evt_1',
    eventType: 'checkout.session.completed',
    paid: true,
    sessionId: 'cs_1',
    tripId: 'trip-1',
    userId: 'user-1',
    paymentId: PI,
    amount: 9_000,
    amountSubtotal: 9_000,
    amountDiscount: 0,
    currency: 'eur',
    ...extra,
  };
}

/** A trip whose checkout recorded no page yet. */
function withoutPage({ checkoutSessionId: _page, ...rest }: Trip): Trip {
  return rest;
}

const unpaid = (): CheckoutCompleted => paid({ paid: false, paymentId: undefined as unknown as string });
const ended = (to: CheckoutEnded['to']): CheckoutEnded => ({
  kind: 'checkout-ended',
  eventId: 'evt_2',
  eventType: `checkout.session.${to}`,
  to,
  sessionId: 'cs_1',
  tripId: 'trip-1',
});
const charge = (amountRefunded = 9_000): ChargeRefunded => ({
  kind: 'charge-refunded',
  eventId: 'evt_3',
  eventType: 'charge.refunded',
  paymentId: PI,
  amount: 9_000,
  amountRefunded,
  currency: 'eur',
  marked: true,
});
const refundEvent = (status: RefundChanged['status'], refundId = 're_1'): RefundChanged => ({
  kind: 'refund-changed',
  eventId: 'evt_4',
  eventType: 'refund.updated',
  refundId,
  paymentId: PI,
  amount: 9_000,
  status,
  refundKey: refundId === 're_1' ? `refund-${PI}` : (undefined as unknown as string),
});

interface Row {
  readonly rule: string;
  readonly state: PaymentState;
  readonly event: PaymentEvent;
  readonly step: string;
  readonly outcome?: string;
  readonly reason?: string;
}

/** In the order of the table in docs/payment-flow.md: one row each. */
const rows: Row[] = [
  {
    rule: 'paid-record-booked',
    state: { trip: trip('booked', { paymentId: PI }), record: record('booked') },
    event: paid(),
    step: 'answer',
    outcome: 'duplicate',
  },
  {
    rule: 'paid-record-charged-otherwise',
    state: { trip: trip('booked', { paymentId: PI }), record: record('booked') },
    event: paid({ amount: 8_000, amountDiscount: 1_000 }),
    step: 'record-charge',
  },
  {
    rule: 'paid-record-other-trip',
    state: { trip: trip('pending_payment'), record: record('booked', { tripId: 'trip-claimed' }) },
    event: paid(),
    step: 'attend-claimed-payment',
  },
  {
    rule: 'paid-record-kept-partial-refund',
    state: { trip: trip('booked', { paymentId: PI, chargeRefundedEarly: [{ paymentId: PI, amount: 3_000 }] }), record: record('booked') },
    event: paid(),
    step: 'record-kept-partial-refund',
  },
  {
    rule: 'paid-record-refund-pending',
    state: { trip: trip('refund_pending', { paymentId: PI }), record: record('refund_pending', { refunds: [refund('requested')] }) },
    event: paid(),
    step: 'issue-refunds',
  },
  {
    rule: 'paid-record-refunded',
    state: { record: record('refunded', { setAside: true, reason: 'unknown_trip' }) },
    event: paid(),
    step: 'answer',
    outcome: 'refunded',
  },
  {
    rule: 'paid-refunded-first-trip-waiting',
    state: { trip: trip('pending_payment'), record: record('refunded', { reason: 'refunded_before_confirmation' }) },
    event: paid(),
    step: 'close-trip',
  },
  {
    rule: 'paid-refunded-first',
    state: { trip: trip('refunded'), record: record('refunded', { reason: 'refunded_before_confirmation' }) },
    event: paid(),
    step: 'answer',
    outcome: 'already_refunded',
  },
  {
    rule: 'paid-record-needs-attention',
    state: { trip: trip('refund_pending'), record: record('needs_attention') },
    event: paid(),
    step: 'answer',
    outcome: 'needs_attention',
  },
  { rule: 'paid-record-closed', state: { trip: trip('cancelled'), record: record('cancelled') }, event: paid(), step: 'answer', outcome: 'no_change' },
  {
    rule: 'paid-legacy-refund-pending',
    state: { trip: trip('refund_pending', { paymentId: PI, statusReason: 'SLOT_BLOCKED' }) },
    event: paid(),
    step: 'resume-trip-refund',
  },
  { rule: 'paid-unknown-trip', state: {}, event: paid(), step: 'set-aside', reason: 'unknown_trip' },
  { rule: 'paid-no-payment-intent', state: {}, event: paid({ paymentId: undefined as unknown as string }), step: 'attention', reason: 'no_payment_intent' },
  {
    rule: 'paid-mismatch',
    state: { trip: trip('pending_payment') },
    event: paid({ amount: 8_000, amountSubtotal: 8_000 }),
    step: 'set-aside',
    reason: 'amount_mismatch',
  },
  { rule: 'paid-trip-not-payable', state: { trip: trip('expired') }, event: paid(), step: 'set-aside', reason: 'trip_expired' },
  { rule: 'paid-matching', state: { trip: trip('awaiting_payment') }, event: paid({ amount: 7_000, amountDiscount: 2_000 }), step: 'confirm' },
  { rule: 'unpaid-pending', state: { trip: trip('pending_payment') }, event: unpaid(), step: 'move-trip', outcome: 'awaiting_payment' },
  {
    rule: 'checkout-expired-superseded',
    state: { trip: withoutPage(trip('pending_payment', { holdExpiresAt: '2026-11-20T11:00:00.000Z' })) },
    // Its session was to end at 10:20; the hold, held on, is for a session ending at 10:55.
    event: { ...ended('expired'), sessionExpiresAt: Date.parse('2026-11-20T10:20:00.000Z') / 1000 },
    step: 'answer',
    outcome: 'no_change',
  },
  { rule: 'checkout-ended-waiting', state: { trip: trip('awaiting_payment') }, event: ended('expired'), step: 'move-trip', outcome: 'expired' },
  { rule: 'checkout-end-late', state: { trip: trip('booked', { paymentId: PI }) }, event: ended('payment_failed'), step: 'answer', outcome: 'no_change' },
  { rule: 'refund-foreign-charge', state: {}, event: { ...charge(), marked: false }, step: 'answer', outcome: 'ignored' },
  {
    rule: 'full-refund-stale',
    state: { trip: trip('booked', { paymentId: PI }), record: record('booked', { chargeRefunded: 0, chargeRefundedAsOf: 1_800_000_101 }) },
    event: { ...charge(), occurredAt: 1_800_000_070 },
    step: 'attention',
    reason: 'full_refund_stale',
  },
  { rule: 'full-refund-booked', state: { trip: trip('booked', { paymentId: PI }), record: record('booked') }, event: charge(), step: 'release' },
  { rule: 'full-refund-booked-unrecorded', state: { trip: trip('booked', { paymentId: PI }) }, event: charge(), step: 'release' },
  {
    rule: 'full-refund-cancelled',
    state: { trip: trip('cancelled', { paymentId: PI }), record: record('cancelled') },
    event: charge(),
    step: 'settle-refunded',
    outcome: 'refund_recorded',
  },
  {
    rule: 'full-refund-refund-pending',
    state: { trip: trip('refund_pending', { paymentId: PI }), record: record('refund_pending', { refunds: [refund('requested')] }) },
    event: charge(),
    step: 'settle-refunded',
    outcome: 'refunded',
  },
  {
    rule: 'full-refund-needs-attention',
    state: { record: record('needs_attention') },
    event: charge(),
    step: 'record-charge-total',
    outcome: 'refund_recorded',
  },
  {
    rule: 'full-refund-resolved',
    state: { record: record('resolved', { amountRefunded: 4_500 }) },
    event: charge(),
    step: 'record-charge-total',
    outcome: 'refund_recorded',
  },
  { rule: 'full-refund-settled', state: { record: record('refunded', { amountRefunded: 9_000 }) }, event: charge(), step: 'answer', outcome: 'duplicate' },
  { rule: 'full-refund-unconfirmed', state: { trip: trip('pending_payment') }, event: charge(), step: 'record-early-refund' },
  {
    rule: 'full-refund-unconfirmed-superseded',
    state: { trip: trip('pending_payment', { chargeRefundedEarly: [{ paymentId: PI, amount: 3_000, asOf: 1_800_000_104 }] }) },
    event: { ...charge(), occurredAt: 1_800_000_100 },
    step: 'record-partial-refund-early',
  },
  {
    rule: 'partial-refund-recorded-payment',
    state: { record: record('booked') },
    event: charge(3_000),
    step: 'record-charge-total',
    outcome: 'partial_refund_recorded',
  },
  { rule: 'partial-refund-unrecorded-payment', state: {}, event: charge(3_000), step: 'record-partial-refund-early' },
  { rule: 'refund-event-unknown-payment', state: {}, event: refundEvent('succeeded'), step: 'answer', outcome: 'no_change' },
  { rule: 'refund-event-outside-refund', state: { record: record('booked') }, event: refundEvent('succeeded', 're_dashboard'), step: 'move-refund' },
  {
    rule: 'refund-event-moves-refund',
    state: { record: record('refund_pending', { refunds: [refund('pending')] }) },
    event: refundEvent('failed'),
    step: 'move-refund',
  },
  {
    rule: 'refund-event-dates-failure',
    state: { record: record('needs_attention', { refunds: [{ ...refund('failed'), failedNoLaterThan: 1_800_000_100 }] }) },
    event: { ...refundEvent('failed'), eventType: 'refund.failed', occurredAt: 1_800_000_050 },
    step: 'move-refund',
  },
  {
    rule: 'refund-event-stale',
    state: { record: record('refunded', { refunds: [refund('succeeded')] }) },
    event: refundEvent('pending'),
    step: 'answer',
    outcome: 'duplicate',
  },
];

describe('decide, a payment whose trip kept a partial refund seen before its record', () => {
  const kept = (paymentId: string) => [{ paymentId, amount: 3_000 }];

  it('asks for the record first when the trip booked by this payment is read alone, and whatever the record’s status', () => {
    expect(decide({ trip: trip('booked', { paymentId: PI, chargeRefundedEarly: kept(PI) }) }, paid()).rule).toBe('paid-record-kept-partial-refund');
    for (const status of ['cancelled', 'refunded', 'needs_attention'] as const) {
      const since = trip(status === 'needs_attention' ? 'booked' : status, { paymentId: PI, chargeRefundedEarly: kept(PI) });
      expect(decide({ trip: since, record: record(status) }, paid()).rule).toBe('paid-record-kept-partial-refund');
    }
  });

  it('leaves another payment’s kept partial refund, and a trip waiting with no record, to their own rows', () => {
    expect(decide({ trip: trip('booked', { paymentId: PI, chargeRefundedEarly: kept('pi_other') }), record: record('booked') }, paid()).rule).toBe(
      'paid-record-booked',
    );
    expect(decide({ trip: trip('pending_payment', { chargeRefundedEarly: kept(PI) }) }, paid()).rule).toBe('paid-matching');
    expect(
      decide({ trip: trip('booked', { paymentId: PI, chargeRefundedEarly: kept(PI) }), record: record('booked', { tripId: 'trip-claimed' }) }, paid()).rule,
    ).toBe('paid-record-other-trip');
  });
});

describe('decide, a payment create-booking booked at its trip’s price, then its own session', () => {
  const booked = trip('booked', { paymentId: PI });
  const discounted = paid({ amount: 8_000, amountDiscount: 1_000 });

  it.each(['booked', 'cancelled', 'refunded', 'needs_attention', 'resolved'] as const)(
    'takes up a %s record without a session that the session says was charged less, or in another currency',
    (status) => {
      const since = status === 'booked' ? booked : trip(status === 'needs_attention' || status === 'resolved' ? 'booked' : status, { paymentId: PI });
      expect(decide({ trip: since, record: record(status) }, discounted).rule).toBe('paid-record-charged-otherwise');
      expect(decide({ trip: since, record: record(status) }, paid({ currency: 'usd' })).rule).toBe('paid-record-charged-otherwise');
    },
  );

  it('leaves a record written with its session, one charged the price, and one of a trip this payment did not book as they were', () => {
    expect(decide({ trip: booked, record: record('booked', { sessionId: 'cs_1', amountPaid: 8_000 }) }, discounted).rule).toBe('paid-record-booked');
    expect(decide({ trip: booked, record: record('booked') }, paid()).rule).toBe('paid-record-booked');
    expect(decide({ trip: trip('booked', { paymentId: 'pi_other' }), record: record('booked') }, discounted).rule).toBe('paid-record-booked');
    expect(decide({ record: record('cancelled') }, discounted).rule).toBe('paid-record-closed');
    // Not a confirmation's (it names why it was written: of the format before versions, its currency unknown, say).
    const refundPending = trip('refund_pending', { paymentId: PI });
    expect(decide({ trip: refundPending, record: record('refund_pending', { reason: 'SLOT_BLOCKED' }) }, paid({ currency: 'usd' })).rule).toBe(
      'paid-record-refund-pending',
    );
  });

  it('reads the record of a trip this payment booked only when the session charged other than the trip’s price', () => {
    expect(bookedAtItsPrice(booked, paid())).toBe(true);
    expect(bookedAtItsPrice(booked, discounted)).toBe(false);
    expect(bookedAtItsPrice(booked, paid({ currency: 'USD' }))).toBe(false);
    expect(bookedAtItsPrice(booked, paid({ paymentId: 'pi_other' }))).toBe(false);
  });
});

describe('decide, a payment create-booking claimed for another trip', () => {
  const claimed = (status: PaymentRecord['status'], extra: Partial<PaymentRecord> = {}) => record(status, { tripId: 'trip-claimed', ...extra });
  const raised = { paidForTripId: 'trip-1' };

  it.each(['booked', 'refunded', 'cancelled', 'refund_pending', 'needs_attention', 'resolved'] as const)(
    'puts a %s record of it in front of a person when its session is paid (a person may have resolved it never having seen the claim)',
    (status) => {
      expect(decide({ trip: trip('pending_payment'), record: claimed(status) }, paid()).rule).toBe('paid-record-other-trip');
    },
  );

  it('raises the claim once: a record that kept it is answered as its status says', () => {
    expect(decide({ trip: trip('pending_payment'), record: claimed('resolved', raised) }, paid()).rule).toBe('paid-record-closed');
    expect(decide({ trip: trip('pending_payment'), record: claimed('needs_attention', raised) }, paid()).rule).toBe('paid-record-needs-attention');
  });

  it('records a full refund of it without releasing the trip create-booking booked with it, whatever its attention says since', () => {
    const booked = trip('booked', { tripId: 'trip-claimed', paymentId: PI });
    for (const status of ['needs_attention', 'resolved', 'booked'] as const) {
      expect(decide({ trip: booked, record: claimed(status, raised) }, charge()).rule).not.toBe('full-refund-booked');
    }
  });
});

describe('decide', () => {
  it.each(rows)('$rule → $step', ({ rule, state, event, step, outcome, reason }) => {
    const decision = decide(state, event);

    expect(decision.rule).toBe(rule);
    expect(decision.plan.step).toBe(step);
    if (outcome !== undefined) expect(decision.plan).toMatchObject({ outcome });
    if (reason !== undefined) expect(decision.plan).toMatchObject({ reason });
  });

  it('lists exactly the rules of the table in docs/payment-flow.md, in its order', () => {
    const doc = readFileSync(new URL('../../docs/payment-flow.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Decisions'), doc.indexOf('When the confirmation (`paid-matching`) is refused'));
    const documented = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((match) => match[1]);

    expect(documented).toEqual(rows.map((row) => row.rule));
  });

  it.each([
    { name: 'a discount Stripe applied to the trip’s price', facts: { amount: 6_000, amountSubtotal: 9_000, amountDiscount: 3_000 }, step: 'confirm' },
    { name: 'a 100 % coupon', facts: { amount: 0, amountSubtotal: 9_000, amountDiscount: 9_000, paymentId: undefined as unknown as string }, step: 'confirm' },
    { name: 'a total that is not the price less the discount', facts: { amount: 1_000, amountSubtotal: 9_000, amountDiscount: 3_000 }, step: 'set-aside' },
    { name: 'a discounted price that is not the trip’s', facts: { amount: 6_000, amountSubtotal: 6_000, amountDiscount: 0 }, step: 'set-aside' },
  ])('books or sets aside by the price before discounts: $name → $step', ({ facts, step }) => {
    expect(decide({ trip: trip('pending_payment') }, paid(facts)).plan.step).toBe(step);
  });

  it('ends a waiting trip on the expiry of its own session, whose end Stripe gives in whole seconds, and not on that of an earlier attempt’s', () => {
    const heldUntil = '2026-11-20T11:00:00.500Z';
    const waiting = { trip: withoutPage(trip('pending_payment', { holdExpiresAt: heldUntil })) };
    const endingAt = (iso: string) => ({ ...ended('expired'), sessionExpiresAt: Math.floor(Date.parse(iso) / 1000) });

    expect(decide(waiting, endingAt('2026-11-20T10:55:00.500Z')).rule).toBe('checkout-ended-waiting');
    expect(decide(waiting, endingAt('2026-11-20T10:53:59.000Z')).rule).toBe('checkout-expired-superseded');
    expect(decide(waiting, ended('expired')).rule).toBe('checkout-ended-waiting');
    expect(decide(waiting, { ...endingAt('2026-11-20T10:20:00.000Z'), to: 'payment_failed' }).rule).toBe('checkout-ended-waiting');
    // A page recorded is the trip's, whatever hold it was made for (one recorded by an attempt that began before a renewal).
    const withItsPage = { trip: trip('pending_payment', { holdExpiresAt: heldUntil }) };
    expect(decide(withItsPage, endingAt('2026-11-20T10:20:00.000Z')).rule).toBe('checkout-ended-waiting');
  });

  it('takes a full total older than the partial total its trip keeps of the payment for an old snapshot, whoever booked the trip', () => {
    const kept = { chargeRefundedEarly: [{ paymentId: PI, amount: 3_000, asOf: 1_800_000_104 }] };
    const older = { ...charge(), occurredAt: 1_800_000_100 };
    const sameSecond = { ...charge(), occurredAt: 1_800_000_104 };
    // No record, the trip waiting or booked before payment records existed: nothing moves.
    expect(decide({ trip: trip('pending_payment', kept) }, older).rule).toBe('full-refund-unconfirmed-superseded');
    expect(decide({ trip: trip('booked', { paymentId: PI, ...kept }) }, older).rule).toBe('full-refund-unconfirmed-superseded');
    // A record create-booking wrote, not told the kept total yet: nothing released, a person looks.
    for (const status of ['booked', 'needs_attention'] as const) {
      expect(decide({ trip: trip('booked', { paymentId: PI, ...kept }), record: record(status) }, older).plan).toMatchObject({
        step: 'attention',
        reason: 'full_refund_stale',
      });
    }
    // Of the same second, it may be the newer: decided as before.
    expect(decide({ trip: trip('pending_payment', kept) }, sameSecond).rule).toBe('full-refund-unconfirmed');
    expect(decide({ trip: trip('booked', { paymentId: PI, ...kept }), record: record('booked') }, sameSecond).rule).toBe('full-refund-booked');
  });

  it('never releases or settles on a full total that may count a refund failed since: before the total held, or until a failure learned by a lookup', () => {
    const failedAtStripe = { chargeRefunded: 0, chargeRefundedAsOf: 1_800_000_101 };
    const lookedUp = { refunds: [{ ...refund('failed'), failedNoLaterThan: 1_800_000_100 }] };
    const decided = (status: 'booked' | 'cancelled' | 'refund_pending' | 'needs_attention', fields: Partial<PaymentRecord>, occurredAt: number) =>
      decide(
        { trip: trip(status === 'booked' || status === 'needs_attention' ? 'booked' : 'cancelled', { paymentId: PI }), record: record(status, fields) },
        { ...charge(), occurredAt },
      );

    for (const status of ['booked', 'cancelled', 'refund_pending'] as const) {
      expect(decided(status, failedAtStripe, 1_800_000_100).plan).toEqual({ step: 'attention', reason: 'full_refund_stale' });
      expect(decided(status, lookedUp, 1_800_000_100).plan).toEqual({ step: 'attention', reason: 'full_refund_stale' });
    }
    expect(decided('needs_attention', lookedUp, 1_800_000_100)).toEqual({
      rule: 'full-refund-needs-attention',
      plan: { step: 'record-charge-total', outcome: 'refund_recorded' },
    });
    // Taken after: Stripe's total no longer counts the failed refund, so the whole charge is back.
    expect(decided('booked', failedAtStripe, 1_800_000_101).plan).toEqual({ step: 'release' });
    expect(decided('needs_attention', lookedUp, 1_800_000_101).plan).toEqual({ step: 'release' });
    expect(decided('cancelled', lookedUp, 1_800_000_101).plan).toMatchObject({ step: 'settle-refunded' });
  });

  it('dates a failure learned without its time by refund.failed or the refund.updated of the change itself, never by a later update', () => {
    const lookedUp = record('needs_attention', { refunds: [{ ...refund('failed'), failedNoLaterThan: 1_800_000_100 }] });
    const at = (event: RefundChanged) => decide({ record: lookedUp }, { ...event, occurredAt: 1_800_000_050 }).rule;

    expect(at({ ...refundEvent('failed'), eventType: 'refund.failed' })).toBe('refund-event-dates-failure');
    expect(at({ ...refundEvent('failed'), statusChanged: true })).toBe('refund-event-dates-failure');
    expect(at({ ...refundEvent('canceled'), statusChanged: true })).toBe('refund-event-dates-failure');
    expect(at(refundEvent('failed'))).toBe('refund-event-stale');
  });

  it('moves a refund superseded before Stripe named it to the state of the refund Stripe names under its key, and no further', () => {
    const { stripeRefundId: _unnamed, ...superseded } = { ...refund('superseded'), failureCode: 'charge_refunded' };
    const settled = (entry: RefundEntry) => decide({ record: record('refunded', { refunds: [entry] }) }, refundEvent('succeeded')).rule;

    expect(settled(superseded)).toBe('refund-event-moves-refund');
    expect(decide({ record: record('refunded', { refunds: [superseded] }) }, refundEvent('pending')).rule).toBe('refund-event-moves-refund');
    // Named already (the answer came first), or superseded under Stripe's id: only a failure moves it on.
    expect(settled({ ...superseded, stripeRefundId: 're_1' })).toBe('refund-event-stale');
    expect(decide({ record: record('refunded', { refunds: [{ ...superseded, stripeRefundId: 're_1' }] }) }, refundEvent('failed')).rule).toBe(
      'refund-event-moves-refund',
    );
  });

  it('finds a refund made in the Dashboard by Stripe’s id, and one recorded before its id was kept by its key', () => {
    const named = { ...refund('pending'), refundKey: 'stripe-re_dash', stripeRefundId: 're_dash', requestedBy: 'stripe' as const };
    const { stripeRefundId: _dropped, ...unnamed } = named;

    for (const entry of [named, unnamed]) {
      expect(decide({ record: record('booked', { refunds: [entry] }) }, refundEvent('succeeded', 're_dash')).rule).toBe('refund-event-moves-refund');
      expect(decide({ record: record('booked', { refunds: [entry] }) }, refundEvent('pending', 're_dash')).rule).toBe('refund-event-stale');
    }
    expect(decide({ record: record('booked', { refunds: [named] }) }, refundEvent('succeeded', 're_other')).rule).toBe('refund-event-outside-refund');
  });

  it('releases a trip still booked by a fully refunded payment even while a person looks at a refused share refund', () => {
    const looking = record('needs_attention', { attention: { reason: 'refund_refused', code: 'charge_disputed', since: AT, previousStatus: 'booked' } });
    expect(decide({ trip: trip('booked', { paymentId: PI }), record: looking }, charge())).toEqual({ rule: 'full-refund-booked', plan: { step: 'release' } });
  });

  it('never refunds a paid session without a PaymentIntent, and sets aside a free one with nothing to refund', () => {
    expect(decide({}, paid({ paymentId: undefined as unknown as string, amount: 9_000 })).plan).toEqual({ step: 'attention', reason: 'no_payment_intent' });
    expect(decide({}, paid({ paymentId: undefined as unknown as string, amount: 0 })).plan).toEqual({ step: 'set-aside', reason: 'unknown_trip' });
  });
});
