// How a Stripe refund event is read: the refund.updated of a change of state is told apart from a later update of it.
import { describe, expect, it } from 'vitest';
import { refundStatusChange, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { parseStripeEvent } from '../../lambdas/stripe-webhook/stripe-events';

const refund = { id: 're_1', object: 'refund', payment_intent: 'pi_1', amount: 4_500, status: 'failed', metadata: { refund_key: 'refund-pi_1' } };
const parsed = (event: unknown) => {
  const result = parseStripeEvent(event, 'bookings');
  return result.kind === 'handled' ? result.event : result;
};

describe('a refund.updated', () => {
  it('whose previous_attributes name the status it left is the change itself', () => {
    expect(parsed(refundStatusChange(refund, 'pending'))).toMatchObject({ kind: 'refund-changed', status: 'failed', statusChanged: true });
  });

  it.each([
    { name: 'without previous_attributes', data: { object: refund } },
    { name: 'whose previous_attributes name other fields', data: { object: refund, previous_attributes: { metadata: {} } } },
    { name: 'whose previous_attributes are not an object', data: { object: refund, previous_attributes: 'status' } },
    { name: 'whose previous status is not a string', data: { object: refund, previous_attributes: { status: 3 } } },
  ])('$name is a later update (acted on, never unusable)', ({ data }) => {
    const event = parsed({ ...stripeEvent('refund.updated', refund), data });
    expect(event).toMatchObject({ kind: 'refund-changed', status: 'failed' });
    expect(event).not.toHaveProperty('statusChanged');
  });

  it('is the only event read as a change of state: refund.failed carries its time by its type', () => {
    const failed = { ...stripeEvent('refund.failed', refund), data: { object: refund, previous_attributes: { status: 'pending' } } };
    expect(parsed(failed)).not.toHaveProperty('statusChanged');
  });
});
