// The Stripe fake, driven only through a real stripe-node client: its refund limits, errors and idempotency are what our money handling is tested against; and its state kept in a file, as the local stack keeps it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { headerOfAnswer } from '../../lambdas/shared/stripe/stripe-gateway';
import { StandInStateError, startStripeFake, type StripeFake, type TransientFailure } from '../../scripts/local/stripe-fake';
import { refusalOf } from '../support/stripe-refusal';

const DAY_MS = 24 * 60 * 60 * 1000;

let fake: StripeFake;
let stripe: Stripe;
beforeEach(async () => {
  fake = await startStripeFake();
  stripe = fake.client();
});
afterEach(() => fake.close());

function paidIntent(amount: number, id = `pi_test_${Math.random().toString(36).slice(2)}`): string {
  fake.registerPayment(id, amount);
  return id;
}

describe('refunds of a known payment', () => {
  it('refunds the whole payment when no amount is given, and tracks the total refunded', async () => {
    const pi = paidIntent(5_000);

    const refund = await stripe.refunds.create({ payment_intent: pi, metadata: { tripId: 'trip-1' }, reason: 'requested_by_customer' });

    expect(refund).toMatchObject({
      object: 'refund',
      amount: 5_000,
      currency: 'eur',
      status: 'succeeded',
      payment_intent: pi,
      charge: fake.payment(pi)?.charge,
      metadata: { tripId: 'trip-1' },
      reason: 'requested_by_customer',
      receipt_number: null,
    });
    expect(refund.id).toMatch(/^re_fake_/);
    expect(refund.balance_transaction).toMatch(/^txn_/);
    expect(refund.lastResponse.requestId).toMatch(/^req_\d+$/);
    expect(fake.totalRefunded(pi)).toBe(5_000);
    expect(fake.refundsOf(pi)).toEqual([expect.objectContaining({ id: refund.id, amount: 5_000, metadata: { tripId: 'trip-1' } })]);
  });

  it('refunds in parts, refuses more than is left (amount_too_large), refunds the rest, then says the charge is already refunded', async () => {
    const pi = paidIntent(10_000);
    const charge = fake.payment(pi)?.charge;

    await stripe.refunds.create({ payment_intent: pi, amount: 3_000 });
    await stripe.refunds.create({ payment_intent: pi, amount: 4_000 });
    const tooLarge = await refusalOf(stripe.refunds.create({ payment_intent: pi, amount: 5_000 }));
    const rest = await stripe.refunds.create({ payment_intent: pi });
    const again = await refusalOf(stripe.refunds.create({ payment_intent: pi, amount: 1 }));

    expect(tooLarge).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(tooLarge).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    expect(tooLarge.message).toBe('Refund amount (€50.00) is greater than unrefunded amount on charge (€30.00)');
    expect(rest.amount).toBe(3_000);
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ statusCode: 400, code: 'charge_already_refunded', message: `Charge ${charge} has already been refunded.` });
    expect(fake.totalRefunded(pi)).toBe(10_000);
    expect(fake.refundsOf(pi).map((refund) => refund.amount)).toEqual([3_000, 4_000, 3_000]);
  });

  it.each([0, -5, 1.5])('refuses an amount of %s as not a positive integer', async (amount) => {
    const pi = paidIntent(1_000);

    const error = await refusalOf(stripe.refunds.create({ payment_intent: pi, amount }));

    expect(error).toMatchObject({ statusCode: 400, code: 'parameter_invalid_integer', param: 'amount' });
    expect(fake.refundsOf(pi)).toEqual([]);
  });

  it.each([
    ['an unknown payment intent', 'pi_never_paid'],
    ['a Checkout Session id', 'cs_test_a1b2c3'],
  ])('answers resource_missing (404) for %s', async (_name, id) => {
    const error = await refusalOf(stripe.refunds.create({ payment_intent: id }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'payment_intent', message: `No such payment_intent: '${id}'` });
    expect(fake.refunds).toEqual([]);
  });
});

