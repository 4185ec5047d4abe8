// `npm start`'s stack over real HTTP: the same webhook handler behind the local API Gateway adapter, seeded, and stopped cleanly.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkoutSession, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { DEMO_SLOTS } from '../../scripts/local/demo-data';
import { canConnect, findFreePort } from '../../scripts/dev-kit/dynamodb-local';
import { isClaimFile } from '../../scripts/local/data-folder';
import { STAND_IN_STATE_FILE, startLocalStack, type LocalStack, type LocalStackOptions } from '../../scripts/local/local-stack';
import { LOCAL_SIGNING_SECRET, LocalSettingError } from '../../scripts/local/local-settings';
import { createTrip } from '../../lambdas/shared/domain/create-trip';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { LOCAL_INDEXES } from '../support/store';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { LATE, within } from '../../lambdas/shared/invocation-deadline';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { type Slot, unheldSeats } from '../../lambdas/shared/domain/model';

/** A stack of the test's own, in memory, on free ports. */
async function startTestStack(tableName: string, options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return startLocalStack({
    port: 0,
    dynamoPort: await findFreePort(),
    tableName,
    dataDir: 'unused',
    inMemory: true,
    extraSigningSecrets: ['whsec_from_stripe_listen'],
    logLevel: 'SILENT',
    ...options,
  });
}

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack('local-stack-test');
});
afterAll(() => stack?.stop());

function post(body: string, headers: Record<string, string>) {
  return fetch(stack.webhookUrl, { method: 'POST', body, headers });
}

describe('local stack', () => {
  it('seeds the demo inventory consistently: one slot blocked, one with a single seat left', async () => {
    expect([...stack.seededSlots].sort()).toEqual(
      Object.values(DEMO_SLOTS)
        .map((slot) => slot.slotId)
        .sort(),
    );
    const slots = await stack.store.getSlots(Object.values(DEMO_SLOTS).map((slot) => slot.slotId));
    expect(slots.get(DEMO_SLOTS.baturSunriseClosed.slotId)?.isBlocked).toBe(true);
    expect(slots.get(DEMO_SLOTS.nusaSnorkel.slotId)?.availableCount).toBe(1);
    expect((await checkConsistency(stack.store, LOCAL_INDEXES)).drifted).toEqual([]);
  });

  it('books a trip from a signed event POSTed over HTTP, with the local secret or the one `stripe listen` gave', async () => {
    const deps = { store: stack.store, clock: systemClock, ids: randomIds };
    for (const secret of [LOCAL_SIGNING_SECRET, 'whsec_from_stripe_listen']) {
      const { riceTerraces } = DEMO_SLOTS;
      const created = await createTrip(deps, {
        userId: 'user-http',
        items: [{ experienceId: riceTerraces.experienceId, slotId: riceTerraces.slotId, guestCount: 1 }],
      });
      if (!created.ok) expect.fail(created.message);
      const payload = JSON.stringify(stripeEvent('checkout.session.completed', checkoutSession(created.trip)));

      const response = await post(payload, {
        'content-type': 'application/json',
        'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }),
      });

      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ outcome: 'booked', tripId: created.trip.tripId });
    }
  });

  it('passes a non-text body base64-encoded, as API Gateway does, and still verifies its exact bytes', async () => {
    const payload = JSON.stringify(stripeEvent('customer.created', { id: 'cus_1', object: 'customer' }));
    const response = await post(payload, {
      'content-type': 'application/octet-stream',
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: LOCAL_SIGNING_SECRET }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, ignored: 'customer.created' });
  });

  it('answers 400 to an unsigned request and 404 to any other route, like API Gateway', async () => {
    expect((await post('{}', { 'content-type': 'application/json' })).status).toBe(400);
    const other = await fetch(stack.webhookUrl.replace('/webhooks/stripe', '/admin'), { method: 'GET' });
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ message: 'Not Found' });
  });

  it('takes a checkout through the front door and its payment page as a browser does: load the page, press Pay, follow the redirect; the trip is booked', async () => {
    const arrivals: string[] = [];
    const successPage = createServer((request, response) => {
      arrivals.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<p>Thank you</p>');
    });
    await new Promise<void>((resolve) => successPage.listen(0, '127.0.0.1', resolve));
    const successUrl = `http://127.0.0.1:${(successPage.address() as AddressInfo).port}/done?session={CHECKOUT_SESSION_ID}`;
    const { riceTerraces } = DEMO_SLOTS;

    const started = await fetch(stack.checkoutUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        userId: 'user-browser',
        items: [{ slotId: riceTerraces.slotId, guestCount: 2 }],
        successUrl,
        cancelUrl: `${successUrl}&cancelled=1`,
      }),
    });
    const answer = (await started.json()) as { tripId: string; checkoutUrl: string };
    const page = await fetch(answer.checkoutUrl);
    const html = await page.text();
    const form = /<form[^>]*method="post"[^>]*action="([^"]*\/pay)"/i.exec(html) ?? /<form[^>]*action="([^"]*\/pay)"[^>]*method="post"/i.exec(html);
    const landed = await fetch(new URL(form?.[1] ?? `${answer.checkoutUrl}/pay`, answer.checkoutUrl), { method: 'POST' });
    successPage.close();

    expect(started.status).toBe(201);
    expect(page.status).toBe(200);
    expect(html).toMatch(/Pay later/);
    expect(landed.status).toBe(200);
    expect(await landed.text()).toContain('Thank you');
    expect(arrivals).toEqual([expect.stringMatching(/^\/done\?session=cs_/)]);
    expect((await stack.store.getTrip(answer.tripId))?.status).toBe('booked');
    expect((await checkConsistency(stack.store, LOCAL_INDEXES)).drifted).toEqual([]);
  });
});

