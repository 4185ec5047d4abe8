// What the stack needs to know of POST /checkout and GET /trips/{tripId} (their paths, the body cap), free of imports so that `cdk synth` reads it
// without loading Stripe, Powertools or the domain.

/** The route of the front door, in AWS and locally. */
export const CHECKOUT_PATH = '/checkout';

/** A checkout request is a few items: anything this large is refused before it is parsed. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The route a traveller's trip is read on (and fulfilled from, when its payment arrived before its webhook). */
export const TRIP_PATH = '/trips/{tripId}';

/** The `execute-api:Invoke` path of every trip, for the IAM policies of IAM-signed callers. */
export const TRIP_INVOKE_PATH = '/trips/*';
