// Stripe's total for a charge against our refunds: a refund that fails comes off the total only when the total counted it.
import { describe, expect, it } from 'vitest';
import type { PaymentRecord, RefundEntry } from '../../lambdas/shared/domain/model';
import {
  applyRefundAnswer,
  chargeTotalInDoubt,
  moveRefund,
  newPaymentRecord,
  nextEarlyChargeTotal,
  nextEarlyChargeTotals,
  refundableAmount,
  refundedOutside,
  refundedOutsideAtMost,
  refundEntry,
  surelyRefundable,
  withChargeTotal,
} from '../../lambdas/shared/domain/payment-ledger';

const AT = '2027-03-01T10:00:00.000Z';

const refund = (refundKey: string, fields: Partial<RefundEntry> = {}): RefundEntry => ({
  ...refundEntry({ refundKey, amount: 4_500, requestedBy: 'operator', reason: 'guide ill' }, AT),
  ...fields,
});

const paid = (fields: Partial<PaymentRecord> = {}): PaymentRecord => ({
  ...newPaymentRecord({ paymentId: 'pi_total', status: 'booked', tripId: 'trip-1', setAside: false, amountPaid: 9_000, currency: 'eur' }, AT),
  ...fields,
});

describe('a refund failing against the total held', () => {
  it('comes off a total taken after Stripe created it, and not off one taken before (a refund made in the Dashboard)', () => {
    const record = paid({ refunds: [refund('a', { status: 'pending', providerCreated: 1_000 })] });

    const after = moveRefund(withChargeTotal(record, 6_500, 1_500), 'a', 'failed', AT, { asOf: 2_000 }).record;
    const before = moveRefund(withChargeTotal(record, 2_000, 900), 'a', 'failed', AT, { asOf: 2_000 }).record;

    expect(after.chargeRefunded).toBe(2_000);
    expect(before.chargeRefunded).toBe(2_000);
  });

  it('comes off a total said without a time (the charge refunded in full), and a refund created after that failure does not', () => {
    const record = paid({ refunds: [refund('a', { status: 'pending', providerCreated: 1_000 }), refund('b')] });
    const fullyRefunded = applyRefundAnswer(record, 'b', { kind: 'already_refunded' }, AT).record;
    const aFailed = moveRefund(fullyRefunded, 'a', 'failed', AT, { asOf: 2_000 }).record;
    const retried = { ...aFailed, refunds: [...aFailed.refunds, refund('a-retry', { status: 'pending', providerCreated: 3_000 })] };
    const retryFailed = moveRefund(retried, 'a-retry', 'failed', AT, { asOf: 4_000 }).record;

    expect(fullyRefunded.chargeRefunded).toBe(9_000);
    expect(aFailed.chargeRefunded).toBe(4_500);
    expect(retryFailed.chargeRefunded).toBe(4_500);
  });

  it('stays counted on a record stored before the total’s own time was kept, and a refund of unknown creation comes off', () => {
    const stored = paid({ chargeRefunded: 2_000, chargeRefundedAsOf: 5_000, refunds: [refund('a', { status: 'pending' })] });

    const known = moveRefund(stored, 'a', 'failed', AT, { asOf: 6_000, providerCreated: 4_000 }).record;
    const unknown = moveRefund(stored, 'a', 'failed', AT, { asOf: 6_000 }).record;

    expect(known.chargeRefunded).toBe(2_000);
    expect(unknown.chargeRefunded).toBe(0);
  });

  it('stays counted in a total taken after the failure, whichever arrives first (a refund made in the Dashboard since)', () => {
    // a, created at 1_000, fails at 1_500; a person then pays it back by hand: the total of 1_600 says 45.00.
    const pending = paid({ refunds: [refund('a', { status: 'pending', providerCreated: 1_000 })] });
    const ownTotal = withChargeTotal(pending, 4_500, 1_000);

    const inOrder = withChargeTotal(moveRefund(ownTotal, 'a', 'failed', AT, { asOf: 1_500 }).record, 4_500, 1_600);
    const outOfOrder = moveRefund(withChargeTotal(ownTotal, 4_500, 1_600), 'a', 'failed', AT, { asOf: 1_500 }).record;

    for (const record of [inOrder, outOfOrder]) {
      expect(record.chargeRefunded).toBe(4_500);
      expect(refundedOutside(record)).toBe(4_500);
    }
  });

  it('stays counted in a total taken after Stripe created it when the failure is learned without a time (a lookup)', () => {
    const handTotal = withChargeTotal(paid({ refunds: [refund('a')] }), 4_500, 1_600);

    const found = applyRefundAnswer(handTotal, 'a', { kind: 'created', refundId: 're_a', status: 'failed', created: 1_000 }, AT).record;

    expect(found.chargeRefunded).toBe(4_500);
  });

  it('keeps when a failure learned without a time was learned, as the latest it can have happened; a failure reported by Stripe or a refusal keeps none', () => {
    const record = paid({ refunds: [refund('a', { status: 'pending', providerCreated: 1_000 }), refund('b'), refund('c')] });
    const learnedAt = Date.parse(AT) / 1000;

    const lookedUp = applyRefundAnswer(record, 'a', { kind: 'created', refundId: 're_a', status: 'failed', created: 1_000 }, AT).record;
    const reported = moveRefund(record, 'b', 'failed', AT, { asOf: 2_000 }).record;
    const refused = applyRefundAnswer(record, 'c', { kind: 'refused', code: 'charge_disputed', message: 'disputed' }, AT).record;

    expect(lookedUp.refunds[0]?.failedNoLaterThan).toBe(learnedAt);
    expect(reported.refunds[1]?.failedNoLaterThan).toBeUndefined();
    expect(reported.chargeRefundedAsOf).toBe(2_001);
    expect(refused.refunds[2]?.failedNoLaterThan).toBeUndefined();
  });

  it('comes off a total it was left in once Stripe’s event tells when the failure happened, and only one taken no later', () => {
    // Created at 1,000; failed, learned by a lookup (no time); Stripe's event then says it failed at 2,000.
    const lookedUp = (takenAt: number) =>
      applyRefundAnswer(
        withChargeTotal(paid({ refunds: [refund('a')] }), 9_000, takenAt),
        'a',
        { kind: 'created', refundId: 're_a', status: 'failed', created: 1_000 },
        AT,
      ).record;
    const counted = lookedUp(1_600);
    const takenAfter = lookedUp(2_500);
    expect(counted.chargeRefunded).toBe(9_000);

    const dated = moveRefund(counted, 'a', 'failed', AT, { asOf: 2_000, failureEvent: true });
    const datedAfter = moveRefund(takenAfter, 'a', 'failed', AT, { asOf: 2_000, failureEvent: true });

    expect(dated.record.chargeRefunded).toBe(4_500);
    expect(dated.record.amountRefunded).toBe(4_500);
    expect(dated.record.refunds[0]?.failedNoLaterThan).toBeUndefined();
    expect(dated.record.chargeRefundedAsOf).toBe(2_001);
    expect(dated.audit?.eventType).toBe('payment.refund_failure_dated');
    expect(dated.attention).toBe(false);
    expect(datedAfter.record.chargeRefunded).toBe(9_000);
    // Told again, there is nothing left to date.
    expect(moveRefund(dated.record, 'a', 'failed', AT, { asOf: 2_000, failureEvent: true }).record).toBe(dated.record);
    // Any other event of the refund (a refund.updated, a later update of it) dates nothing.
    expect(moveRefund(counted, 'a', 'failed', AT, { asOf: 2_000 }).record).toBe(counted);
  });

  it('is dated no later than the answer that showed it: an event created after that (a later update) takes off no total of since', () => {
    const lookedUp = applyRefundAnswer(
      paid({ refunds: [refund('a')] }),
      'a',
      { kind: 'created', refundId: 're_a', status: 'failed', created: 1_000, answeredAt: 1_300 },
      AT,
    ).record;
    // 45.00 paid back in the Dashboard since, in a total of 1,500.
    const handTotal = withChargeTotal(lookedUp, 4_500, 1_500);

    const dated = moveRefund(handTotal, 'a', 'failed', AT, { asOf: 1_600, failureEvent: true }).record;

    expect(dated).toBe(handTotal);
  });

  it('comes off a total said without a time once, even after another failure reported with its time dates that total', () => {
    // Three shares; A and B pending at Stripe (created at 1,000), 45.00 refunded in the Dashboard: Stripe says the charge is
    // refunded in full when the third is asked for. A lookup at 1,100 finds A failed; B's refund.failed (1,050) comes, then A's (1,060).
    const record = paid({
      amountPaid: 13_500,
      refunds: [refund('a', { status: 'pending', providerCreated: 1_000 }), refund('b', { status: 'pending', providerCreated: 1_000 }), refund('c')],
    });
    const full = applyRefundAnswer(record, 'c', { kind: 'already_refunded' }, AT).record;
    const aLooked = moveRefund(full, 'a', 'failed', AT, { knownBy: 1_100 }).record;
    const bFailed = moveRefund(aLooked, 'b', 'failed', AT, { asOf: 1_050, failureEvent: true }).record;

    const dated = moveRefund(bFailed, 'a', 'failed', AT, { asOf: 1_060, failureEvent: true }).record;

    expect([full.chargeRefunded, aLooked.chargeRefunded, bFailed.chargeRefunded]).toEqual([13_500, 9_000, 4_500]);
    expect(chargeTotalInDoubt(bFailed)).toBe(false);
    expect(dated.chargeRefunded).toBe(4_500);
    expect(refundableAmount(dated)).toBe(9_000);
  });

  it('comes off the total of its creation’s second once: at the lookup that held it, or when dated if it came after', () => {
    const answer = { kind: 'created', refundId: 're_a', status: 'failed', created: 1_000, answeredAt: 1_300 } as const;
    const heldFirst = applyRefundAnswer(withChargeTotal(paid({ refunds: [refund('a')] }), 4_500, 1_000), 'a', answer, AT).record;
    const cameAfter = withChargeTotal(applyRefundAnswer(paid({ refunds: [refund('a')] }), 'a', answer, AT).record, 4_500, 1_000);

    expect(heldFirst).toMatchObject({ chargeRefunded: 0, refunds: [{ offTotalTakenAt: 1_000 }] });
    expect(cameAfter.chargeRefunded).toBe(4_500);
    expect(moveRefund(heldFirst, 'a', 'failed', AT, { asOf: 1_200, failureEvent: true }).record.chargeRefunded).toBe(0);
    expect(moveRefund(cameAfter, 'a', 'failed', AT, { asOf: 1_200, failureEvent: true }).record.chargeRefunded).toBe(0);
  });
});

