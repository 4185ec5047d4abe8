// The operator CLI against DynamoDB Local: what it prints, what it changes, and its exit codes.
import { describe, expect, it } from 'vitest';
import { ops } from '../support/ops';
import { OPS_COMMAND_NAMES, runOps } from '../../scripts/ops/cli';
import { StripeCheckoutSessions, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { startStripeFake } from '../../scripts/local/stripe-fake';
import { overwriteSlot, readSlot, seedSlot, spoilSlotCounts, storeOnOwnTable, testDocumentClient, testStore, testTableName, uniqueId } from '../support/store';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { confirmationOf, createPendingTrip } from '../support/trips';
import { confirmTrip } from '../../lambdas/shared/domain/confirm-trip';
import { MAX_AMOUNT_MINOR_UNITS, MAX_GUESTS_PER_ITEM, MAX_SLOT_PRICE, MAX_TRIP_ITEMS } from '../../lambdas/shared/domain/trip-input';
import { deps } from '../support/store';
import { checkedOutTrip } from '../support/checked-out';
import { webhookHarness } from '../support/webhook';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';

/** A valid `slots add` line, with some flags replaced (or left out when undefined). */
function slotsAdd(change: Record<string, string | undefined>): string[] {
  const flags: Record<string, string | undefined> = {
    experience: 'exp-usage',
    date: '2027-02-03',
    time: '10:00',
    capacity: '1',
    price: '1',
    currency: 'eur',
    ...change,
  };
  return ['slots', 'add', ...Object.entries(flags).flatMap(([name, value]) => (value === undefined ? [] : [`--${name}`, value]))];
}

describe('ops slots', () => {
  it('adds a slot, lists it as an aligned table and as JSON, blocks and unblocks it, audited', async () => {
    const experience = uniqueId('exp');
    const added = await ops([
      'slots',
      'add',
      '--experience',
      experience,
      '--date',
      '2027-08-01',
      '--time',
      '10:30',
      '--capacity',
      '6',
      '--price',
      '2500',
      '--currency',
      'eur',
      '--actor',
      'ana',
    ]);
    expect(added.code).toBe(0);
    const listed = await ops(['slots', 'list', '--experience', experience]);
    expect(listed.out.split('\n')[0]).toMatch(/^slotId\s+experienceId\s+date\s+time\s+capacity\s+availableCount\s+held\s+isBlocked\s+price$/);
    expect(listed.out).toContain('25.00 EUR');
    const [slot] = JSON.parse((await ops(['slots', 'list', '--experience', experience, '--json'])).out) as { slotId: string; capacity: number }[];
    expect(slot).toMatchObject({ capacity: 6, availableCount: 6, isBlocked: false });

    expect((await ops(['slots', 'block', slot!.slotId])).code).toBe(0);
    expect((await readSlot(testStore(), slot!.slotId))?.isBlocked).toBe(true);
    expect((await ops(['slots', 'unblock', slot!.slotId])).code).toBe(0);
    const audit = JSON.parse((await ops(['audit', 'list', '--entity', `slot:${slot!.slotId}`, '--json'])).out) as { eventType: string; actorId: string }[];
    expect(audit.map((entry) => entry.eventType)).toEqual(['slot.created', 'slot.blocked', 'slot.unblocked']);
  });

  it('changes capacity and availability together, and refuses to go below the seats booked', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 10 });
    const trip = await createPendingTrip(store, [[slot, 4]]);
    await confirmTrip(deps(store), confirmationOf(trip));

    expect((await ops(['slots', 'set-capacity', slot.slotId, '12'])).code).toBe(0);
    expect(await readSlot(store, slot.slotId)).toMatchObject({ capacity: 12, availableCount: 8 });

    const below = await ops(['slots', 'set-capacity', slot.slotId, '3']);
    expect(below).toMatchObject({ code: 1, err: expect.stringContaining('CAPACITY_BELOW_BOOKED') });
    expect(below.err.split('\n')).toHaveLength(1);
    expect(await readSlot(store, slot.slotId)).toMatchObject({ capacity: 12, availableCount: 8 });
  });

  it.each([
    { argv: (id: string) => ['slots', 'set-capacity', id, '-5'], code: 2, message: 'the capacity N must be at least 1' },
    { argv: (id: string) => ['slots', 'set-capacity', id, '0'], code: 2, message: 'the capacity N must be at least 1' },
    { argv: (id: string) => ['slots', 'set-capacity', id, '10001'], code: 2, message: 'must be at most 10000' },
    { argv: (id: string) => ['slots', 'set-capacity', id, 'ten'], code: 2, message: 'whole number' },
    { argv: (id: string) => ['slots', 'set-capacity', id, '5', '6'], code: 2, message: 'unexpected "6"' },
    { argv: (id: string) => ['slots', 'set-capacity', id], code: 2, message: 'needs a slot id and a capacity' },
    { argv: () => ['slots', 'block'], code: 2, message: 'slots block needs a slot id' },
    { argv: () => ['slots', 'list', 'extra'], code: 2, message: 'slots list takes no arguments; unexpected "extra"' },
    { argv: () => ['slots', 'block', 'slot-that-does-not-exist'], code: 1, message: 'SLOT_NOT_FOUND' },
    { argv: () => slotsAdd({ date: '2027-02-30' }), code: 2, message: 'USAGE: --date' },
    { argv: () => slotsAdd({ capacity: '-1' }), code: 2, message: '--capacity must be at least 1' },
    { argv: () => slotsAdd({ capacity: '0' }), code: 2, message: '--capacity must be at least 1' },
    { argv: () => slotsAdd({ capacity: '10001' }), code: 2, message: '--capacity must be at most 10000' },
    { argv: () => slotsAdd({ price: '99999999999999999999' }), code: 2, message: '--price is too large' },
    { argv: () => slotsAdd({ price: '12.50' }), code: 2, message: '--price must be a whole number' },
    { argv: () => slotsAdd({ price: String(MAX_SLOT_PRICE + 1) }), code: 2, message: `USAGE: --price must be at most ${MAX_SLOT_PRICE}` },
    { argv: () => slotsAdd({ price: String(Number.MAX_SAFE_INTEGER) }), code: 2, message: `USAGE: --price must be at most ${MAX_SLOT_PRICE}` },
    { argv: () => slotsAdd({ currency: 'euro' }), code: 2, message: '--currency must be a three-letter ISO 4217 code (EUR, USD…)' },
    { argv: () => slotsAdd({ currency: 'XYZ' }), code: 2, message: '--currency is no ISO 4217 currency' },
    { argv: () => slotsAdd({ id: '' }), code: 2, message: '--id needs a value' },
    { argv: () => slotsAdd({ experience: undefined }), code: 2, message: 'slots add needs --experience' },
    { argv: () => [...slotsAdd({}), '--capacity'], code: 2, message: 'USAGE: --capacity needs a value' },
    { argv: () => slotsAdd({ date: '2020-01-01' }), code: 1, message: 'VALIDATION_FAILED: --date 2020-01-01 is in the past' },
    { argv: () => ['bookings', 'list'], code: 2, message: 'exactly one of --trip, --slot or --user' },
    { argv: () => ['bookings', 'show', 'PL-NOTHERE'], code: 1, message: 'BOOKING_NOT_FOUND' },
    { argv: () => ['audit', 'list', '--entity', 'nonsense'], code: 2, message: 'TYPE:ID' },
    { argv: () => ['frobnicate'], code: 2, message: 'unknown command "frobnicate"; npm run ops -- help lists the commands' },
    { argv: () => ['help', 'frobnicate'], code: 2, message: 'unknown command "frobnicate"' },
    {
      argv: () => ['slots'],
      code: 2,
      message: 'unknown command "slots"; slots is a group of commands: slots add, slots list, slots block, slots unblock, slots set-capacity',
    },
    {
      argv: () => ['help', 'payments'],
      code: 2,
      message: 'unknown command "payments"; payments is a group of commands: payments list, payments show, payments retry-refund',
    },
    {
      argv: () => ['slots', 'list', '--colour', 'red'],
      code: 2,
      message: 'unknown flag --colour for slots list; npm run ops -- slots list --help lists its flags',
    },
    {
      argv: () => ['slots', 'list', '--experiance', 'exp-test'],
      code: 2,
      message: 'unknown flag --experiance for slots list (did you mean --experience?); npm run ops -- slots list --help lists its flags',
    },
    { argv: () => ['bookings', 'cancel', 'PL-NOTHERE', '--reason', 'x', '--trip', 't'], code: 2, message: 'unknown flag --trip for bookings cancel;' },
    {
      argv: () => ['bookings', 'cancel', 'PL-NOTHERE', '--reason', '--no-refund'],
      code: 2,
      message:
        'USAGE: --reason needs a value, and the "--no-refund" after it is a flag of its own (a value that starts with a dash is written --reason=--no-refund)',
    },
    { argv: () => ['--tabel', 'x', 'check'], code: 2, message: 'unknown flag --tabel for check (did you mean --table?)' },
    { argv: () => ['--frobnicate'], code: 2, message: 'unknown flag --frobnicate; npm run ops -- help lists the commands' },
    { argv: () => ['slots', 'list', '-x'], code: 2, message: 'unknown flag -x for slots list; npm run ops -- slots list --help lists its flags' },
  ])('answers $message with exit $code and one line with its code', async ({ argv, code, message }) => {
    const slot = await seedSlot(testStore(), { capacity: 2 });
    const result = await ops(argv(slot.slotId));
    expect(result.code).toBe(code);
    expect(result.err).toContain(message);
    expect(result.err.split('\n')).toEqual([expect.stringMatching(/^error: [A-Z_]+: \S/)]);
    expect(await readSlot(testStore(), slot.slotId)).toMatchObject({ capacity: 2, availableCount: 2 });
  });

  it('takes a price up to the most a trip of the most items and guests can carry in one Stripe amount', async () => {
    const experience = uniqueId('exp');
    const added = await ops([...slotsAdd({ experience, price: String(MAX_SLOT_PRICE) }), '--json']);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ experienceId: experience, priceAmount: MAX_SLOT_PRICE });
    expect(MAX_SLOT_PRICE * MAX_TRIP_ITEMS * MAX_GUESTS_PER_ITEM).toBeLessThanOrEqual(MAX_AMOUNT_MINOR_UNITS);
  });

  it('takes the currency in any case and stores it as Stripe spells it', async () => {
    const experience = uniqueId('exp');
    const added = await ops([...slotsAdd({ experience, currency: 'EUR' }), '--json']);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ experienceId: experience, currency: 'eur' });
  });

  it('blocks a slot once: blocking it again changes nothing and audits nothing', async () => {
    const slot = await seedSlot(testStore(), { capacity: 2 });
    expect((await ops(['slots', 'block', slot.slotId])).code).toBe(0);
    const again = await ops(['slots', 'block', slot.slotId]);
    expect(again).toMatchObject({ code: 0, out: expect.stringContaining('no (already so)') });
    const audit = JSON.parse((await ops(['audit', 'list', '--entity', `slot:${slot.slotId}`, '--json'])).out) as { eventType: string }[];
    expect(audit.filter((entry) => entry.eventType === 'slot.blocked')).toHaveLength(1);
  });

  it('says so when a listing is empty', async () => {
    expect(await ops(['slots', 'list', '--experience', uniqueId('exp')])).toMatchObject({ code: 0, out: expect.stringMatching(/^No slots of /) });
    expect(await ops(['bookings', 'list', '--trip', uniqueId('trip')])).toMatchObject({ code: 0, out: 'No bookings found.' });
    expect(await ops(['audit', 'list', '--entity', `trip:${uniqueId('trip')}`])).toMatchObject({ code: 0, out: expect.stringMatching(/^No audit entries/) });
    expect(await ops(['bookings', 'list', '--trip', uniqueId('trip'), '--json'])).toMatchObject({ code: 0, out: '[]' });
  });
});

