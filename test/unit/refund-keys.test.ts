// Which refund keys are ours: the refund events that carry one are ours, and another product's metadata of the same name is not.
import { describe, expect, it } from 'vitest';
import { fullRefundKey, isRefundKeyOf, shareRefundKey } from '../../lambdas/shared/domain/payment-ledger';
import { parseStripeEvent } from '../../lambdas/stripe-webhook/stripe-events';
import { stripeEvent } from '../../scripts/dev-kit/stripe-events';

describe('isRefundKeyOf', () => {
  it.each([
    [fullRefundKey('pi_1'), true],
    [shareRefundKey('pi_1', 'PL-ABCDEFGH'), true],
    [`${fullRefundKey('pi_1')}-resumed`, true],
    [`${shareRefundKey('pi_1', 'PL-ABCDEFGH')}-retry-3`, true],
    [fullRefundKey('pi_12'), false],
    [fullRefundKey('pi_2'), false],
    ['their-own-key-1', false],
    ['', false],
  ])('%j is a key of a refund of pi_1: %s', (key, ours) => {
    expect(isRefundKeyOf(key, 'pi_1')).toBe(ours);
  });
});

describe('a refund event whose refund_key is not of our shape', () => {
  const refund = (key: string) => ({ id: 're_1', object: 'refund', payment_intent: 'pi_1', amount: 500, status: 'succeeded', metadata: { refund_key: key } });

  it('is ours only through a payment we hold (asked for by the handler), its key left unread', () => {
    const theirs = parseStripeEvent(stripeEvent('refund.created', refund('their-own-key-1')), 'bookings');
    const ours = parseStripeEvent(stripeEvent('refund.created', refund(shareRefundKey('pi_1', 'PL-ABCDEFGH'))), 'bookings');

    expect(theirs).toMatchObject({ kind: 'handled', event: { kind: 'refund-changed', paymentId: 'pi_1' } });
    expect(theirs.kind === 'handled' && 'refundKey' in theirs.event).toBe(false);
    expect(ours).toMatchObject({ kind: 'handled', event: { refundKey: shareRefundKey('pi_1', 'PL-ABCDEFGH') } });
  });
});
