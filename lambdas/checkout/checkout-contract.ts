// What the stack needs to know of POST /checkout (its path and body cap), free of imports so that `cdk synth` reads it
// without loading Stripe, Powertools or the domain.

/** The route of the front door, in AWS and locally. */
export const CHECKOUT_PATH = '/checkout';

/** A checkout request is a few items: anything this large is refused before it is parsed. */
export const MAX_BODY_BYTES = 16 * 1024;