describe('ops, a flag given no value', () => {
  it('last on the line: names the flag and how to give a value that starts with a dash, before anything is read', async () => {
    const err: string[] = [];
    const code = await runOps(['bookings', 'cancel', 'PL-NOTHERE', '--reason'], { out: () => undefined, err: (line) => err.push(line), env: {} });

    expect(code).toBe(2);
    expect(err).toEqual(['error: USAGE: --reason needs a value (one that starts with a dash is written --reason=-…)']);
  });
});

describe('ops, an endpoint that is no URL, or an AWS region without its table', () => {
  it.each([
    { argv: ['slots', 'list', '--endpoint', 'notaurl'], env: {}, message: '--endpoint must be an http(s) URL, such as http://127.0.0.1:8000; got "notaurl"' },
    { argv: ['slots', 'list', '--endpoint', 'ftp://127.0.0.1:8000'], env: {}, message: '--endpoint must be an http(s) URL' },
    { argv: ['slots', 'list'], env: { DYNAMODB_ENDPOINT: '127.0.0.1:8000' }, message: 'DYNAMODB_ENDPOINT must be an http(s) URL' },
    { argv: ['slots', 'list', '--region', 'eu-west-1'], env: {}, message: '--region needs --table (the stack output TableName, or TABLE_NAME)' },
  ])('is bad usage, exit 2, said in one line before anything is sent: $message', async ({ argv, env, message }) => {
    const err: string[] = [];
    const code = await runOps(argv, { out: () => undefined, err: (line) => err.push(line), env });

    expect(code).toBe(2);
    expect(err).toEqual([expect.stringContaining(`error: USAGE: ${message}`)]);
  });
});

