// The signature check, header by header, side by side with stripe.webhooks.constructEvent: they agree but for the future-timestamp rule.
import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { signedTimestamp, verifyStripeSignature } from '../../lambdas/shared/stripe/webhook-signature';

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
    { name: 'a replay an hour old', header: `t=${NOW},t=${hourAgo},v1=${sign(hourAgo)}`, reason: 'expired' },
    { name: 'a secret we do not hold', header: `t=${NOW},v1=${sign(NOW, 'whsec_third')}`, reason: 'mismatch' },
    { name: 'a day ahead', header: `t=${NOW + 86_400},v1=${sign(NOW + 86_400)}`, reason: 'future' },
    { name: 'nothing', header: undefined, reason: 'missing' },
  ])('says why it refused $name: $reason', ({ header, reason }) => {
    expect(verifyStripeSignature(Buffer.from(payload), header, [OTHER, SECRET], TOLERANCE, NOW * 1000)).toEqual({ valid: false, reason });
  });
});
