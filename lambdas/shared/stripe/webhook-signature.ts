// Verifies a Stripe-Signature header against one or more signing secrets (several while a secret is rolled).
import Stripe from 'stripe';

export type SignatureVerdict =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: 'missing' | 'mismatch' | 'expired' | 'future' };

const stripeSignature = requireSignatureVerifier();

function requireSignatureVerifier(): NonNullable<typeof Stripe.webhooks.signature> {
  const verifier = Stripe.webhooks.signature;
  if (!verifier) throw new Error('The stripe package offers no webhook signature verification');
  return verifier;
}

function signedAt(header: string): number | undefined {
  const part = header.split(',').find((entry) => entry.startsWith('t='));
  const seconds = part ? Number(part.slice(2)) : Number.NaN;
  return Number.isInteger(seconds) ? seconds : undefined;
}

/**
 * Valid when the header carries a v1 signature of exactly `payload` by one of `secrets`, signed within
 * `toleranceSeconds` of `nowMs` — in the past (Stripe's check) or in the future (ours: Stripe accepts those).
 */
export function verifyStripeSignature(
  payload: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  toleranceSeconds: number,
  nowMs: number,
): SignatureVerdict {
  if (!header) return { valid: false, reason: 'missing' };
  const timestamp = signedAt(header);
  if (timestamp === undefined) return { valid: false, reason: 'mismatch' };
  for (const secret of secrets) {
    try {
      // Tolerance 0 here: the time window is judged below, once a secret has matched.
      stripeSignature.verifyHeader(payload, header, secret, 0, undefined, nowMs);
    } catch {
      continue;
    }
    const ageSeconds = Math.floor(nowMs / 1000) - timestamp;
    if (ageSeconds > toleranceSeconds) return { valid: false, reason: 'expired' };
    if (-ageSeconds > toleranceSeconds) return { valid: false, reason: 'future' };
    return { valid: true };
  }
  return { valid: false, reason: 'mismatch' };
}