describe('ops given no command', () => {
  it('lists the commands, and says in one error line that none was given, exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runOps([], { out: (line) => out.push(line), err: (line) => err.push(line), env: {} });

    expect(code).toBe(2);
    for (const name of OPS_COMMAND_NAMES) expect(out.join('\n')).toContain(name);
    expect(err).toEqual(['error: USAGE: no command given; the commands are listed above']);
  });
});

describe('ops help', () => {
  it.each([['--help'], ['-h'], ['help']])('prints every command for %s and exits 0', async (...argv) => {
    const result = await ops(argv);
    expect(result).toMatchObject({ code: 0, err: '' });
    for (const name of OPS_COMMAND_NAMES) expect(result.out).toContain(name);
  });

  it.each(OPS_COMMAND_NAMES)('prints the usage of %s for --help and -h, and exits 0', async (name) => {
    for (const flag of ['--help', '-h']) {
      const result = await ops([...name.split(' '), flag]);
      expect(result).toMatchObject({ code: 0, err: '', out: expect.stringContaining(`Usage: npm run ops -- ${name}`) });
    }
  });
});

describe('ops bookings', () => {
  async function bookedTrip() {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 5, priceAmount: 3_000 });
    const trip = await createPendingTrip(store, [[slot, 2]]);
    const result = await confirmTrip(deps(store), confirmationOf(trip, `pi_${uniqueId('cli').replace(/-/g, '')}`));
    if (!result.ok) expect.fail(result.message);
    return { store, slot, trip, reference: result.bookings[0]!.reference, paymentId: result.paymentId };
  }

  it('lists bookings by trip, slot and user, and shows one', async () => {
    const { trip, slot, reference } = await bookedTrip();
    for (const filter of [
      ['--trip', trip.tripId],
      ['--slot', slot.slotId],
      ['--user', trip.userId],
    ]) {
      const listed = await ops(['bookings', 'list', ...filter]);
      expect(listed.code).toBe(0);
      expect(listed.out).toContain(reference);
    }
    const shown = await ops(['bookings', 'show', reference.toLowerCase()]);
    expect(shown.out.split('\n').slice(0, 2)).toEqual([expect.stringMatching(`^reference\\s+${reference}$`), expect.stringMatching(/^status\s+confirmed$/)]);
    expect(shown.out).toMatch(/amount\s+60\.00 EUR/);
    expect((await ops(['trips', 'show', trip.tripId])).out).toMatch(/status\s+booked/);
  });

  it('cancels a booking: seats back once, its share refunded once, even when run twice', async () => {
    const { store, slot, reference, paymentId } = await bookedTrip();
    const fake = await startStripeFake();
    fake.registerPayment(paymentId, 6_000);
    const gateway = new StripePaymentGateway(async () => fake.client());

    const first = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], gateway);
    const second = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], gateway);
    await fake.close();

    expect(first).toMatchObject({ code: 0, out: expect.stringContaining('succeeded: 60.00 EUR') });
    expect(second).toMatchObject({ code: 0, out: expect.stringContaining('succeeded: 60.00 EUR') });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(5);
    expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([6_000]);
    expect(fake.calls.filter((call) => call.method === 'POST')).toHaveLength(1);
    expect((await store.listAudit('booking', reference)).map((entry) => entry.eventType)).toEqual(['booking.confirmed', 'booking.cancelled']);
  });

  it('cuts a long audit line short and says so; --json has the whole entry; the reference in any case', async () => {
    const { reference } = await bookedTrip();
    expect((await ops(['bookings', 'cancel', reference, '--reason', 'x', '--no-refund'])).code).toBe(0);

    const text = await ops(['audit', 'list', '--entity', `booking:${reference.toLowerCase()}`]);
    const json = JSON.parse((await ops(['audit', 'list', '--entity', `booking:${reference}`, '--json'])).out) as { eventType: string; metadata: object }[];

    expect(text.code).toBe(0);
    expect(text.out).toContain('booking.cancelled');
    expect(Math.max(...text.out.split('\n').map((line) => line.length))).toBeLessThan(200);
    expect(text.out).toContain('…');
    expect(text.out.split('\n').at(-1)).toBe('(… cut short: --json prints every entry in full)');
    expect(JSON.stringify(json.find((entry) => entry.eventType === 'booking.cancelled')?.metadata)).toContain(reference);
  });

  it('says so, exit 1, when the share of a payment taken outside Stripe is not refunded: the payment is before a person for it', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 8, priceAmount: 8_000 });
    const trip = await createPendingTrip(store, [[slot, 7]]);
    // Taken outside Stripe, as the local demo's seed and create-booking's direct payments are: no PaymentIntent to refund.
    const paymentId = `pay-${uniqueId('desk')}`;
    const booked = await confirmTrip(deps(store), confirmationOf(trip, paymentId));
    if (!booked.ok) expect.fail(booked.message);
    const reference = booked.bookings[0]!.reference;

    const cancelled = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill']);

    expect(cancelled.code).toBe(1);
    expect(cancelled.out).toContain(
      'none (its payment was not taken through a Stripe PaymentIntent, so Stripe cannot refund it; the payment is in front of a person)',
    );
    expect(cancelled.err.split('\n')).toEqual(['warning: nothing was refunded: the payment is in front of a person (`npm run ops -- attention list`)']);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(8);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', attention: { reason: 'not_refundable' }, refunds: [] });
    expect(await store.listAudit('payment', paymentId)).toMatchObject([
      { eventType: 'payment.needs_attention', actorType: 'operator', metadata: { reason: 'not_refundable', reference, cancellation: 'guide ill' } },
    ]);
    const attention = await ops(['attention', 'list']);
    expect(attention.out.split('\n').find((line) => line.includes(paymentId))).toMatch(new RegExp(`not_refundable +${reference}`));

    // Run again, with or without --no-refund, it says so again until a person resolves the payment; nothing more is written.
    const again = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill']);
    const waive = await ops(['bookings', 'cancel', reference, '--reason', 'waive it', '--no-refund']);
    expect(again).toMatchObject({ code: 1, err: 'warning: nothing was refunded: the payment is in front of a person (`npm run ops -- attention list`)' });
    expect(again.out).toContain('none (its payment was not taken through a Stripe PaymentIntent');
    expect(waive.code).toBe(1);
    expect(waive.err).toBe(
      'warning: nothing was refunded: the payment is in front of a person (`npm run ops -- attention list`); ' +
        `--no-refund changes nothing on a booking cancelled before: \`payments resolve ${paymentId} --note TEXT\` closes it`,
    );
    expect(await store.listAudit('payment', paymentId)).toHaveLength(1);
    // Stored before the reason named its booking (no code), it is said again all the same: the share has no entry.
    await testDocumentClient().send(
      new UpdateCommand({ TableName: testTableName(), Key: keys.paymentRecord(paymentId), UpdateExpression: 'REMOVE attention.code' }),
    );
    expect(await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'])).toMatchObject({ code: 1, err: again.err });
    expect((await ops(['payments', 'resolve', paymentId, '--note', 'paid back at the desk'])).code).toBe(0);
    const resolved = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill']);
    expect(resolved).toMatchObject({ code: 0, err: '', out: expect.stringContaining('none (released before, without a refund of its own)') });
  });

  it('refuses to cancel a Stripe-paid booking without a way to refund it, unless --no-refund', async () => {
    const { store, slot, reference } = await bookedTrip();

    const refused = await ops(['bookings', 'cancel', reference, '--reason', 'x']);
    expect(refused).toMatchObject({ code: 2, err: expect.stringContaining('STRIPE_API_KEY') });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(3);

    expect((await ops(['bookings', 'cancel', reference, '--reason', 'x', '--no-refund'])).code).toBe(0);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(5);
  });
});

