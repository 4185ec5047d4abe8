// Where checkout meets the payment ledger and the data it stands on: a held trip whose slot was deleted, a checkout whose Stripe answer was lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats, type Slot, type Trip } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type CheckoutSessions } from '../../lambdas/shared/domain/payment-gateway';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { deleteSlot, readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { checkoutSession, paymentIntentId, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const store = testStore();
const urls = { successUrl: 'https://example.com/done', cancelUrl: 'https://example.com/cancelled' };

function checkoutDeps(sessions: CheckoutSessions = new StripeCheckoutSessions(async () => fake.client()), clock: Clock = systemClock) {
  return { store, checkout: sessions, clock, ids: randomIds, holdMinutes: 30 };
}

/** A trip checked out on two slots (its seats held), then the second slot removed. */
async function heldTripWithAMissingSlot() {
  const kept = await seedSlot(store, { capacity: 4 });
  const gone = await seedSlot(store, { capacity: 4 });
  const started = await startCheckout(checkoutDeps(), {
    userId: uniqueId('user'),
    items: [
      { slotId: kept.slotId, guestCount: 2 },
      { slotId: gone.slotId, guestCount: 1 },
    ],
    ...urls,
  });
  if (!started.ok) expect.fail(`checkout failed: ${started.errorCode}`);
  await deleteSlot(gone.slotId);
  const trip = (await store.getTrip(started.tripId)) as Trip;
  return { kept, gone, trip };
}

async function counts(slot: Slot): Promise<{ available: number; unheld: number }> {
  const now = (await readSlot(store, slot.slotId)) as Slot;
  return { available: now.availableCount, unheld: unheldSeats(now) };
}

describe('a held trip whose slot no longer exists', () => {
  it('refunds its payment (SLOT_NOT_FOUND, 200) and gives back the seats held on the slot still there, instead of 500 on every delivery', async () => {
    const { kept, trip } = await heldTripWithAMissingSlot();
    const paymentIntent = paymentIntentId();
    fake.registerPayment(paymentIntent, trip.amount);
    const webhook = webhookHarness(fake, { store });
    const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent }));

    const first = await webhook.send(signedRequest(event));
    const redelivered = await webhook.send(signedRequest(event));

    expect(first).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'SLOT_NOT_FOUND' } });
    expect(redelivered.status).toBe(200);
    expect(fake.totalRefunded(paymentIntent)).toBe(trip.amount);
    expect((await store.getTrip(trip.tripId))?.status).toMatch(/^refund(ed|_pending)$/);
    expect((await store.getHold(trip.tripId))?.status).toBe('released');
    expect(await counts(kept)).toEqual({ available: 4, unheld: 4 });
  });

  it('ends the trip when its session expires (200), instead of 500 on every delivery', async () => {
    const { kept, trip } = await heldTripWithAMissingSlot();
    const webhook = webhookHarness(fake, { store });
    const event = stripeEvent('checkout.session.expired', { ...checkoutSession(trip, { paymentIntent: null, paymentStatus: 'unpaid' }), status: 'expired' });

    const response = await webhook.send(signedRequest(event));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'expired' } });
    expect((await store.getTrip(trip.tripId))?.status).toBe('expired');
    expect(await counts(kept)).toEqual({ available: 4, unheld: 4 });
  });

  it('is released by the sweeper once expired, its seats on the slot still there back to sale, instead of held for ever', async () => {
    const { kept, trip } = await heldTripWithAMissingSlot();
    const afterExpiry: Clock = { now: () => new Date(Date.parse(trip.holdExpiresAt as string) + 60_000) };

    await releaseExpiredHolds({ store, clock: afterExpiry, ids: randomIds });

    expect((await store.getHold(trip.tripId))?.status).not.toBe('held');
    expect(await counts(kept)).toEqual({ available: 4, unheld: 4 });
  });
});

describe('a checkout retried with its Idempotency-Key after Stripe created the session but its answer was lost', () => {
  it('continues with the session Stripe made (200, the same trip), instead of refusing it for good and releasing the seats', async () => {
    const slot = await seedSlot(store, { capacity: 3 });
    const real = new StripeCheckoutSessions(async () => fake.client());
    let calls = 0;
    // The first call reaches Stripe, which creates the session; the answer never comes back (a timeout).
    const lossy: CheckoutSessions = {
      async createSession(request) {
        calls++;
        const session = await real.createSession(request);
        if (calls === 1) throw new PaymentGatewayUnavailableError(`Stripe did not answer (session ${session.sessionId} was made)`);
        return session;
      },
    };
    const body = { userId: uniqueId('user'), items: [{ slotId: slot.slotId, guestCount: 2 }], ...urls, idempotencyKey: uniqueId('key') };
    const aMinuteLater: Clock = { now: () => new Date(Date.now() + 60_000) };

    await expect(startCheckout(checkoutDeps(lossy), body)).rejects.toThrow(PaymentGatewayUnavailableError);
    // The caller retries a minute later, as the 503 invites it to.
    const retried = await startCheckout(checkoutDeps(lossy, aMinuteLater), body);

    expect(retried).not.toMatchObject({ errorCode: 'CHECKOUT_REFUSED' });
    expect(retried).toMatchObject({ ok: true, replayed: true, checkoutUrl: expect.stringContaining('/c/pay/cs_') });
    expect(await counts(slot)).toEqual({ available: 3, unheld: 1 });
  });
});
