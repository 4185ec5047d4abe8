// The Stripe error a call to the Stripe fake ends in, for the tests that assert Stripe's own refusals.
import Stripe from 'stripe';

/** The Stripe error a call ends in; fails the test if the call succeeds or throws anything else. */
export async function refusalOf(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}