describe('ops trips', () => {
  it('shows a trip’s items and amount before it is booked, and says it has no bookings yet', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 5, priceAmount: 2_000 });
    const trip = await createPendingTrip(store, [[slot, 2]]);

    const shown = await ops(['trips', 'show', trip.tripId]);

    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/status\s+pending_payment/);
    expect(shown.out).toMatch(/amount\s+40\.00 EUR/);
    expect(shown.out).toMatch(new RegExp(`${slot.slotId}\\s+${slot.experienceId}\\s+\\S+\\s+\\S+\\s+2\\s+40\\.00 EUR`));
    expect(shown.out).toContain('No bookings yet.');
    // Ended without a payment, it never will have any.
    await store.commit({ at: new Date().toISOString(), tripTransition: { tripId: trip.tripId, from: ['pending_payment'], to: 'expired' } });
    const ended = await ops(['trips', 'show', trip.tripId]);
    expect(ended.out).toContain('No bookings: the trip ended expired.');
    expect(ended.out).not.toContain('yet');
  });

  it('shows until when a checkout holds the seats while the trip waits for its payment, and no hold once it is booked', async () => {
    const store = testStore();
    const fake = await startStripeFake();
    try {
      const trip = await checkedOutTrip(store, fake);
      const holdExpiresAt = (await trip.trip())?.holdExpiresAt as string;

      const waiting = await ops(['trips', 'show', trip.tripId]);
      expect((await webhookHarness(fake, { store }).send(signedRequest(await trip.pay()))).body.outcome).toBe('booked');
      const booked = await ops(['trips', 'show', trip.tripId]);

      expect(waiting.out).toMatch(new RegExp(`holdExpiresAt\\s+${holdExpiresAt}`));
      expect(booked.out).toMatch(/status\s+booked/);
      expect(booked.out).not.toContain('holdExpiresAt');
    } finally {
      await fake.close();
    }
  });
});

