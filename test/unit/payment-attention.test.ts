// A payment in front of a person: every reason kept, once each, a retry settling only the refunds it asks for again, and a
// resolution closing only what the person had before them.
import { describe, expect, it } from 'vitest';
import type { PaymentRecord } from '../../lambdas/shared/domain/model';
import { afterRetry, attentionSeen, newPaymentRecord, refundEntry, resolvedAsSeen, withAttention } from '../../lambdas/shared/domain/payment-ledger';
import { paymentRecordItem } from '../../lambdas/shared/dynamodb/items';
import { fromItem } from '../../lambdas/shared/dynamodb/stored-items';

const AT = '2027-03-01T10:00:00.000Z';
const LATER = '2027-03-02T10:00:00.000Z';

const cancelled: PaymentRecord = newPaymentRecord(
  { paymentId: 'pi_attention', status: 'cancelled', tripId: 'trip-1', setAside: false, amountPaid: 9_000, currency: 'eur' },
  AT,
);

describe('withAttention', () => {
  it('puts a payment in front of a person, remembering where it was', () => {
    expect(withAttention(cancelled, 'refund_failed', AT, 'expired_or_canceled_card')).toMatchObject({
      status: 'needs_attention',
      attention: { reason: 'refund_failed', code: 'expired_or_canceled_card', since: AT, previousStatus: 'cancelled' },
    });
  });

  it('adds a new reason to a payment already in front of a person, once, and keeps the first', () => {
    const failed = withAttention(cancelled, 'refund_failed', AT, 'expired_or_canceled_card');
    const both = withAttention(failed, 'share_unknown', LATER);

    expect(both.attention).toEqual({
      reason: 'refund_failed',
      code: 'expired_or_canceled_card',
      since: AT,
      previousStatus: 'cancelled',
      more: [{ reason: 'share_unknown', since: LATER }],
    });
    expect(withAttention(both, 'share_unknown', LATER)).toBe(both);
    expect(withAttention(both, 'refund_failed', LATER, 'expired_or_canceled_card')).toBe(both);
  });

  it('marks a recurring reason found again (another booking’s share), first or among the others, and adds nothing', () => {
    const AGAIN = '2027-03-04T10:00:00.000Z';
    const unknownFirst = withAttention(cancelled, 'share_unknown', AT, undefined, true);
    const unknownLater = withAttention(withAttention(cancelled, 'refund_failed', AT, 'x'), 'share_unknown', LATER, undefined, true);

    expect(withAttention(unknownFirst, 'share_unknown', AGAIN, undefined, true).attention).toEqual({
      reason: 'share_unknown',
      since: AT,
      again: AGAIN,
      previousStatus: 'cancelled',
    });
    expect(withAttention(unknownLater, 'share_unknown', AGAIN, undefined, true).attention?.more).toEqual([
      { reason: 'share_unknown', since: LATER, again: AGAIN },
    ]);
  });
});

describe('afterRetry', () => {
  it('takes the payment back where it was when a retry settles every reason', () => {
    const refused = withAttention(withAttention(cancelled, 'refund_refused', AT, 'charge_disputed'), 'refund_failed', LATER, 'lost_or_stolen_card');
    const retried = afterRetry(refused);

    expect(retried.status).toBe('cancelled');
    expect(retried.attention).toBeUndefined();
  });

  it('keeps in front of a person what a retry does not settle, whichever reason came first', () => {
    const unknownFirst = afterRetry(withAttention(withAttention(cancelled, 'share_unknown', AT), 'refund_failed', LATER, 'x'));
    const unknownLater = afterRetry(withAttention(withAttention(cancelled, 'refund_failed', AT, 'x'), 'share_unknown', LATER));

    for (const retried of [unknownFirst, unknownLater]) {
      expect(retried.status).toBe('needs_attention');
      expect(retried.attention).toMatchObject({ reason: 'share_unknown', previousStatus: 'cancelled' });
      expect(retried.attention?.more).toBeUndefined();
    }
  });

  it('survives the table: every reason reads back as written', () => {
    const both = withAttention(withAttention(cancelled, 'refund_failed', AT, 'x'), 'share_unknown', LATER);
    expect(fromItem.paymentRecord(paymentRecordItem(both) as never).attention).toEqual(both.attention);
  });
});