describe('what may still be refunded, against the total held', () => {
  // Stripe's total of 45.00 at second 1_000; one of our refunds of 45.00 under way.
  const withOurs = (fields: Partial<RefundEntry>) => withChargeTotal(paid({ refunds: [refund('ours', { status: 'pending', ...fields })] }), 4_500, 1_000);

  it('adds a total taken before Stripe created our refund to it: that total is other money (a refund made in the Dashboard)', () => {
    const record = withOurs({ providerCreated: 1_001 });

    expect(refundableAmount(record)).toBe(0);
    expect(refundedOutside(record)).toBe(4_500);
  });

  it('compares it with a refund the total may count: created the same second or before, or of unknown creation', () => {
    for (const fields of [{ providerCreated: 1_000 }, { providerCreated: 900 }, {}]) {
      expect(refundableAmount(withOurs(fields))).toBe(4_500);
      expect(refundedOutside(withOurs(fields))).toBe(0);
    }
  });

  it('reads a refund of unknown creation as money beside the total at most, and one the total surely counts as in it', () => {
    // Unknown creation (still requested: made with its answer lost, or not made yet): the total may be it, or other money.
    expect({ outside: refundedOutsideAtMost(withOurs({})), left: surelyRefundable(withOurs({})) }).toEqual({ outside: 4_500, left: 0 });
    // Created before the total was taken: it is in it, nothing else is.
    const counted = withOurs({ providerCreated: 900 });
    expect({ outside: refundedOutsideAtMost(counted), left: surelyRefundable(counted) }).toEqual({ outside: 0, left: 4_500 });
    // Created after: the total is other money, as refundedOutside says too.
    const after = withOurs({ providerCreated: 1_001 });
    expect({ outside: refundedOutsideAtMost(after), left: surelyRefundable(after) }).toEqual({ outside: 4_500, left: 0 });
  });

  it('compares it with every refund when the total was said without a time, or stored before its time was kept', () => {
    const record = paid({ refunds: [refund('ours', { status: 'pending', providerCreated: 1_001 }), refund('b')] });
    const saidWithoutTime = applyRefundAnswer(record, 'b', { kind: 'already_refunded' }, AT).record;
    const storedBefore = paid({ chargeRefunded: 4_500, refunds: [refund('ours', { status: 'pending', providerCreated: 1_001 })] });

    expect(refundableAmount(saidWithoutTime)).toBe(0);
    expect(refundedOutside(saidWithoutTime)).toBe(4_500);
    expect(refundableAmount(storedBefore)).toBe(4_500);
  });
});