describe('ops check', () => {
  it('lists a slot whose availability drifted from its bookings, with exit 1', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 4 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    await confirmTrip(deps(store), confirmationOf(trip));
    await overwriteSlot({ ...slot, availableCount: 4 }); // lost a decrement

    const result = await ops(['check', '--json']);

    expect(result.code).toBe(1);
    const report = JSON.parse(result.out) as { drifted: { slotId: string; drift: number; confirmedGuests: number }[] };
    expect(report.drifted).toContainEqual(expect.objectContaining({ slotId: slot.slotId, drift: 1, confirmedGuests: 1 }));
    await overwriteSlot({ ...slot, availableCount: 3 }); // leave the file's table consistent for other runs of check
  });
});

describe('ops holds', () => {
  it('lists the seats checkouts hold, shows them on their slots, and checks that holds add up', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 4 });
    const fake = await startStripeFake();
    const started = await startCheckout(
      { store, checkout: new StripeCheckoutSessions(async () => fake.client()), clock: systemClock, ids: randomIds, holdMinutes: 30 },
      { userId: uniqueId('user'), items: [{ slotId: slot.slotId, guestCount: 3 }], successUrl: 'https://example.com/ok', cancelUrl: 'https://example.com/no' },
    );
    await fake.close();
    if (!started.ok) expect.fail(started.message);

    const holds = await ops(['holds', 'list']);
    const slots = JSON.parse((await ops(['slots', 'list', '--experience', slot.experienceId, '--json'])).out) as {
      availableCount: number;
      unheldCount: number;
    }[];
    expect(holds.out).toMatch(new RegExp(`${started.tripId}\\s+${slot.slotId}:3`));
    expect(slots[0]).toMatchObject({ availableCount: 4, unheldCount: 1 });
    expect((await ops(['slots', 'list', '--experience', slot.experienceId])).out).toMatch(/\s4\s+3\s+false/);

    await overwriteSlot({ ...slot, availableCount: 4, unheldCount: 4 }); // the hold's seats lost from the counter
    const check = await ops(['check', '--json']);
    expect(check.code).toBe(1);
    expect((JSON.parse(check.out) as { drifted: { slotId: string; holdDrift: number; heldGuests: number }[] }).drifted).toContainEqual(
      expect.objectContaining({ slotId: slot.slotId, heldGuests: 3, holdDrift: 3 }),
    );
    await overwriteSlot({ ...slot, availableCount: 4, unheldCount: 1 }); // leave the file's table consistent for other runs of check
  });
});

