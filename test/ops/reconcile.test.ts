// `npm run ops -- reconcile` against DynamoDB Local and the Stripe fake: a lost event booked once by hand, nothing done twice,
// the sweep's cursor left alone, a stop at a failed event said in one line, and every usage mistake refused with exit 2.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Slot } from '../../lambdas/shared/domain/model';
import { SETTLE_SECONDS } from '../../lambdas/shared/domain/reconcile-events';
import { STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { ops } from '../support/ops';
import { overwriteSlot, readSlot, storeOnOwnTable, testDocumentClient, testStore } from '../support/store';
import { claimLocalDeploymentMark } from '../../scripts/dev-kit/deployment-mark';

const DAY_MS = 86_400_000;

let fake: StripeFake;
let stripeEnv: NodeJS.ProcessEnv;
beforeEach(async () => {
  // A fake of its own per test: the command lists every event of the span the fake holds. Its clock stands past the settle
  // delay behind, so the events it makes are as old as a lost delivery is when an operator looks for it.
  fake = await startStripeFake({ now: () => Date.now() - (SETTLE_SECONDS + 60) * 1000 });
  stripeEnv = { STRIPE_API_KEY: 'sk_test_fake', STRIPE_API_BASE: fake.url };
});
afterEach(() => fake.close());

const day = (offsetDays: number): string => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);
const reconcile = (...flags: string[]) => ops(['reconcile', ...flags], undefined, stripeEnv);