describe('idempotency keys', () => {
  it('replays the first answer to a retry with the same key and parameters, creating one refund', async () => {
    const pi = paidIntent(2_000);
    const request = { payment_intent: pi, amount: 500, metadata: { tripId: 't', reason: 'r' } };

    const first = await stripe.refunds.create(request, { idempotencyKey: 'refund-1' });
    const retry = await stripe.refunds.create({ metadata: { reason: 'r', tripId: 't' }, amount: 500, payment_intent: pi }, { idempotencyKey: 'refund-1' });

    expect(retry.id).toBe(first.id);
    expect(headerOfAnswer(retry.lastResponse, 'idempotent-replayed')).toBe('true');
    expect(fake.refundsOf(pi)).toHaveLength(1);
    expect(fake.totalRefunded(pi)).toBe(500);
  });

  it('refuses a key reused with other parameters (StripeIdempotencyError) and creates nothing', async () => {
    const pi = paidIntent(2_000);
    await stripe.refunds.create({ payment_intent: pi, amount: 500 }, { idempotencyKey: 'refund-2' });

    const error = await refusalOf(stripe.refunds.create({ payment_intent: pi, amount: 600 }, { idempotencyKey: 'refund-2' }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    expect(error.message).toContain("Try using a key other than 'refund-2'");
    expect(fake.refundsOf(pi)).toHaveLength(1);
  });

  it('forgets a key after 24 hours, so a late retry with the same key refunds a second time', async () => {
    const pi = paidIntent(2_000);
    const first = await stripe.refunds.create({ payment_intent: pi, amount: 500 }, { idempotencyKey: 'refund-late' });

    fake.advance(DAY_MS + 1_000);
    const late = await stripe.refunds.create({ payment_intent: pi, amount: 500 }, { idempotencyKey: 'refund-late' });

    expect(late.id).not.toBe(first.id);
    expect(fake.refundsOf(pi)).toHaveLength(2);
    expect(fake.totalRefunded(pi)).toBe(1_000);
  });

  it('replays a refusal it executed (amount_too_large) under the same key, even once the refund would fit', async () => {
    const pi = paidIntent(1_000);
    await refusalOf(stripe.refunds.create({ payment_intent: pi, amount: 1_500 }, { idempotencyKey: 'refund-big' }));

    const replayed = await refusalOf(stripe.refunds.create({ payment_intent: pi, amount: 1_500 }, { idempotencyKey: 'refund-big' }));

    expect(replayed).toMatchObject({ statusCode: 400, code: 'amount_too_large' });
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect(fake.refundsOf(pi)).toEqual([]);
  });
});

describe('transient failures', () => {
  // stripe-node retries a reset connection once even with retries off, so one refund call meets two resets.
  // `answered` is the HTTP status each failed attempt got: 0 for a connection cut without an answer.
  it.each<[string, TransientFailure, number, typeof Stripe.errors.StripeError, object, number]>([
    ['a 500 as StripeAPIError', 500, 1, Stripe.errors.StripeAPIError, { statusCode: 500 }, 500],
    ['a 429 as StripeRateLimitError (rate_limit)', 429, 1, Stripe.errors.StripeRateLimitError, { statusCode: 429, code: 'rate_limit' }, 429],
    [
      'a lock timeout as StripeRateLimitError (lock_timeout)',
      'lock_timeout',
      1,
      Stripe.errors.StripeRateLimitError,
      { statusCode: 429, code: 'lock_timeout' },
      429,
    ],
    ['a reset connection as StripeConnectionError', 'reset', 2, Stripe.errors.StripeConnectionError, {}, 0],
  ])('surfaces %s, creates nothing, and lets the retry with the same key refund', async (_name, failure, count, errorClass, fields, answered) => {
    const pi = paidIntent(1_000);
    fake.failNext(count, failure);

    const error = await refusalOf(stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: `refund-${pi}` }));
    const created = fake.refundsOf(pi).length;
    const retry = await stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: `refund-${pi}` });

    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject(fields);
    expect(created).toBe(0);
    expect(retry).toMatchObject({ status: 'succeeded', amount: 1_000 });
    expect(fake.refundsOf(pi)).toHaveLength(1);
    expect(fake.calls.filter((call) => call.idempotencyKey === `refund-${pi}`).map((call) => call.status)).toEqual([
      ...Array<number>(count).fill(answered),
      200,
    ]);
  });

  it('makes a refund it leaves unanswered: the client times out, and the retry with the same key is answered the same refund', async () => {
    const pi = paidIntent(1_000);
    fake.leaveNextRefundsUnanswered(1);

    const error = await refusalOf(stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: `refund-${pi}`, timeout: 300 }));
    const made = fake.refundsOf(pi).map((refund) => refund.id);
    const retry = await stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: `refund-${pi}` });

    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(error.message).toContain('timeout');
    expect(made).toHaveLength(1);
    expect(retry).toMatchObject({ id: made[0], status: 'succeeded', amount: 1_000 });
    expect(headerOfAnswer(retry.lastResponse, 'idempotent-replayed')).toBe('true');
    expect(fake.refundsOf(pi)).toHaveLength(1);
    expect(fake.calls.filter((call) => call.idempotencyKey === `refund-${pi}`).map((call) => call.status)).toEqual([0, 200]);
  });

  it('answers a permanent refusal on demand and replays it under the same key, while a new key refunds', async () => {
    const pi = paidIntent(1_000);
    fake.refuseNext('charge_disputed', { message: 'This charge has been disputed.' });

    const refused = await refusalOf(stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: 'refund-disputed' }));
    const replayed = await refusalOf(stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: 'refund-disputed' }));
    const withNewKey = await stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: 'refund-disputed-2' });

    expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(refused).toMatchObject({ statusCode: 400, code: 'charge_disputed', message: 'This charge has been disputed.' });
    expect(replayed).toMatchObject({ statusCode: 400, code: 'charge_disputed' });
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect(withNewKey.status).toBe('succeeded');
    expect(fake.refundsOf(pi)).toHaveLength(1);
  });
});

