// A checkout asked for by the version before sessions carried the table, its answer lost, retried with the same Idempotency-Key after the upgrade.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKOUT_PATH, createCheckoutHandler } from '../../lambdas/checkout/checkout-handler';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats, type Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type CheckoutSessions } from '../../lambdas/shared/domain/payment-gateway';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { servedStripeFake } from '../support/webhook-server';

let fake: StripeFake;
let stop: () => Promise<void>;
const store = testStore();
beforeAll(async () => {
  ({ fake, stop } = await servedStripeFake(store));
});
afterAll(() => stop());

/** The version before: sessions without the table mark; Stripe makes the session but its answer is lost on the way. */
function beforeUpgradeAnswerLost(): CheckoutSessions {
  const old = new StripeCheckoutSessions(async () => fake.client());
  return {
    async createSession(request) {
      await old.createSession(request);
      throw new PaymentGatewayUnavailableError('Stripe did not answer in time (answer lost)');
    },
  };
}

const handler = (checkout: CheckoutSessions) =>
  createCheckoutHandler({ store, checkout, clock: systemClock, ids: randomIds, holdMinutes: 30, logger: new Logger({ serviceName: 't', logLevel: 'SILENT' }) });

async function post(checkout: CheckoutSessions, slot: Slot, userId: string, key: string) {
  const response = await handler(checkout)(
    apiGatewayEvent({
      path: CHECKOUT_PATH,
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ userId, items: [{ slotId: slot.slotId, guestCount: 2 }], successUrl: 'https://e.com/ok', cancelUrl: 'https://e.com/no' }),
    }),
  );
  return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
}

const unheld = async (slot: Slot) => unheldSeats((await readSlot(store, slot.slotId)) as Slot);

describe('a checkout retried across the upgrade', () => {
  it.each([
    ['before the upgrade (control)', () => new StripeCheckoutSessions(async () => fake.client())],
    ['after the upgrade (table mark)', () => new StripeCheckoutSessions(async () => fake.client(), undefined, store.tableName)],
  ])('retried %s with the same Idempotency-Key, opens the payment page', async (_when, retryWith) => {
    const slot = await seedSlot(store, { capacity: 2 });
    const userId = uniqueId('user');
    const key = uniqueId('key');

    const first = await post(beforeUpgradeAnswerLost(), slot, userId, key);
    expect(first.status).toBe(503);
    expect(await unheld(slot)).toBe(0);

    const retried = await post(retryWith(), slot, userId, key);
    // The retry opens a payment page, as it does without the upgrade, the seats still held for this trip.
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ checkoutUrl: expect.any(String) });
    expect(await unheld(slot)).toBe(0);
    const trip = await store.getTrip(retried.body.tripId as string);
    expect(fake.session(trip?.checkoutSessionId as string)).toMatchObject({ status: 'open' });
  });
});