describe('ops reconcile', () => {
  it('says the span Stripe could not list in UTC times, as it says every time', async () => {
    // Nothing listens there: Stripe cannot be reached.
    const stopped = await ops(['reconcile', '--since', day(-1)], undefined, { STRIPE_API_KEY: 'sk_test_fake', STRIPE_API_BASE: 'http://127.0.0.1:9' });

    expect(stopped.code).toBe(1);
    expect(stopped.err).toMatch(/events created from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z to \d{4}-\d\d-\d\dT[\d:.]+Z/);
    expect(stopped.err).not.toMatch(/from \d{9,}/);
  });

  it('books an event whose delivery was lost, once, says the webhook missed it, and leaves the sweep’s cursor alone', async () => {
    const store = testStore();
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    const cursor = await store.getEventCursor(STRIPE_CURSOR);

    const first = await reconcile('--since', day(-1));
    const again = await reconcile('--since', day(-1), '--until', day(1), '--json');

    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out.split('\n')[0]).toMatch(/^created\s+eventId\s+type\s+status\s+outcome\s+missed$/);
    expect(first.out).toMatch(new RegExp(`${event.id}\\s+checkout\\.session\\.completed\\s+processed\\s+booked\\s+yes`));
    expect(first.out.split('\n').at(-1)).toMatch(
      /^1 events created from .* to .*: 0 already processed, 1 processed now \(1 missed by the webhook\), 0 resumed, 0 with a refund due\.$/,
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({
      events: [{ eventId: event.id, type: 'checkout.session.completed', status: 'already_processed' }],
    });
    expect((await trip.trip())?.status).toBe('booked');
    expect(await trip.bookings()).toHaveLength(1);
    expect(await trip.available()).toBe(2);
    expect(await store.getEventCursor(STRIPE_CURSOR)).toEqual(cursor);
  });

  it('takes the sessions a local stack’s table marks with the mark it keeps, and leaves those marked with its bare name (another local stack’s)', async () => {
    const store = await storeOnOwnTable();
    const mark = await claimLocalDeploymentMark(testDocumentClient(), store.tableName);
    const ours = await checkedOutTrip(store, fake, 2, mark);
    const anotherStacks = await checkedOutTrip(store, fake, 2, store.tableName);
    fake.dropNextDeliveries(2);
    await ours.pay();
    await anotherStacks.pay();

    const result = await ops(['reconcile', '--since', day(-1)], undefined, stripeEnv, store.tableName);

    expect(result).toMatchObject({ code: 0, err: '' });
    expect((await ours.trip())?.status).toBe('booked');
    expect((await anotherStacks.trip())?.status).toBe('pending_payment');
    expect(fake.refundsOf(anotherStacks.paymentIntent())).toEqual([]);
  });

  it('trims the newline a key read from a file keeps: the command talks to Stripe with the key itself', async () => {
    const store = testStore();
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    await trip.pay();

    const result = await ops(['reconcile', '--since', day(-1)], undefined, { ...stripeEnv, STRIPE_API_KEY: 'sk_test_fake\n' });

    expect(result).toMatchObject({ code: 0, err: '' });
    expect((await trip.trip())?.status).toBe('booked');
  });

  it('says STRIPE_KEY_REJECTED, with the permission a restricted key lacks, when it may list events but not refund; with a working key it is refunded once', async () => {
    const store = testStore();
    const trip = await checkedOutTrip(store, fake);
    await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    fake.refuseApiKey('rk_test_no_refunds', 403, '/v1/refunds');

    const restricted = await ops(['reconcile', '--since', day(-1)], undefined, { ...stripeEnv, STRIPE_API_KEY: 'rk_test_no_refunds' });
    const working = await reconcile('--since', day(-1));

    expect(restricted.code).toBe(1);
    expect(restricted.out).toMatch(new RegExp(`${event.id}\\s+checkout\\.session\\.completed\\s+refund_due`));
    expect(restricted.err.split('\n')).toEqual([
      expect.stringMatching(/^error: STRIPE_KEY_REJECTED: .*refused our API key \(403: .*'rak_refund_write' permission.*set STRIPE_API_KEY/),
    ]);
    expect(working.code).toBe(0);
    expect(fake.refundsOf(trip.paymentIntent()).map((refund) => refund.amount)).toEqual([trip.amount]);
    expect((await trip.trip())?.status).toBe('refunded');
  });

  it('leaves out events created outside --since and --until', async () => {
    const store = testStore();
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    await trip.pay();

    // Two days ago to yesterday's midnight: before the event at any time of day (yesterday to today's midnight held an event
    // made in the minutes after midnight, which the fake's clock, set back, stamps the day before).
    const yesterday = await reconcile('--since', day(-2), '--until', day(-1), '--json');

    expect(yesterday.code).toBe(0);
    expect(JSON.parse(yesterday.out)).toMatchObject({ events: [] });
    expect((await trip.trip())?.status).toBe('pending_payment');
  });

  it('goes on past an event whose refund Stripe could not take, says so in one line with exit 1, and a second run refunds it once', async () => {
    const store = testStore();
    const trip = await checkedOutTrip(store, fake);
    const after = await checkedOutTrip(store, fake);
    await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
    fake.dropNextDeliveries(2);
    const event = await trip.pay();
    fake.advance(2_000);
    await after.pay();
    // The command's Stripe client retries twice itself (as the functions' does): all three attempts fail.
    fake.failNext(3, 500);

    const first = await reconcile('--since', day(-1));
    const resumed = await reconcile('--since', day(-1));

    expect(first.code).toBe(1);
    expect(first.out).toMatch(new RegExp(`${event.id}\\s+checkout\\.session\\.completed\\s+refund_due`));
    expect(first.out).toContain('0 already processed, 1 processed now (2 missed by the webhook), 0 resumed, 1 with a refund due.');
    expect(first.err.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: REFUNDS_DUE: Stripe did not take the refund of ${event.id}: .*payments retry-refund\`, to ask now$`)),
    ]);
    // The payment after it was not held back.
    expect((await after.trip())?.status).toBe('booked');
    // The first run wrote the event's record before Stripe failed: the second processes it again, and asks for the refund once more.
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(new RegExp(`${event.id}\\s+checkout\\.session\\.completed\\s+resumed\\s+refunded`));
    expect(resumed.out).toContain('1 already processed, 0 processed now (0 missed by the webhook), 1 resumed, 0 with a refund due.');
    expect((await trip.trip())?.status).toBe('refunded');
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
  });

  it.each([
    { argv: () => [], message: 'reconcile needs --since' },
    { argv: () => ['--since', '2026-13-01'], message: '--since must be a date (YYYY-MM-DD, UTC) or a UTC time' },
    { argv: () => ['--since', '2026-02-30'], message: '--since must be a date' },
    { argv: () => ['--since', 'yesterday'], message: '--since must be a date' },
    { argv: () => ['--since', `${day(0)}T09:30:00+02:00`], message: '--since must be a date' },
    { argv: () => ['--since', day(-40)], message: 'is more than 30 days ago: Stripe lists the events of the last 30 days only' },
    { argv: () => ['--since', day(2)], message: 'is in the future' },
    { argv: () => ['--since', day(0), '--until', day(-1)], message: 'must be after --since' },
    { argv: () => ['--since', day(0), '--until', 'soon'], message: '--until must be a date' },
    { argv: () => ['--since', day(0), 'extra'], message: 'reconcile takes no arguments; unexpected "extra"' },
  ])('refuses $message with exit 2 and one line', async ({ argv, message }) => {
    const result = await reconcile(...argv());
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err.split('\n')).toEqual([expect.stringMatching(/^error: USAGE: \S/)]);
    expect(fake.calls).toEqual([]);
  });

  it('refuses to run without a Stripe key (exit 2), before asking Stripe anything', async () => {
    const result = await ops(['reconcile', '--since', day(0)]);
    expect(result).toMatchObject({ code: 2, err: expect.stringContaining('reconcile needs STRIPE_API_KEY') });
  });

  it('takes a UTC time, and the date of 30 days ago', async () => {
    expect((await reconcile('--since', `${day(0)}T00:00:00Z`)).code).toBe(0);
    expect((await reconcile('--since', day(-30), '--until', day(-29))).code).toBe(0);
  });
});