describe('GET /trips/{tripId} on the local stack', () => {
  it('is where a checkout whose success URL holds {TRIP_ID} lands after Pay: the trip as it is, its bookings and what was paid', async () => {
    const { riceTerraces } = DEMO_SLOTS;
    const returnUrl = `${stack.tripUrl.replace('{tripId}', '{TRIP_ID}')}?userId=user-returning`;
    const started = await fetch(stack.checkoutUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'user-returning', items: [{ slotId: riceTerraces.slotId, guestCount: 1 }], successUrl: returnUrl, cancelUrl: returnUrl }),
    });
    const { tripId, checkoutUrl } = (await started.json()) as { tripId: string; checkoutUrl: string };

    const landed = await fetch(`${checkoutUrl}/pay`, { method: 'POST' });
    const stranger = await fetch(stack.tripUrl.replace('{tripId}', tripId));

    expect(landed.url).toBe(`http://127.0.0.1:${new URL(stack.tripUrl).port}/trips/${tripId}?userId=user-returning`);
    expect(landed.status).toBe(200);
    expect(await landed.json()).toMatchObject({
      tripId,
      status: 'booked',
      amount: riceTerraces.priceAmount,
      paid: riceTerraces.priceAmount,
      bookings: [{ reference: expect.stringMatching(/^PL-/), slotId: riceTerraces.slotId, guestCount: 1, status: 'confirmed' }],
    });
    expect(stranger.status).toBe(400);
    expect(await stranger.json()).toMatchObject({ error: 'VALIDATION_FAILED', field: 'userId' });
  });
});

