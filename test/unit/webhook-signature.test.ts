// The signature check (node:crypto), header by header and over a seeded fuzz, side by side with the stripe package's own
// verifier: they agree but for our rules on future and non-numeric timestamps.
import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { signedTimestamp, verifyStripeSignature, type SignatureVerdict } from '../../lambdas/shared/stripe/webhook-signature';
import { seededRandom } from '../../scripts/dev-kit/seeded-random';

const SECRET = 'whsec_header_table';
const OTHER = 'whsec_someone_else';
const TOLERANCE = 300;
const NOW = 1_790_000_000;
const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'checkout.session.completed', data: { object: {} } });
const stripe = new Stripe('sk_test_header_table');

const sign = (timestamp: number, secret = SECRET): string => createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex');

/** What Stripe's own library says of this header at NOW. */
function sdkAccepts(header: string): boolean {
  try {
    stripe.webhooks.constructEvent(payload, header, SECRET, TOLERANCE, undefined, NOW * 1000);
    return true;
  } catch {
    return false;
  }
}

function weAccept(header: string): boolean {
  return verifyStripeSignature(Buffer.from(payload), header, [SECRET], TOLERANCE, NOW * 1000).valid;
}

const sdkSignature = Stripe.webhooks.signature;
if (!sdkSignature) throw new Error('The stripe package offers no webhook signature verification');

/**
 * The verifier as it was built on the SDK (`webhooks.signature.verifyHeader` per secret), with our two rules on top:
 * the reference the node:crypto verifier must match verdict for verdict, reason included.
 */
function sdkVerdict(body: Buffer, header: string | undefined, secrets: readonly string[], toleranceSeconds: number, nowMs: number): SignatureVerdict {
  if (!header) return { valid: false, reason: 'missing' };
  const timestamp = signedTimestamp(header);
  if (timestamp === undefined) return { valid: false, reason: 'mismatch' };
  let expired = false;
  for (const secret of secrets) {
    try {
      sdkSignature?.verifyHeader(body, header, secret, toleranceSeconds, undefined, nowMs);
    } catch (error) {
      if (error instanceof Error && /tolerance/i.test(error.message)) expired = true;
      continue;
    }
    if (timestamp - Math.floor(nowMs / 1000) > toleranceSeconds) return { valid: false, reason: 'future' };
    return { valid: true };
  }
  return { valid: false, reason: expired ? 'expired' : 'mismatch' };
}

const fresh = sign(NOW);
const hourAgo = NOW - 3_600;
const fortyDaysAgo = NOW - 40 * 86_400;