describe('resolvedAsSeen', () => {
  const RESOLVED_AT = '2027-03-03T10:00:00.000Z';
  const failedShare = (key: string, code: string, at: string) => ({
    ...refundEntry({ refundKey: key, amount: 4_500, requestedBy: 'operator', reason: 'guide ill' }, AT),
    status: 'failed' as const,
    failureCode: code,
    updatedAt: at,
  });
  const oneFailed = withAttention({ ...cancelled, refunds: [failedShare('refund-a', 'charge_disputed', AT)] }, 'refund_refused', AT, 'charge_disputed');

  it('closes what was seen and resolves the payment when nothing came since', () => {
    const { record: resolved } = resolvedAsSeen(oneFailed, attentionSeen(oneFailed), RESOLVED_AT);

    expect(resolved.status).toBe('resolved');
    expect(resolved.refunds.map((entry) => entry.resolvedAt)).toEqual([RESOLVED_AT]);
  });

  it('leaves a new reason open, the payment in front of a person for it alone, as if it came after the resolution', () => {
    const seen = attentionSeen(oneFailed);
    const meanwhile = withAttention(oneFailed, 'share_unknown', LATER);

    const { record: resolved } = resolvedAsSeen(meanwhile, seen, RESOLVED_AT);

    expect(resolved.status).toBe('needs_attention');
    expect(resolved.attention).toEqual({ reason: 'share_unknown', since: LATER, previousStatus: 'resolved' });
    expect(resolved.refunds.map((entry) => entry.resolvedAt)).toEqual([RESOLVED_AT]);
  });

  it('leaves open a recurring reason found again since it was read', () => {
    const unknown = withAttention(cancelled, 'share_unknown', AT, undefined, true);
    const seen = attentionSeen(unknown);

    const { record: resolved, closed } = resolvedAsSeen(withAttention(unknown, 'share_unknown', LATER, undefined, true), seen, RESOLVED_AT);

    // Closed as read; left open as found again, dated from then.
    expect(resolved.status).toBe('needs_attention');
    expect(resolved.attention).toEqual({ reason: 'share_unknown', since: LATER, previousStatus: 'resolved' });
    expect(closed.reasons).toEqual([{ reason: 'share_unknown', since: AT, previousStatus: 'cancelled' }]);
  });

  it('names a failure without a code of Stripe’s (canceled) after a refund reason of its state, never another reason', () => {
    const { failureCode: _none, ...withoutCode } = failedShare('refund-c', 'canceled', LATER);
    const canceledShare = { ...withoutCode, status: 'canceled' as const };
    const both = withAttention(withAttention(cancelled, 'share_unknown', AT, undefined, true), 'refund_failed', AT, 'canceled');
    const seen = attentionSeen(both);

    const { record: resolved, closed } = resolvedAsSeen({ ...both, refunds: [canceledShare] }, seen, RESOLVED_AT);

    expect(resolved.attention).toEqual({ reason: 'refund_failed', code: 'canceled', since: LATER, previousStatus: 'resolved' });
    expect(closed.reasons.map((reason) => reason.reason)).toEqual(['share_unknown', 'refund_failed']);
  });

  it('leaves a refund that failed since open, even when its reason and code were already there (named after them)', () => {
    const seen = attentionSeen(oneFailed);
    // A second share refused with the same code: withAttention adds no reason of its own.
    const meanwhile = withAttention(
      { ...oneFailed, refunds: [...oneFailed.refunds, failedShare('refund-b', 'charge_disputed', LATER)] },
      'refund_refused',
      LATER,
      'charge_disputed',
    );
    expect(meanwhile.attention?.more).toBeUndefined();

    const { record: resolved } = resolvedAsSeen(meanwhile, seen, RESOLVED_AT);

    expect(resolved.status).toBe('needs_attention');
    expect(resolved.attention).toEqual({ reason: 'refund_refused', code: 'charge_disputed', since: LATER, previousStatus: 'resolved' });
    expect(resolved.refunds.map((entry) => [entry.refundKey, entry.resolvedAt])).toEqual([
      ['refund-a', RESOLVED_AT],
      ['refund-b', undefined],
    ]);
  });
});
