// The event a returning traveller's session stands for: the webhook's own parser reads it, so a paid session of ours is
// the same payment event its delivery would be, under an id of its own that no Stripe event can have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { paymentEventOfSession, returnEventId } from '../../lambdas/checkout/return-event';
import type { ProviderCheckoutSession } from '../../lambdas/shared/domain/payment-gateway';
import { TABLE_MARK, TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';

/** Stripe's own example session of the pinned API version: a t-shirt in USD, not marked as ours. */
const stripeExample = (): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL('../fixtures/stripe/2026-07-29.dahlia/checkout.session.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function session(object: Record<string, unknown>): ProviderCheckoutSession {
  return { sessionId: object.id as string, object };
}

describe('paymentEventOfSession', () => {
  it('reads a paid session marked as ours as the checkout.session.completed its webhook would carry, under return_<session id>', () => {
    const example = stripeExample();
    const ours = {
      ...example,
      status: 'complete',
      payment_status: 'paid',
      payment_intent: 'pi_3Return0000000000000001',
      amount_total: 9_000,
      amount_subtotal: 9_000,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      currency: 'eur',
      metadata: { [TRIP_MARK]: 'trip-42', userId: 'user-7' },
    };

    expect(paymentEventOfSession(session(ours), 'bookings')).toEqual({
      event: expect.objectContaining({
        kind: 'checkout-completed',
        eventId: `return_${example.id as string}`,
        eventType: 'checkout.session.completed',
        paid: true,
        sessionId: example.id,
        tripId: 'trip-42',
        userId: 'user-7',
        paymentId: 'pi_3Return0000000000000001',
        amount: 9_000,
        currency: 'eur',
      }),
    });
    expect(returnEventId('cs_test_1')).toBe('return_cs_test_1');
  });

  it('acts on no session without our mark, and names what it cannot read in one of ours', () => {
    expect(paymentEventOfSession(session(stripeExample()), 'bookings')).toEqual({ problem: 'not a session to act on (not_ours)' });
    const anotherDeployments = { ...stripeExample(), metadata: { [TRIP_MARK]: 'trip-42', [TABLE_MARK]: 'other-stack-table' } };
    expect(paymentEventOfSession(session(anotherDeployments), 'bookings')).toEqual({ problem: 'not a session to act on (another_table)' });
    const unreadable = { ...stripeExample(), metadata: { [TRIP_MARK]: 'trip-42' }, currency: 'eur', amount_total: -1 };
    expect(paymentEventOfSession(session(unreadable), 'bookings')).toEqual({ problem: expect.stringContaining('amount_total') });
  });
});