/** Every row: the header, what the SDK does with it, and what we do (the same, but for the future rule). */
const headers: { name: string; header: string; sdk: boolean; ours: boolean }[] = [
  { name: 'one v1, fresh', header: `t=${NOW},v1=${fresh}`, sdk: true, ours: true },
  { name: 'two v1, the second valid (a rolled secret)', header: `t=${NOW},v1=${sign(NOW, OTHER)},v1=${fresh}`, sdk: true, ours: true },
  { name: 'three v1, none valid', header: `t=${NOW},v1=${sign(NOW, OTHER)},v1=${sign(NOW + 1)},v1=${'0'.repeat(64)}`, sdk: false, ours: false },
  { name: 'v0 only', header: `t=${NOW},v0=${fresh}`, sdk: false, ours: false },
  { name: 'v1 and a v0', header: `t=${NOW},v1=${fresh},v0=${'a'.repeat(64)}`, sdk: true, ours: true },
  { name: 'a fresh t prepended to a header signed an hour ago', header: `t=${NOW},t=${hourAgo},v1=${sign(hourAgo)}`, sdk: false, ours: false },
  { name: 'a fresh t prepended to a header signed 40 days ago', header: `t=${NOW},t=${fortyDaysAgo},v1=${sign(fortyDaysAgo)}`, sdk: false, ours: false },
  { name: 'a fresh t appended to a header signed an hour ago', header: `t=${hourAgo},v1=${sign(hourAgo)},t=${NOW}`, sdk: false, ours: false },
  { name: 'duplicate t, both fresh, the last one signed', header: `t=${NOW - 5},t=${NOW},v1=${fresh}`, sdk: true, ours: true },
  { name: 'spaces after the commas', header: `t=${NOW}, v1=${fresh}`, sdk: false, ours: false },
  { name: 'uppercase hex', header: `t=${NOW},v1=${fresh.toUpperCase()}`, sdk: false, ours: false },
  { name: 'junk after the timestamp digits (read as the digits, as the SDK does)', header: `t=${NOW}abc,v1=${fresh}`, sdk: true, ours: true },
  { name: 'no timestamp', header: `v1=${fresh}`, sdk: false, ours: false },
  { name: 'a timestamp that is not a number', header: `t=soon,v1=${fresh}`, sdk: false, ours: false },
  { name: `stale: signed ${TOLERANCE + 1} s ago`, header: `t=${NOW - TOLERANCE - 1},v1=${sign(NOW - TOLERANCE - 1)}`, sdk: false, ours: false },
  { name: `at the edge: signed ${TOLERANCE} s ago`, header: `t=${NOW - TOLERANCE},v1=${sign(NOW - TOLERANCE)}`, sdk: true, ours: true },
  { name: `at the edge: signed ${TOLERANCE} s ahead`, header: `t=${NOW + TOLERANCE},v1=${sign(NOW + TOLERANCE)}`, sdk: true, ours: true },
  {
    name: `future: signed ${TOLERANCE + 1} s ahead (our rule: refused)`,
    header: `t=${NOW + TOLERANCE + 1},v1=${sign(NOW + TOLERANCE + 1)}`,
    sdk: true,
    ours: false,
  },
  { name: 'future: signed a day ahead (our rule: refused)', header: `t=${NOW + 86_400},v1=${sign(NOW + 86_400)}`, sdk: true, ours: false },
  { name: 'empty', header: '', sdk: false, ours: false },
  { name: 'an empty v1 beside a valid one (the SDK throws on the empty one)', header: `t=${NOW},v1=,v1=${fresh}`, sdk: false, ours: false },
  { name: 'a bare v1 beside a valid one', header: `t=${NOW},v1,v1=${fresh}`, sdk: false, ours: false },
  {
    name: 'a v1 of the right length but not ASCII beside a valid one (the SDK throws comparing it)',
    header: `t=${NOW},v1=é${fresh.slice(1)},v1=${fresh}`,
    sdk: false,
    ours: false,
  },
  { name: 'a v1 of another length beside a valid one', header: `t=${NOW},v1=${fresh.slice(1)},v1=${fresh}`, sdk: true, ours: true },
  { name: 'a second = after the signature (the SDK keeps what lies before it)', header: `t=${NOW},v1=${fresh}=tail`, sdk: true, ours: true },
  { name: 'leading zeros in t (the number is what is signed)', header: `t=000${NOW},v1=${fresh}`, sdk: true, ours: true },
  { name: 't=-1 (the SDK reads it as no timestamp)', header: `t=-1,v1=${sign(-1)}`, sdk: false, ours: false },
  { name: 'a v1 key in capitals', header: `t=${NOW},V1=${fresh}`, sdk: false, ours: false },
];