describe('a total taken before a failure Stripe reported with its time, arriving after it', () => {
  // Our refund of 45.00, created at 1_000 and failed at 2_000 (its event held first); no total held yet, or one of 500.
  const failedAt2000 = (held?: { readonly total: number; readonly at: number }) => {
    const base = paid({ refunds: [refund('ours', { status: 'pending', stripeRefundId: 're_ours', providerCreated: 1_000 })] });
    const withHeld = held ? withChargeTotal(base, held.total, held.at) : base;
    return moveRefund(withHeld, 'ours', 'failed', AT, { asOf: 2_000 }).record;
  };

  it('is believed when newer than the total held, less the failed refunds it counted (created by then, failed after it)', () => {
    expect(failedAt2000().refunds[0]).toMatchObject({ failedAt: 2_000 });
    expect(withChargeTotal(failedAt2000(), 6_500, 1_500)).toMatchObject({ chargeRefunded: 2_000, chargeRefundedTakenAt: 1_500, chargeRefundedAsOf: 2_001 });
    expect(withChargeTotal(failedAt2000({ total: 2_000, at: 500 }), 6_500, 1_500)).toMatchObject({ chargeRefunded: 2_000 });
    // Taken before the refund existed, it never counted it.
    expect(withChargeTotal(failedAt2000(), 2_000, 900)).toMatchObject({ chargeRefunded: 2_000, chargeRefundedTakenAt: 900 });
  });

  it('takes off every failed refund it may count, whether it did or not, and keeps what is surely back', () => {
    const none = failedAt2000();
    // Of the failure's second, of the refund's creation second, stored without the failure's time or its creation.
    expect(withChargeTotal(none, 6_500, 2_000)).toMatchObject({ chargeRefunded: 2_000, chargeRefundedTakenAt: 2_000 });
    expect(withChargeTotal(none, 6_500, 1_000)).toMatchObject({ chargeRefunded: 2_000 });
    const stored = { ...none, refunds: none.refunds.map(({ failedAt: _unknown, ...entry }) => entry) };
    expect(withChargeTotal(stored, 6_500, 1_500)).toMatchObject({ chargeRefunded: 2_000 });
    const unknownCreation = { ...none, refunds: none.refunds.map(({ providerCreated: _unknown, ...entry }) => entry) };
    expect(withChargeTotal(unknownCreation, 6_500, 1_500)).toMatchObject({ chargeRefunded: 2_000 });
  });

  it('replaces the total held only when it says more (of the same second or a later one), never when older', () => {
    const held = failedAt2000({ total: 6_500, at: 1_500 });
    expect(held.chargeRefunded).toBe(2_000);
    expect(withChargeTotal(held, 9_000, 1_500)).toMatchObject({ chargeRefunded: 4_500, chargeRefundedTakenAt: 1_500 });
    expect(withChargeTotal(held, 9_000, 1_600)).toMatchObject({ chargeRefunded: 4_500, chargeRefundedTakenAt: 1_600 });
    expect(withChargeTotal(held, 6_500, 1_600)).toBe(held);
    expect(withChargeTotal(held, 9_000, 1_400)).toBe(held);
  });

  it('marks a failure learned without its time as taken off it, so dating it later takes it off no more', () => {
    // Two refunds of 20.00 created at 1_000: f's failure looked up (no later than 1_800), g's dated by Stripe at 2_000.
    const base = paid({
      refunds: [
        refund('f', { amount: 2_000, status: 'pending', stripeRefundId: 're_f', providerCreated: 1_000 }),
        refund('g', { amount: 2_000, status: 'pending', stripeRefundId: 're_g', providerCreated: 1_000 }),
      ],
    });
    const lookedUp = moveRefund(base, 'f', 'failed', AT, { knownBy: 1_800 }).record;
    const bothFailed = moveRefund(lookedUp, 'g', 'failed', AT, { asOf: 2_000, failureEvent: true }).record;

    // A total of 1_500 (90.00) arrives late: both refunds come off it, f marked.
    const late = withChargeTotal(bothFailed, 9_000, 1_500);
    expect(late).toMatchObject({ chargeRefunded: 5_000, refunds: [{ refundKey: 'f', offTotalTakenAt: 1_500 }, { refundKey: 'g' }] });
    // Stripe's refund.failed of f, at 1_700, finds it already taken off that total.
    const dated = moveRefund(late, 'f', 'failed', AT, { asOf: 1_700, failureEvent: true }).record;
    expect(dated).toMatchObject({ chargeRefunded: 5_000, refunds: [{ refundKey: 'f', failedAt: 1_700 }, { refundKey: 'g' }] });
  });

  it('does not replace the total held with one whose extra is only refunds of ours made since (what is outside stays known)', () => {
    // Paid 225.00. A failed at 1_000; 45.00 paid back by hand, its total (1_020) held; at 1_040 two shares of ours succeed
    // and b is made, failing at 1_060; then Stripe's total of 1_040 (135.00: by hand and the two shares) comes late.
    const start: PaymentRecord = {
      ...newPaymentRecord({ paymentId: 'pi_total', status: 'booked', tripId: 'trip-1', setAside: false, amountPaid: 22_500, currency: 'eur' }, AT),
      refunds: [refund('a', { status: 'pending', stripeRefundId: 're_a', providerCreated: 1_000 })],
    };
    const aFailed = withChargeTotal(moveRefund(start, 'a', 'failed', AT, { asOf: 1_000, failureEvent: true }).record, 4_500, 1_020);
    const made = {
      ...aFailed,
      refunds: [
        ...aFailed.refunds,
        refund('r3', { status: 'succeeded', stripeRefundId: 're_3', providerCreated: 1_040 }),
        refund('r4', { status: 'succeeded', stripeRefundId: 're_4', providerCreated: 1_040 }),
        refund('b', { status: 'pending', stripeRefundId: 're_b', providerCreated: 1_040 }),
      ],
    };
    const bFailed = moveRefund(made, 'b', 'failed', AT, { asOf: 1_060, failureEvent: true }).record;

    const late = withChargeTotal(bFailed, 13_500, 1_040);

    expect(late).toBe(bFailed);
    expect({ outside: refundedOutside(late), refundable: refundableAmount(late) }).toEqual({ outside: 4_500, refundable: 9_000 });
  });

  it('takes a late total against what the total held surely holds, less the failures it may still count', () => {
    // Paid 315.00. f (B) made at 1_000; r0 (A) at 1_020 succeeds; the total of 1_020 (f + r0 = 90.00) is held.
    let rec: PaymentRecord = {
      ...newPaymentRecord({ paymentId: 'pi', status: 'booked', tripId: 't', setAside: false, amountPaid: 31_500, currency: 'eur' }, AT),
      refunds: [
        refund('f', { status: 'pending', stripeRefundId: 're_f', providerCreated: 1_000 }),
        refund('r0', { status: 'succeeded', stripeRefundId: 're_r0', providerCreated: 1_020 }),
      ],
    };
    rec = withChargeTotal(rec, 9_000, 1_020);
    // 1_030: r2 (D) succeeds, g (C) pending; 1_040: 45.00 by hand (for B). Stripe's total at 1_040: 225.00.
    rec = {
      ...rec,
      refunds: [
        ...rec.refunds,
        refund('r2', { status: 'succeeded', stripeRefundId: 're_r2', providerCreated: 1_030 }),
        refund('g', { status: 'pending', stripeRefundId: 're_g', providerCreated: 1_030 }),
      ],
    };
    // g fails at 1_060 (refund.failed at once); f failed at 1_055, learned by a later refund.updated at 1_070 (no time).
    rec = moveRefund(rec, 'g', 'failed', AT, { asOf: 1_060, failureEvent: true }).record;
    rec = moveRefund(rec, 'f', 'failed', AT, { knownBy: 1_070 }).record;
    expect(chargeTotalInDoubt(rec)).toBe(true);
    rec = withChargeTotal(rec, 22_500, 1_040);
    expect(rec).toMatchObject({ chargeRefunded: 13_500, chargeRefundedTakenAt: 1_040 });
    // f's refund.failed (1_055) delivered last.
    rec = moveRefund(rec, 'f', 'failed', AT, { asOf: 1_055, failureEvent: true }).record;
    // True: 45.00 back by hand; ours live r0 + r2. Surely refundable at most 315 - 90 - 45 = 180.
    expect(refundableAmount(rec)).toBeLessThanOrEqual(18_000);
  });

  it('never takes a late total that surely holds nothing over a total held in doubt by more than its extra', () => {
    // Paid 500.00; 5.00 back by hand at 1 (only Stripe's totals tell). f (10.00) made at 5, its failure learned by a lookup
    // at 8; g (20.00) made at 6, failed at 10 (refund.failed). Stripe's totals of 6 and 7: 25.00 (by hand and g).
    const start: PaymentRecord = {
      ...newPaymentRecord({ paymentId: 'pi_total', status: 'booked', tripId: 'trip-1', setAside: false, amountPaid: 50_000, currency: 'eur' }, AT),
      refunds: [
        refund('f', { amount: 1_000, status: 'pending', stripeRefundId: 're_f', providerCreated: 5 }),
        refund('g', { amount: 2_000, status: 'pending', stripeRefundId: 're_g', providerCreated: 6 }),
      ],
    };
    const fLookedUp = moveRefund(withChargeTotal(start, 2_500, 6), 'f', 'failed', AT, { knownBy: 8 }).record;
    const gFailed = moveRefund(fLookedUp, 'g', 'failed', AT, { asOf: 10, failureEvent: true }).record;

    const late = withChargeTotal(gFailed, 2_500, 7);

    expect(late).toBe(gFailed);
    expect(refundableAmount(late)).toBeLessThanOrEqual(49_500);
  });

  it('replaces a total of an earlier second with one of the second after a failure, not keeping the higher as if of one second', () => {
    // Paid 500.00. g (20.00) made at 2 fails at 5; f (10.00) made at 6 fails at 8 (its event first); 5.00 back by hand at
    // 8. Stripe's totals: 20.00 at 4 (g), delivered late; 5.00 at 9 (by hand). Then g's refund.failed of 5.
    const start: PaymentRecord = {
      ...newPaymentRecord({ paymentId: 'pi_total', status: 'booked', tripId: 'trip-1', setAside: false, amountPaid: 50_000, currency: 'eur' }, AT),
      refunds: [
        refund('f', { amount: 1_000, status: 'pending', stripeRefundId: 're_f', providerCreated: 6 }),
        refund('g', { amount: 2_000, status: 'pending', stripeRefundId: 're_g', providerCreated: 2 }),
      ],
    };
    const late = withChargeTotal(moveRefund(start, 'f', 'failed', AT, { asOf: 8, failureEvent: true }).record, 2_000, 4);
    const next = withChargeTotal(late, 500, 9);
    const gFailed = moveRefund(next, 'g', 'failed', AT, { asOf: 5, failureEvent: true }).record;

    expect(next).toMatchObject({ chargeRefunded: 500, chargeRefundedTakenAt: 9 });
    expect(refundableAmount(gFailed)).toBe(49_500);
  });
});

