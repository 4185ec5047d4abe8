// Verifies a Stripe-Signature header against one or more signing secrets (several while one is rolled), with node:crypto.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureVerdict = { readonly valid: true } | { readonly valid: false; readonly reason: 'missing' | 'mismatch' | 'expired' | 'future' };

/*
 * The checks are those of the stripe package's `webhooks.signature.verifyHeader` (stripe-node 23, `Webhooks.js`), step
 * for step, so that verifying a delivery never loads the SDK (240 KiB of client the confirmation path does not use).
 * test/unit/webhook-signature.test.ts runs a table of headers and a seeded fuzz through both and requires the same verdict.
 */

/** Stripe's signature scheme; entries of any other (`v0`) are ignored, as Stripe advises and the SDK does. */
const SIGNATURE_SCHEME = 'v1';

/** The SDK decodes the body with a default TextDecoder: invalid UTF-8 becomes U+FFFD and a leading BOM is dropped before hashing. */
const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

interface SignedHeader {
  /** -1 when the header has no `t=`, NaN when it is not a number (the SDK's parseInt). */
  readonly timestamp: number;
  /** The value of every `v1=` entry; undefined for a bare `v1`. */
  readonly signatures: readonly (string | undefined)[];
}

/** The header as the SDK splits it: on `,`, then on `=`, keeping only what lies between the first and a second `=`; the last `t=` wins. */
function parseHeader(header: string): SignedHeader {
  let timestamp = -1;
  const signatures: (string | undefined)[] = [];
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') timestamp = Number.parseInt(value ?? '', 10);
    if (key === SIGNATURE_SCHEME) signatures.push(value);
  }
  return { timestamp, signatures };
}

/**
 * The timestamp the SDK verifies, read exactly as the SDK reads it: the **last** `t=` entry, through
 * `parseInt`. Reading another one (the first, say) would let a captured header be replayed with a fresh
 * `t=` put in front of it.
 */
export function signedTimestamp(header: string): number | undefined {
  return usableTimestamp(parseHeader(header));
}

function usableTimestamp({ timestamp }: SignedHeader): number | undefined {
  return timestamp !== -1 && Number.isFinite(timestamp) ? timestamp : undefined;
}

/**
 * Whether one of `signatures` is `expected`, as the SDK compares: every entry is compared (no early exit), an empty
 * entry makes the SDK throw, and so does an entry of the right length whose UTF-8 bytes are not (timingSafeEqual on
 * buffers of different lengths); a throw refuses the whole header, even beside a matching entry.
 */
function signatureFound(expected: string, signatures: readonly (string | undefined)[]): boolean {
  const expectedBytes = encoder.encode(expected);
  let found = false;
  for (const signature of signatures) {
    if (!signature) return false;
    if (signature.length !== expected.length) continue;
    const bytes = encoder.encode(signature);
    if (bytes.length !== expectedBytes.length) return false;
    if (timingSafeEqual(bytes, expectedBytes)) found = true;
  }
  return found;
}

/** The SDK's verdict on `header` for one secret: signed by it and fresh, signed by it but too old, or not signed by it. */
function verifyWithSecret(body: string, header: SignedHeader, secret: string, toleranceSeconds: number, nowMs: number): 'valid' | 'expired' | 'mismatch' {
  // A blank secret (a misconfiguration) signs nothing: the SDK refuses it rather than hash with an empty key.
  if (!secret || /^[ \t\r\n\f\v]*$/.test(secret)) return 'mismatch';
  const expected = createHmac('sha256', secret).update(`${header.timestamp}.${body}`, 'utf8').digest('hex');
  if (!signatureFound(expected, header.signatures)) return 'mismatch';
  // The signature first, then the age: "too old" therefore means this secret did sign it.
  const age = Math.floor(nowMs / 1000) - header.timestamp;
  return toleranceSeconds > 0 && age > toleranceSeconds ? 'expired' : 'valid';
}

/**
 * Valid when the header carries a v1 signature of exactly `payload` by one of `secrets`, signed within
 * `toleranceSeconds` of `nowMs`. The signature and the age are judged as the SDK judges them; the rules of ours on
 * top are that a timestamp too far in the future is refused too (the SDK accepts those), and so is a timestamp that
 * is not a number (the SDK would check a signature of "NaN.<body>").
 */
export function verifyStripeSignature(
  payload: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  toleranceSeconds: number,
  nowMs: number,
): SignatureVerdict {
  if (!header) return { valid: false, reason: 'missing' };
  const parsed = parseHeader(header);
  const timestamp = usableTimestamp(parsed);
  if (timestamp === undefined || parsed.signatures.length === 0) return { valid: false, reason: 'mismatch' };
  const body = utf8.decode(payload);
  let expired = false;
  for (const secret of secrets) {
    const verdict = verifyWithSecret(body, parsed, secret, toleranceSeconds, nowMs);
    if (verdict === 'expired') expired = true;
    if (verdict !== 'valid') continue;
    if (timestamp - Math.floor(nowMs / 1000) > toleranceSeconds) return { valid: false, reason: 'future' };
    return { valid: true };
  }
  return { valid: false, reason: expired ? 'expired' : 'mismatch' };
}