describe('looking refunds up', () => {
  it('lists the refunds of one payment intent, newest first', async () => {
    const pi = paidIntent(3_000);
    const other = paidIntent(3_000);
    const first = await stripe.refunds.create({ payment_intent: pi, amount: 1_000 });
    await stripe.refunds.create({ payment_intent: other, amount: 1_000 });
    const second = await stripe.refunds.create({ payment_intent: pi, amount: 2_000 });

    const list = await stripe.refunds.list({ payment_intent: pi, limit: 10 });

    expect(list).toMatchObject({ object: 'list', has_more: false, url: '/v1/refunds' });
    expect(list.data.map((refund) => refund.id)).toEqual([second.id, first.id]);
  });

  it('pages the list after a refund (starting_after), so auto-pagination reaches the oldest of 101, and refuses an unknown one', async () => {
    const pi = paidIntent(101);
    const made: string[] = [];
    for (let index = 0; index < 101; index++) made.push((await stripe.refunds.create({ payment_intent: pi, amount: 1 })).id);

    const firstPage = await stripe.refunds.list({ payment_intent: pi, limit: 100 });
    const listed: string[] = [];
    for await (const refund of stripe.refunds.list({ payment_intent: pi, limit: 100 })) listed.push(refund.id);

    expect(firstPage.has_more).toBe(true);
    expect(listed).toEqual([...made].reverse());
    await expect(stripe.refunds.list({ payment_intent: pi, starting_after: 're_unknown' })).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      code: 'resource_missing',
      param: 'starting_after',
    });
  });

  it('retrieves a refund by id, and answers resource_missing for an unknown one', async () => {
    const refund = await stripe.refunds.create({ payment_intent: paidIntent(700) });

    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({ id: refund.id, amount: 700 });
    expect(await refusalOf(stripe.refunds.retrieve('re_unknown'))).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id' });
  });

  it('answers 404 for a route it does not fake', async () => {
    const error = await refusalOf(stripe.customers.list());

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404, message: 'Unrecognized request URL (GET: /v1/customers).' });
  });
});