describe('a slot that no longer reads', () => {
  it('is named on stderr by slots list, with or without --experience, the others listed, exit 1; check does not call the table consistent', async () => {
    // A table of its own: `check` and the unfiltered list read every slot, and the file's table is its other tests' too.
    const own = await storeOnOwnTable();
    const experienceId = uniqueId('exp');
    const good = await seedSlot(own, { experienceId, capacity: 3 });
    const broken = await seedSlot(own, { experienceId, capacity: 3 });
    await spoilSlotCounts(own.tableName, broken.slotId);
    const onOwn = (...argv: string[]) => ops(argv, undefined, {}, own.tableName);

    const ofExperience = await onOwn('slots', 'list', '--experience', experienceId);
    const all = await onOwn('slots', 'list');
    const checked = await onOwn('check');

    for (const listed of [ofExperience, all]) {
      expect(listed.code).toBe(1);
      expect(listed.err).toMatch(new RegExp(`^warning: .*${broken.slotId}`));
      expect(listed.out).toContain(good.slotId);
      expect(listed.out).not.toContain(broken.slotId);
    }
    expect(checked.code).toBe(1);
    expect(checked.out).not.toContain('slots checked');
    expect(checked.err).toContain(`unusable slot ${broken.slotId}`);
    expect(checked.err).toContain('1 item above no longer reads: the check could not look at it.');
  });

  it('is not changed by slots block or set-capacity, which say the item no longer reads, exit 1', async () => {
    const store = testStore();
    const broken = await seedSlot(store, { capacity: 3 });
    await spoilSlotCounts(testTableName(), broken.slotId);
    const before = await testDocumentClient().send(new GetCommand({ TableName: testTableName(), Key: keys.slot(broken.slotId) }));

    for (const argv of [
      ['slots', 'block', broken.slotId],
      ['slots', 'set-capacity', broken.slotId, '6'],
    ]) {
      const refused = await ops(argv);
      expect(refused.code).toBe(1);
      expect(refused.err.split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^error: STORED_DATA_UNUSABLE: Stored slot ${broken.slotId} is unusable: .*; nothing was changed: repair the item`)),
      ]);
    }
    const after = await testDocumentClient().send(new GetCommand({ TableName: testTableName(), Key: keys.slot(broken.slotId) }));
    expect(after.Item).toEqual(before.Item);
  });
});