describe('verifyStripeSignature, side by side with the SDK', () => {
  it.each(headers)('$name: SDK $sdk, ours $ours', ({ header, sdk, ours }) => {
    expect(sdkAccepts(header)).toBe(sdk);
    expect(weAccept(header)).toBe(ours);
  });

  it('disagrees with the SDK only on timestamps more than the tolerance in the future', () => {
    const disagreements = headers.filter((row) => sdkAccepts(row.header) !== weAccept(row.header)).map((row) => row.name);
    expect(disagreements).toEqual(headers.filter((row) => row.name.startsWith('future')).map((row) => row.name));
  });

  it('reads the timestamp the SDK signs with: the last t=', () => {
    expect(signedTimestamp(`t=${NOW},t=${hourAgo},v1=x`)).toBe(hourAgo);
    expect(signedTimestamp(`t=${NOW}abc,v1=x`)).toBe(NOW);
    expect(signedTimestamp('v1=x')).toBeUndefined();
  });

  it.each([
    { name: 'a blank secret configured beside the right one', secrets: ['  ', SECRET], valid: true },
    { name: 'only a blank secret', secrets: [' \n'], valid: false },
    { name: 'only an empty secret', secrets: [''], valid: false },
  ])('judges $name as the SDK does', ({ secrets, valid }) => {
    const header = `t=${NOW},v1=${fresh}`;
    expect(verifyStripeSignature(Buffer.from(payload), header, secrets, TOLERANCE, NOW * 1000).valid).toBe(valid);
    expect(sdkVerdict(Buffer.from(payload), header, secrets, TOLERANCE, NOW * 1000).valid).toBe(valid);
  });

  it.each([
    { name: 'a leading byte-order mark (the SDK decodes the body without it)', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(payload)]) },
    { name: 'bytes that are not UTF-8 (the SDK hashes U+FFFD in their place)', body: Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0xc3, 0x7d]) },
    { name: 'an empty body', body: Buffer.alloc(0) },
  ])('hashes $name as the SDK does', ({ body }) => {
    const decoded = new TextDecoder().decode(body);
    for (const signed of [decoded, body.toString('latin1')]) {
      const header = `t=${NOW},v1=${createHmac('sha256', SECRET).update(`${NOW}.${signed}`).digest('hex')}`;
      expect(verifyStripeSignature(body, header, [SECRET], TOLERANCE, NOW * 1000)).toEqual(sdkVerdict(body, header, [SECRET], TOLERANCE, NOW * 1000));
    }
  });

  it('gives the verdict and reason of the SDK-based verifier on 5,000 seeded random headers, bodies and secrets', () => {
    const random = seededRandom(20261126);
    const bodies = [
      Buffer.from(payload),
      Buffer.from(JSON.stringify({ id: 'evt_ü', note: 'naïve ☕' })),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(payload)]),
      Buffer.from([0x7b, 0xff, 0x22, 0x7d]),
      Buffer.alloc(0),
    ];
    const secretPool = [SECRET, OTHER, 'whsec_third', ' ', ''];
    const timestamps = [NOW, NOW - 1, NOW - TOLERANCE, NOW - TOLERANCE - 1, NOW + TOLERANCE, NOW + TOLERANCE + 1, NOW - 86_400, 0, -1];
    const disagreements: string[] = [];
    for (let round = 0; round < 5_000; round++) {
      const body = random.pick(bodies);
      const secrets = random.shuffle(secretPool).slice(0, random.int(1, 3));
      const signedAt = random.pick(timestamps);
      const signedText = random.chance(0.9) ? new TextDecoder().decode(body) : body.toString('latin1');
      const signature = createHmac('sha256', random.pick(secretPool.filter(Boolean)))
        .update(`${random.chance(0.9) ? signedAt : random.pick(timestamps)}.${signedText}`)
        .digest('hex');
      const entries = [
        ...Array.from({ length: random.int(0, 2) }, () => `t=${random.pick(timestamps)}`),
        `t=${random.chance(0.9) ? signedAt : random.pick(['soon', '', `${signedAt}x`, `00${signedAt}`])}`,
        ...Array.from({ length: random.int(0, 2) }, () =>
          random.pick([`v1=${'0'.repeat(64)}`, `v0=${signature}`, 'v1=', 'v1', `v1=${signature.slice(2)}`, `v1=é${signature.slice(1)}`, `V1=${signature}`]),
        ),
        random.chance(0.85) ? `v1=${random.chance(0.1) ? signature.toUpperCase() : signature}` : `v0=${signature}`,
      ];
      const header = (random.chance(0.8) ? entries : random.shuffle(entries)).join(random.chance(0.95) ? ',' : ', ');
      const nowMs = NOW * 1000 + random.int(0, 999);
      const ours = verifyStripeSignature(body, header, secrets, TOLERANCE, nowMs);
      const reference = sdkVerdict(body, header, secrets, TOLERANCE, nowMs);
      if (JSON.stringify(ours) !== JSON.stringify(reference))
        disagreements.push(`${header} ${JSON.stringify(secrets)}: ${JSON.stringify(ours)} vs ${JSON.stringify(reference)}`);
    }
    expect(disagreements).toEqual([]);
  });

  it.each([
    { name: 'a replay an hour old', header: `t=${NOW},t=${hourAgo},v1=${sign(hourAgo)}`, reason: 'expired' },
    { name: 'a secret we do not hold', header: `t=${NOW},v1=${sign(NOW, 'whsec_third')}`, reason: 'mismatch' },
    { name: 'a day ahead', header: `t=${NOW + 86_400},v1=${sign(NOW + 86_400)}`, reason: 'future' },
    { name: 'nothing', header: undefined, reason: 'missing' },
  ])('says why it refused $name: $reason', ({ header, reason }) => {
    expect(verifyStripeSignature(Buffer.from(payload), header, [OTHER, SECRET], TOLERANCE, NOW * 1000)).toEqual({ valid: false, reason });
  });
});
