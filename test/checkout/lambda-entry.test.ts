// The checkout function's Lambda entry point as Lambda loads it (configuration from the environment): POST /checkout and
// GET /trips/{tripId} told apart by the event's routeKey, the trip route loaded on its first call.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CHECKOUT_PATH } from '../../lambdas/checkout/checkout-contract';
import { apiGatewayEvent, tripRequest } from '../../scripts/dev-kit/api-gateway-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { seedSlot, testStore, uniqueId, testTableName } from '../support/store';

let fake: StripeFake;
let handler: typeof import('../../lambdas/checkout/handler').handler;
const store = testStore();

beforeAll(async () => {
  fake = await startStripeFake();
  vi.stubEnv('TABLE_NAME', testTableName());
  vi.stubEnv('DYNAMODB_ENDPOINT', inject('dynamoEndpoint'));
  vi.stubEnv('STRIPE_API_KEY', 'sk_test_entry_point');
  vi.stubEnv('STRIPE_WEBHOOK_SECRETS', 'whsec_entry_point');
  vi.stubEnv('STRIPE_API_BASE', fake.url);
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  ({ handler } = await import('../../lambdas/checkout/handler'));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await fake.close();
});

describe('the checkout function’s entry point', () => {
  it('serves POST /checkout, then GET /trips/{tripId} of the trip it made, by routeKey; any other route is 404', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const userId = uniqueId('user');
    const started = await handler(
      apiGatewayEvent({
        path: CHECKOUT_PATH,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          userId,
          items: [{ slotId: slot.slotId, guestCount: 1 }],
          successUrl: 'https://example.com/t/{TRIP_ID}',
          cancelUrl: 'https://example.com/c',
        }),
      }),
    );
    const { tripId } = JSON.parse(started.body ?? '{}') as { tripId: string };

    const shown = await handler(tripRequest(tripId, userId));
    const other = await handler(apiGatewayEvent({ method: 'GET', path: '/admin' }));

    expect(started.statusCode).toBe(201);
    expect(shown.statusCode).toBe(200);
    expect(JSON.parse(shown.body ?? '{}')).toMatchObject({ tripId, status: 'pending_payment', amount: 4_500, bookings: [] });
    expect(other.statusCode).toBe(404);
  });
});