describe('refunds that settle later', () => {
  it('counts a pending refund in the total, and stops counting it once it fails', async () => {
    const pi = paidIntent(10_000);
    fake.nextRefundStatus('pending');

    const pending = await stripe.refunds.create({ payment_intent: pi, amount: 4_000 });
    const overPending = await refusalOf(stripe.refunds.create({ payment_intent: pi, amount: 7_000 }));
    fake.setRefundStatus(pending.id, 'failed', 'expired_or_canceled_card');
    const afterFailure = await stripe.refunds.retrieve(pending.id);
    const full = await stripe.refunds.create({ payment_intent: pi });

    expect(pending.status).toBe('pending');
    expect(overPending).toMatchObject({ code: 'amount_too_large' });
    expect(afterFailure).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    expect(full).toMatchObject({ status: 'succeeded', amount: 10_000 });
    expect(fake.totalRefunded(pi)).toBe(10_000);
  });
});

describe('payment intents', () => {
  it('creates a succeeded payment intent that can be retrieved and refunded', async () => {
    const created = await stripe.paymentIntents.create({ amount: 1_250, currency: 'eur' });

    const retrieved = await stripe.paymentIntents.retrieve(created.id);
    const refund = await stripe.refunds.create({ payment_intent: created.id });

    expect(created).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 1_250, currency: 'eur' });
    expect(created.id).toMatch(/^pi_fake_/);
    expect(retrieved).toMatchObject({ id: created.id, latest_charge: fake.payment(created.id)?.charge });
    expect(refund).toMatchObject({ amount: 1_250, charge: fake.payment(created.id)?.charge });
  });

  it('answers resource_missing for an unknown payment intent', async () => {
    expect(await refusalOf(stripe.paymentIntents.retrieve('pi_unknown'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('with acceptUnknownPaymentIntents (the local demo)', () => {
  let demo: StripeFake;
  let demoStripe: Stripe;
  beforeEach(async () => {
    demo = await startStripeFake({ acceptUnknownPaymentIntents: true });
    demoStripe = demo.client();
  });
  afterEach(() => demo.close());

  it('takes a made-up payment intent to be worth its first refund, then refuses a second refund', async () => {
    const refund = await demoStripe.refunds.create({ payment_intent: 'pi_made_up', amount: 2_500 });
    const second = await refusalOf(demoStripe.refunds.create({ payment_intent: 'pi_made_up' }));

    expect(refund).toMatchObject({ status: 'succeeded', amount: 2_500 });
    expect(demo.payment('pi_made_up')).toMatchObject({ amount: 2_500, currency: 'eur' });
    expect(second).toMatchObject({ code: 'charge_already_refunded' });
  });

  it('takes a made-up payment intent refunded without an amount to be worth 1,000,000', async () => {
    const refund = await demoStripe.refunds.create({ payment_intent: 'pi_whole' });

    expect(refund.amount).toBe(1_000_000);
  });

  it('still answers resource_missing for an id that is not a payment intent', async () => {
    expect(await refusalOf(demoStripe.refunds.create({ payment_intent: 'cs_test_session' }))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('with a state file (the local stack’s stand-in, kept with its data)', () => {
  function stateFolder(): string {
    const folder = mkdtempSync(join(tmpdir(), 'pulau-stand-in-'));
    onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
    return folder;
  }

  it('starts again where it stopped: its payments, refunds and idempotency keys, on the port its pages name', async () => {
    const stateFile = join(stateFolder(), 'state.json');
    const first = await startStripeFake({ stateFile });
    first.registerPayment('pi_kept', 5_000);
    const refund = await first.client().refunds.create({ payment_intent: 'pi_kept', amount: 1_000 }, { idempotencyKey: 'refund-kept' });
    await first.close();

    const again = await startStripeFake({ stateFile });
    onTestFinished(() => again.close());
    const replayed = await again.client().refunds.create({ payment_intent: 'pi_kept', amount: 1_000 }, { idempotencyKey: 'refund-kept' });
    const tooMuch = await refusalOf(again.client().refunds.create({ payment_intent: 'pi_kept', amount: 4_001 }));

    expect(again.url).toBe(first.url);
    expect(replayed.id).toBe(refund.id);
    expect(again.totalRefunded('pi_kept')).toBe(1_000);
    expect(tooMuch).toMatchObject({ statusCode: 400, code: 'amount_too_large' });
  });

  it('is refused on another port than the one its pages name, saying which', async () => {
    const stateFile = join(stateFolder(), 'state.json');
    const first = await startStripeFake({ stateFile });
    await first
      .client()
      .refunds.create({ payment_intent: paidIntent(1_000) })
      .catch(() => undefined);
    const keptPort = Number(new URL(first.url).port);
    await first.close();

    const elsewhere = await startStripeFake({ stateFile, port: keptPort === 65_000 ? 65_001 : 65_000 }).catch((error: unknown) => error);

    expect(elsewhere).toBeInstanceOf(StandInStateError);
    expect((elsewhere as Error).message).toContain(`holds payment pages at port ${keptPort}, not`);
  });

  it('takes the port of a file written before the port was kept from the pages it names, and refuses another', async () => {
    const stateFile = join(stateFolder(), 'state.json');
    const first = await startStripeFake({ stateFile });
    await first.client().checkout.sessions.create({
      mode: 'payment',
      line_items: [{ quantity: 1, price_data: { currency: 'eur', unit_amount: 4_500, product_data: { name: 'Snorkelling' } } }],
      success_url: 'https://example.com/paid',
    });
    const keptPort = Number(new URL(first.url).port);
    await first.close();
    const { port: _, ...withoutPort } = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(stateFile, JSON.stringify(withoutPort));

    const elsewhere = await startStripeFake({ stateFile, port: keptPort === 65_000 ? 65_001 : 65_000 }).catch((error: unknown) => error);
    const again = await startStripeFake({ stateFile });
    onTestFinished(() => again.close());

    expect((elsewhere as Error).message).toContain(`holds payment pages at port ${keptPort}, not`);
    expect(again.url).toBe(first.url);
  });

  it.each([
    ['null', 'null'],
    [
      'lists of nothing usable',
      JSON.stringify({ format: 1, tag: 't', counts: null, payments: [null], refunds: [], sessions: [], events: [], deliveries: [], keys: [1] }),
    ],
    ['another program’s JSON', '{"hello":"world"}'],
  ])('is refused, naming the file, when it holds %s', async (_, content) => {
    const stateFile = join(stateFolder(), 'state.json');
    writeFileSync(stateFile, content);

    const refused = await startStripeFake({ stateFile }).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(StandInStateError);
    expect((refused as Error).message).toContain(`${stateFile} is not a state file of this stand-in`);
  });

  it('answers all the same when its state cannot be written, and says so', async () => {
    const folder = stateFolder();
    const kept = await startStripeFake({ stateFile: join(folder, 'state.json') });
    onTestFinished(() => kept.close());
    const said = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    onTestFinished(() => said.mockRestore());
    rmSync(folder, { recursive: true, force: true });

    kept.registerPayment('pi_unkept', 2_000);
    const refund = await kept.client().refunds.create({ payment_intent: 'pi_unkept', amount: 500 });

    expect(refund).toMatchObject({ status: 'succeeded', amount: 500 });
    expect(said).toHaveBeenCalledWith(
      expect.stringMatching(/^warning: the Stripe stand-in could not keep its state in .*state\.json \(.*\); it goes on in memory$/),
    );
  });
});