describe('a partial refund seen before the payment had a record, kept on its trip', () => {
  const early = (amount: number, asOf?: number, paymentId = 'pi_total') => ({ paymentId, amount, ...(asOf !== undefined && { asOf }) });

  it('is replaced by a newer total, kept over an older one, and only added to within its second or without a time', () => {
    expect(nextEarlyChargeTotal(undefined, early(3_000, 10))).toEqual(early(3_000, 10));
    expect(nextEarlyChargeTotal(early(3_000, 10), early(2_000, 11))).toEqual(early(2_000, 11));
    expect(nextEarlyChargeTotal(early(3_000, 10), early(4_000, 9))).toBeUndefined();
    expect(nextEarlyChargeTotal(early(3_000, 10), early(4_000, 10))).toEqual(early(4_000, 10));
    expect(nextEarlyChargeTotal(early(3_000, 10), early(3_000, 10))).toBeUndefined();
    expect(nextEarlyChargeTotal(early(3_000, 10), early(4_000))).toEqual(early(4_000, 10));
    expect(nextEarlyChargeTotal(early(3_000), early(2_000, 10))).toBeUndefined();
  });

  it('is kept one per payment: another payment’s is added beside it, and each moves on by its own rule', () => {
    expect(nextEarlyChargeTotals(undefined, early(3_000, 10))).toEqual([early(3_000, 10)]);
    expect(nextEarlyChargeTotals([early(3_000, 10)], early(1_000, 9, 'pi_other'))).toEqual([early(3_000, 10), early(1_000, 9, 'pi_other')]);
    expect(nextEarlyChargeTotals([early(3_000, 10), early(1_000, 9, 'pi_other')], early(2_000, 12))).toEqual([early(1_000, 9, 'pi_other'), early(2_000, 12)]);
    expect(nextEarlyChargeTotals([early(3_000, 10), early(1_000, 9, 'pi_other')], early(500, 8, 'pi_other'))).toBeUndefined();
  });
});