describe('the Stripe CLI path (`stripe listen` forwarding to the local webhook)', () => {
  /** Stripe's own example session (test/fixtures/stripe): the shape `stripe listen` forwards. */
  const stripeExample = (): Record<string, unknown> =>
    JSON.parse(readFileSync(new URL('../fixtures/stripe/2026-07-29.dahlia/checkout.session.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const forward = (object: Record<string, unknown>) => {
    const payload = JSON.stringify(stripeEvent('checkout.session.completed', object));
    return post(payload, {
      'content-type': 'application/json',
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_from_stripe_listen' }),
    });
  };

  it('acknowledges and ignores what `stripe trigger checkout.session.completed` sends: a session that is not ours', async () => {
    const { metadata: _none, ...unmarked } = stripeExample();
    const response = await forward({ ...unmarked, payment_status: 'paid', status: 'complete', amount_total: 3_000, currency: 'usd', metadata: {} });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ received: true });
  });

  it('books a trip from a session of that shape carrying our mark, trip id and amount, as POST /checkout opens them', async () => {
    const { riceTerraces } = DEMO_SLOTS;
    const created = await createTrip(
      { store: stack.store, clock: systemClock, ids: randomIds },
      { userId: 'user-stripe-cli', items: [{ experienceId: riceTerraces.experienceId, slotId: riceTerraces.slotId, guestCount: 1 }] },
    );
    if (!created.ok) expect.fail(created.message);
    const { trip } = created;

    const response = await forward({
      ...stripeExample(),
      metadata: { [TRIP_MARK]: trip.tripId, userId: trip.userId },
      client_reference_id: trip.tripId,
      payment_intent: `pi_cli${trip.tripId.replace(/-/g, '').slice(-12)}`,
      payment_status: 'paid',
      status: 'complete',
      amount_total: trip.amount,
      amount_subtotal: trip.amount,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      currency: trip.currency,
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ outcome: 'booked', tripId: trip.tripId });
    expect((await stack.store.getTrip(trip.tripId))?.status).toBe('booked');
  });
});

