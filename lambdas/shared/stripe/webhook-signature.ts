// Verifies a Stripe-Signature header against one or more signing secrets (several while a secret is rolled).
import Stripe from 'stripe';

export type SignatureVerdict = { readonly valid: true } | { readonly valid: false; readonly reason: 'missing' | 'mismatch' | 'expired' | 'future' };

const stripeSignature = requireSignatureVerifier();

function requireSignatureVerifier(): NonNullable<typeof Stripe.webhooks.signature> {
  const verifier = Stripe.webhooks.signature;
  if (!verifier) throw new Error('The stripe package offers no webhook signature verification');
  return verifier;
}

/**
 * The timestamp the SDK verifies, read exactly as the SDK reads it: the **last** `t=` entry, through
 * `parseInt`. Reading another one (the first, say) would let a captured header be replayed with a fresh
 * `t=` put in front of it.
 */
export function signedTimestamp(header: string): number | undefined {
  let timestamp: number | undefined;
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') timestamp = Number.parseInt(value ?? '', 10);
  }
  return timestamp !== undefined && Number.isFinite(timestamp) ? timestamp : undefined;
}

/**
 * Valid when the header carries a v1 signature of exactly `payload` by one of `secrets`, signed within
 * `toleranceSeconds` of `nowMs`. The SDK judges the signature and the age with that tolerance; the one
 * rule of ours on top is that a timestamp too far in the future is refused too (the SDK accepts those).
 */
export function verifyStripeSignature(
  payload: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  toleranceSeconds: number,
  nowMs: number,
): SignatureVerdict {
  if (!header) return { valid: false, reason: 'missing' };
  const timestamp = signedTimestamp(header);
  if (timestamp === undefined) return { valid: false, reason: 'mismatch' };
  let expired = false;
  for (const secret of secrets) {
    try {
      stripeSignature.verifyHeader(payload, header, secret, toleranceSeconds, undefined, nowMs);
    } catch (error) {
      // The SDK checks the signature first: "outside the tolerance zone" means this secret did sign it.
      if (error instanceof Error && /tolerance/i.test(error.message)) expired = true;
      continue;
    }
    if (timestamp - Math.floor(nowMs / 1000) > toleranceSeconds) return { valid: false, reason: 'future' };
    return { valid: true };
  }
  return { valid: false, reason: expired ? 'expired' : 'mismatch' };
}