describe('two local stacks on one Stripe account (`stripe listen` forwards every session of the account to both)', () => {
  /** A session the stack's own checkout opened, as its Stripe (here the stand-in) holds it, then paid. */
  async function paidSessionOpenedBy(opener: LocalStack, userId: string): Promise<Record<string, unknown>> {
    const started = await fetch(opener.checkoutUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        userId,
        items: [{ slotId: DEMO_SLOTS.riceTerraces.slotId, guestCount: 1 }],
        successUrl: 'http://127.0.0.1/done',
        cancelUrl: 'http://127.0.0.1/cart',
      }),
    });
    const { tripId } = (await started.json()) as { tripId: string };
    const sessionId = (await opener.store.getTrip(tripId))?.checkoutSessionId;
    const held = await fetch(`${opener.stripeApiBase}/v1/checkout/sessions/${sessionId}`, { headers: { authorization: 'Bearer sk_test_local' } });
    const paymentIntent = `pi_twostacks${tripId.replace(/-/g, '').slice(-12)}`;
    return { ...((await held.json()) as Record<string, unknown>), payment_intent: paymentIntent, payment_status: 'paid', status: 'complete' };
  }
  const deliver = (to: LocalStack, session: Record<string, unknown>) => {
    const payload = JSON.stringify(stripeEvent('checkout.session.completed', session));
    return fetch(to.webhookUrl, {
      method: 'POST',
      body: payload,
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: LOCAL_SIGNING_SECRET }) },
    });
  };

  it('each books its own sessions and leaves the other’s alone, though both tables have the one default name', async () => {
    const other = await startTestStack('local-stack-test');
    try {
      const session = await paidSessionOpenedBy(stack, 'user-two-stacks');
      const tripId = (session.metadata as Record<string, string>).pulau_trip_id as string;

      const atTheOther = await deliver(other, session);
      const atItsOwn = await deliver(stack, session);

      expect(atTheOther.status).toBe(200);
      expect(await atTheOther.json()).toEqual({ received: true, ignored: 'checkout.session.completed' });
      expect(await other.store.getPaymentRecord(session.payment_intent as string)).toBeUndefined();
      expect(await atItsOwn.json()).toMatchObject({ outcome: 'booked', tripId });
      expect((await stack.store.getTrip(tripId))?.status).toBe('booked');
    } finally {
      await other.stop();
    }
  });

  it('keeps its mark with its data: a session opened before a restart is booked after it, and `--reset` starts a new mark', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-mark-'));
    const onDisk = (reset = false) => startTestStack('local-stack-mark-test', { inMemory: false, dataDir, reset });
    const marks: string[] = [];
    try {
      const first = await onDisk();
      marks.push(first.mark);
      const session = await paidSessionOpenedBy(first, 'user-restarting').finally(() => first.stop());
      const restarted = await onDisk();
      marks.push(restarted.mark);
      const answer = await deliver(restarted, session).finally(() => restarted.stop());
      const reset = await onDisk(true);
      marks.push(reset.mark);
      await reset.stop();

      expect(await answer.json()).toMatchObject({ outcome: 'booked' });
      expect(marks[0]).toMatch(/^local-stack-mark-test\/local-[0-9a-f]{8}$/);
      expect(marks[1]).toBe(marks[0]);
      expect(marks[2]).not.toBe(marks[0]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('local stack, restarted on its data', () => {
  /** A stack on `dataDir` whose stand-in listens on `stripePort` each time, as `npm start` does on STRIPE_PORT. */
  const onDisk = async (dataDir: string, stripePort: number) => startTestStack('local-stack-restart-test', { inMemory: false, dataDir, stripePort });
  const checkout = (at: LocalStack, key: string) =>
    fetch(at.checkoutUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({
        userId: 'user-restarting',
        items: [{ slotId: DEMO_SLOTS.riceTerraces.slotId, guestCount: 1 }],
        successUrl: 'http://127.0.0.1/done',
        cancelUrl: 'http://127.0.0.1/cancelled',
      }),
    });

  it('keeps the stand-in’s pages and payments: a page opened before a restart is answered again, paid after it and booked, and its payment is the amount paid', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-stand-in-'));
    const stripePort = await findFreePort();
    try {
      const first = await onDisk(dataDir, stripePort);
      const opened = await checkout(first, 'key-restart').finally(() => first.stop());
      const { tripId, checkoutUrl } = (await opened.json()) as { tripId: string; checkoutUrl: string };

      const restarted = await onDisk(dataDir, stripePort);
      try {
        const retried = await checkout(restarted, 'key-restart');
        const page = await fetch(checkoutUrl);
        const paid = await fetch(`${checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' });
        const trip = await restarted.store.getTrip(tripId);
        // The stand-in knows what was charged: a refund of more is refused, as Stripe refuses it.
        const stripe = new Stripe('sk_test_local', { host: '127.0.0.1', port: stripePort, protocol: 'http', maxNetworkRetries: 0 });
        const tooMuch = await stripe.refunds
          .create({ payment_intent: trip?.paymentId as string, amount: DEMO_SLOTS.riceTerraces.priceAmount + 1 })
          .catch((error: unknown) => error);

        expect(opened.status).toBe(201);
        expect(retried.status).toBe(200);
        expect(await retried.json()).toMatchObject({ tripId, checkoutUrl });
        expect(page.status).toBe(200);
        expect(paid.status).toBe(303);
        expect(trip).toMatchObject({ status: 'booked', paymentId: expect.stringMatching(/^pi_/) });
        expect(tooMuch).toMatchObject({ type: 'StripeInvalidRequestError', code: 'amount_too_large' });
      } finally {
        await restarted.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.each([
    ['does not read', '{"format":', 'does not read \\(.*\\)'],
    ['holds no state of the stand-in', 'null', 'is not a state file of this stand-in \\(format 1; at \\(the whole file\\)\\)'],
  ])('refuses a stand-in state file that %s, naming it, and leaves nothing running', async (_, content, problem) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-stand-in-'));
    writeFileSync(join(dataDir, STAND_IN_STATE_FILE), content);
    const dynamoPort = await findFreePort();
    try {
      const refused = await startTestStack('local-stack-restart-test', { inMemory: false, dataDir, dynamoPort }).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(LocalSettingError);
      expect((refused as Error).message).toMatch(
        new RegExp(`^the Stripe stand-in's state in DATA_DIR cannot be used: ${join(dataDir, STAND_IN_STATE_FILE)} ${problem}; remove that file`),
      );
      expect(await canConnect(dynamoPort)).toBe(false);
      expect(readdirSync(dataDir).filter(isClaimFile)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a restart on another STRIPE_PORT than its payment pages name, saying which to set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-stand-in-'));
    const stripePort = await findFreePort();
    let otherPort = await findFreePort();
    while (otherPort === stripePort) otherPort = await findFreePort();
    try {
      const first = await onDisk(dataDir, stripePort);
      await checkout(first, 'key-port').finally(() => first.stop());

      const moved = await onDisk(dataDir, otherPort).catch((error: unknown) => error);

      expect(moved).toBeInstanceOf(LocalSettingError);
      expect((moved as Error).message).toContain(`holds payment pages at port ${stripePort}, not ${otherPort}: start it with STRIPE_PORT=${stripePort}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('local stack, holds', () => {
  it('gives the seats of a checkout left open back to sale once it expires, on the hold sweeper’s schedule as in AWS', async () => {
    // A stack of its own whose sweep runs often and whose clock goes past the hold's expiry once the checkout has its
    // page: before, the sweep would find a hold run out with no page yet, and end the checkout being made.
    let ahead = 0;
    const later = { now: () => new Date(Date.now() + ahead) };
    const own = await startTestStack('local-stack-holds-test', { holdSweepEveryMs: 50, scheduleClock: later });
    try {
      const { riceTerraces } = DEMO_SLOTS;
      const unheld = async () => unheldSeats((await own.store.getSlots([riceTerraces.slotId])).get(riceTerraces.slotId) as Slot);
      const before = await unheld();
      const started = await fetch(own.checkoutUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          userId: 'user-left',
          items: [{ slotId: riceTerraces.slotId, guestCount: 2 }],
          successUrl: 'http://127.0.0.1/done',
          cancelUrl: 'http://127.0.0.1/cancelled',
        }),
      });
      const { tripId } = (await started.json()) as { tripId: string };
      expect(started.status).toBe(201);
      ahead = 3 * 3_600_000;

      // Held (the schedule may already have run since); nobody looks at its payment page again: the schedule alone gives
      // the seats back.
      const released = async () => (await own.store.listAudit('trip', tripId)).map((entry) => entry.eventType).includes('trip.hold_released');
      while (!(await released())) await own.store.getTrip(tripId);

      expect((await own.store.listAudit('trip', tripId)).map((entry) => entry.eventType)).toEqual(['trip.held', 'trip.hold_released']);
      expect(await unheld()).toBe(before);
      expect((await checkConsistency(own.store, LOCAL_INDEXES)).drifted).toEqual([]);
      expect(await own.sweepHolds()).toEqual({ released: [], alreadySettled: [], unreadableTrips: [], heldByUnusableSlots: [] });
    } finally {
      await own.stop();
    }
  });

  it('waits, when it stops, for the hold sweep under way: the hold it was giving back is given back, and no failure of it is said', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-hold-stop-'));
    const stripePort = await findFreePort();
    const said = vi.spyOn(process.stdout, 'write');
    const saidOnStderr = vi.spyOn(process.stderr, 'write');
    try {
      // Ctrl-C lands as a run of the sweep, having found the hold run out, looks at the clock to give it back.
      let ahead = 0;
      let looksAhead = 0;
      let stopping: Promise<void> | undefined;
      let own: LocalStack | undefined;
      const later = {
        now: () => {
          if (ahead > 0 && ++looksAhead === 2) stopping = own?.stop();
          return new Date(Date.now() + ahead);
        },
      };
      own = await startTestStack('local-stack-hold-stop-test', {
        inMemory: false,
        dataDir,
        stripePort,
        holdSweepEveryMs: 20,
        scheduleClock: later,
        logLevel: 'ERROR',
      });
      const started = await fetch(own.checkoutUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          userId: 'user-stopping',
          items: [{ slotId: DEMO_SLOTS.riceTerraces.slotId, guestCount: 1 }],
          successUrl: 'http://127.0.0.1/done',
          cancelUrl: 'http://127.0.0.1/cancelled',
        }),
      });
      expect(started.status).toBe(201);
      const { tripId } = (await started.json()) as { tripId: string };
      ahead = 3 * 3_600_000;
      // (A read in flight as the stop lands may meet DynamoDB Local gone: it is not what is tested.)
      while (stopping === undefined) await own.store.getTrip(tripId).catch(() => undefined);
      await stopping;

      // On its data again, with the clock of now: this stack's sweep gives back no hold that has not run out.
      const restarted = await startTestStack('local-stack-hold-stop-test', { inMemory: false, dataDir, stripePort });
      try {
        expect((await restarted.store.listAudit('trip', tripId)).map((entry) => entry.eventType)).toEqual(['trip.held', 'trip.hold_released']);
        expect((await checkConsistency(restarted.store, LOCAL_INDEXES)).drifted).toEqual([]);
      } finally {
        await restarted.stop();
      }
      const lines = [...said.mock.calls, ...saidOnStderr.mock.calls].map(([chunk]) => String(chunk));
      expect(lines.filter((line) => line.includes('hold sweep'))).toEqual([]);
    } finally {
      said.mockRestore();
      saidOnStderr.mockRestore();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** A checkout through the front door, paid on the stand-in's page (its redirect not followed: no return page runs). */
async function checkoutPaidOn(own: LocalStack, userId: string, guestCount = 1): Promise<string> {
  const started = await fetch(own.checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      userId,
      items: [{ slotId: DEMO_SLOTS.riceTerraces.slotId, guestCount }],
      successUrl: 'http://127.0.0.1/done',
      cancelUrl: 'http://127.0.0.1/cancelled',
    }),
  });
  expect(started.status).toBe(201);
  const { tripId, checkoutUrl } = (await started.json()) as { tripId: string; checkoutUrl: string };
  expect((await fetch(`${checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
  return tripId;
}

describe('local stack, reconciliation sweep', () => {
  it('books, on its schedule as in AWS, a paid trip whose event never reached the webhook, and only once', async () => {
    // Ahead of the events by more than the sweep leaves them to settle (and the webhook to take them), less than a hold.
    const later = { now: () => new Date(Date.now() + 10 * 60_000) };
    const own = await startTestStack('local-stack-reconcile-test', { reconcileEveryMs: 50, scheduleClock: later });
    try {
      own.standIn?.dropNextDeliveries(1);
      const tripId = await checkoutPaidOn(own, 'user-lost-delivery', 2);
      const [event] = (own.standIn?.events ?? []).filter((candidate) => candidate.type === 'checkout.session.completed');

      // Nothing was delivered: the schedule alone books it.
      while ((await own.store.getTrip(tripId))?.status !== 'booked') await own.store.getTrip(tripId);

      expect(event).toBeDefined();
      expect(own.standIn?.deliveries.map((delivery) => delivery.eventId)).not.toContain(event?.id);
      expect(await own.store.getProcessedEvent(event?.id ?? '')).toMatchObject({ outcome: 'booked' });
      const bookings = await own.store.listBookingsOfTrip(tripId);
      expect(bookings).toHaveLength(1);
      expect(bookings[0]).toMatchObject({ status: 'confirmed', guestCount: 2 });
      // A run after it finds the event processed: nothing more.
      const again = await own.reconcile();
      expect(again).toMatchObject({ processed: 0, missedDeliveries: 0 });
      expect(await own.store.listBookingsOfTrip(tripId)).toHaveLength(1);
      expect((await checkConsistency(own.store, LOCAL_INDEXES)).drifted).toEqual([]);
    } finally {
      await own.stop();
    }
  });

  it('runs first when told after the start, not a whole period later (npm start: half a minute)', async () => {
    const own = await startTestStack('local-stack-reconcile-first-test', { reconcileFirstAfterMs: 0, reconcileEveryMs: 3_600_000 });
    try {
      // The first run writes the test mode's cursor; the next would come an hour later.
      while ((await own.store.getEventCursor('stripe')) === undefined) await own.store.getTrip('none');
      expect(await own.store.getEventCursor('stripe')).toMatchObject({ source: 'stripe', mode: 'test' });
    } finally {
      await own.stop();
    }
  });

  it('asks Stripe again for a refund it did not take, once however often it runs, and the money goes back', async () => {
    let ahead = 0;
    const later = { now: () => new Date(Date.now() + ahead) };
    const own = await startTestStack('local-stack-refunds-due-test', { scheduleClock: later });
    try {
      const tripId = await checkoutPaidOn(own, 'user-refund-due', 1);
      const [booking] = await own.store.listBookingsOfTrip(tripId);
      const trip = await own.store.getTrip(tripId);
      const paymentId = booking?.paymentId ?? '';
      const deps = { store: own.store, gateway: new StripePaymentGateway(async () => own.standIn?.client() as Stripe), clock: systemClock, ids: randomIds };
      own.standIn?.failNext(1);
      // Stripe failed it: the booking is cancelled, its refund stored as requested, and the caller told.
      const cancelling = cancelBooking(deps, { reference: booking?.reference ?? '', reason: 'asked by the traveller', refund: true });
      await expect(cancelling).rejects.toThrow(PaymentGatewayUnavailableError);
      expect((await own.store.getPaymentRecord(paymentId))?.refunds).toEqual([expect.objectContaining({ status: 'requested' })]);
      expect(own.standIn?.totalRefunded(paymentId)).toBe(0);

      // Younger than the sweep leaves to the call that stored it: not asked yet.
      expect(await own.reconcile()).toMatchObject({ refundsResumed: 0 });
      ahead = 10 * 60_000;
      // Asked for twice at once (the schedule and a developer's call): one run, one refund.
      const [first, second] = await Promise.all([own.reconcile(), own.reconcile()]);
      expect(first).toMatchObject({ refundsResumed: 1, overdueRefunds: 0 });
      expect(second).toBe(first);
      // And again a day later, when Stripe has forgotten the key: nothing is due any more.
      own.standIn?.advance(25 * 3_600_000);
      ahead = 25 * 3_600_000;
      expect(await own.reconcile()).toMatchObject({ refundsResumed: 0, overdueRefunds: 0 });

      expect(own.standIn?.totalRefunded(paymentId)).toBe(trip?.amount);
      expect(own.standIn?.refundsOf(paymentId)).toHaveLength(1);
      expect((await own.store.getPaymentRecord(paymentId))?.refunds).toEqual([expect.objectContaining({ status: 'succeeded', amount: trip?.amount })]);
    } finally {
      await own.stop();
    }
  });
});

describe('local stack, stopping while the reconciliation sweep runs', () => {
  it('stops in seconds while Stripe is slow on the refunds due, begins no more of them, and refunds none twice', async () => {
    let ahead = 0;
    const later = { now: () => new Date(Date.now() + ahead) };
    const own = await startTestStack('local-stack-stop-slow-stripe-test', { scheduleClock: later });
    const standIn = own.standIn as NonNullable<LocalStack['standIn']>;
    const deps = { store: own.store, gateway: new StripePaymentGateway(async () => standIn.client()), clock: systemClock, ids: randomIds };
    const payments: string[] = [];
    try {
      // Three cancellations while Stripe was down: three refunds stored as requested.
      for (const user of ['one', 'two', 'three']) {
        const tripId = await checkoutPaidOn(own, `user-stop-${user}`);
        const [booking] = await own.store.listBookingsOfTrip(tripId);
        payments.push(booking?.paymentId ?? '');
        standIn.failNext(1);
        await expect(cancelBooking(deps, { reference: booking?.reference ?? '', reason: 'asked', refund: true })).rejects.toThrow(
          PaymentGatewayUnavailableError,
        );
      }
      ahead = 10 * 60_000;
      // Stripe takes them now, but its answers are lost on the way: each call waits for the client's timeout.
      standIn.leaveNextRefundsUnanswered(3);
      const run = own.reconcile();
      const ran = run.then(
        () => 'ended',
        () => 'failed',
      );
      while (standIn.calls.filter((call) => call.path === '/v1/refunds' && call.method === 'POST').length < 4) await own.store.getTrip('none');

      const stopping = own.stop();
      expect(await within(stopping, 5_000)).not.toBe(LATE);
      expect(await ran).toMatch(/ended|failed/);
      // The payment asked for when the stop came was the last one begun; none was refunded twice.
      expect(payments.filter((paymentId) => standIn.refundsOf(paymentId).length > 0)).toHaveLength(1);
      for (const paymentId of payments) expect(standIn.refundsOf(paymentId).length).toBeLessThanOrEqual(1);
    } finally {
      await own.stop();
    }
  }, 90_000);

  it('cut short while it goes over events already processed, keeps the window width it had: a stop says nothing of Stripe’s pace', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'local-stack-stop-window-'));
    const stripePort = await findFreePort();
    let ahead = 0;
    const later = { now: () => new Date(Date.now() + ahead) };
    const onDisk = () => startTestStack('local-stack-stop-window-test', { inMemory: false, dataDir, stripePort, scheduleClock: later });
    try {
      const own = await onDisk();
      try {
        for (const user of ['one', 'two', 'three']) await checkoutPaidOn(own, `user-stop-window-${user}`);
        // A first run 10 minutes later: the three events processed by the webhook fall in the next run's overlap.
        ahead = 10 * 60_000;
        await own.reconcile();
        expect(await own.store.getEventCursor('stripe')).not.toHaveProperty('windowSeconds');
        // The next run, 15 minutes on: Ctrl-C lands as it looks up the first event of its window.
        ahead = 25 * 60_000;
        const store = own.store as unknown as { getProcessedEvent(eventId: string): Promise<unknown> };
        const lookUp = store.getProcessedEvent.bind(store);
        let stopping: Promise<void> | undefined;
        store.getProcessedEvent = (eventId) => {
          stopping ??= own.stop();
          return lookUp(eventId);
        };
        await own.reconcile().catch(() => undefined);
        await stopping;
      } finally {
        await own.stop();
      }
      const restarted = await onDisk();
      try {
        expect(await restarted.store.getEventCursor('stripe')).not.toHaveProperty('windowSeconds');
      } finally {
        await restarted.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('asks Stripe for no further page of its events once a stop is asked', async () => {
    let ahead = 0;
    const later = { now: () => new Date(Date.now() + ahead) };
    const own = await startTestStack('local-stack-stop-pages-test', { scheduleClock: later });
    const standIn = own.standIn as NonNullable<LocalStack['standIn']>;
    try {
      await checkoutPaidOn(own, 'user-stop-pages');
      ahead = 10 * 60_000;
      await own.reconcile();
      // 350 more events in the next run's window (another stack's, as far as this one can tell): four pages of 100.
      const [completed] = standIn.events.filter((event) => event.type === 'checkout.session.completed');
      for (let i = 0; i < 350; i++) standIn.events.push({ ...structuredClone(completed), id: `evt_other_${String(i).padStart(4, '0')}` } as never);
      ahead = 20 * 60_000;
      // Ctrl-C lands as Stripe is asked for the window's first page.
      const calls = standIn.calls as { method: string; path: string }[];
      const record = calls.push.bind(calls);
      let stopping: Promise<void> | undefined;
      let pagesAfterStop = 0;
      calls.push = (...made) => {
        const pages = made.filter((call) => call.method === 'GET' && call.path === '/v1/events').length;
        if (pages > 0 && stopping === undefined) stopping = own.stop();
        else pagesAfterStop += pages;
        return record(...made);
      };
      await own.reconcile().catch(() => undefined);
      await stopping;

      expect(stopping).toBeDefined();
      expect(pagesAfterStop).toBe(0);
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('stops even when DynamoDB Local stopped answering under a run', async () => {
    const own = await startTestStack('local-stack-stop-frozen-test');
    const java = own.dynamoPid;
    try {
      process.kill(java, 'SIGSTOP');
      own.reconcile().catch(() => undefined);
      expect(await within(own.stop(), 15_000)).not.toBe(LATE);
      expect(() => process.kill(java, 0)).toThrow();
    } finally {
      try {
        process.kill(java, 'SIGCONT');
      } catch {
        // Gone, as it should be.
      }
    }
  }, 40_000);
});

describe('local stack, stopping', () => {
  // A stack of its own: stopping the shared one would break whichever test ran after it.
  it('stops DynamoDB Local when it stops', async () => {
    const own = await startTestStack('local-stack-stop-test');
    const pid = own.dynamoPid;
    await own.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
