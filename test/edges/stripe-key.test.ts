// Stripe refusing our API key (401: rolled, deleted or mistyped; 403: a restricted key short of a permission): every
// function says so at once (an error line and StripeKeyRejected, alarmed) while its call goes on as after an outage, the
// money waits as requested, and the first call after a working key is in the secret refunds it once.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, inject, it, onTestFinished, vi } from 'vitest';
import { CHECKOUT_PATH } from '../../lambdas/checkout/checkout-contract';
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS } from '../../lambdas/shared/config';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { stripeKeyRejectionReporter } from '../../lambdas/shared/observability';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { cachedStripeClient } from '../../lambdas/shared/stripe/stripe-client-cache';
import type { StripeKeyRejection } from '../../lambdas/shared/stripe/stripe-contract';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import type { StripeSecrets } from '../../lambdas/shared/stripe/stripe-secrets';
import { createStripeWebhookHandler } from '../../lambdas/stripe-webhook/webhook-handler';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { paymentIntentId, SIGNING_SECRET, signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { coldStart as coldStartWith } from '../support/lambda-entry';
import { linesWritten } from '../support/lines-written';
import { ops } from '../support/ops';
import { createBookingTable, deleteBookingTable } from '../../scripts/dev-kit/booking-table';
import { seedSlot, testStore, uniqueId } from '../support/store';
import { unbookablePaidTrip } from '../support/trips';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await fake.close();
});

const store = testStore();

const unbookableTrip = () => unbookablePaidTrip(store, fake);

/** The webhook as its Lambda entry builds it, over a secret whose API key the test rolls, and what its reporter said. */
function webhookOverSecret(initialKey: string) {
  const secret = { apiKey: initialKey };
  const rejections: StripeKeyRejection[] = [];
  const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const reporterMetrics = new Metrics({ namespace: 'test', serviceName: 'test' });
  const added = vi.spyOn(reporterMetrics, 'addMetric');
  const report = stripeKeyRejectionReporter(logger, reporterMetrics);
  const stripeClient = cachedStripeClient(async (): Promise<StripeSecrets> => ({ apiKey: secret.apiKey, webhookSigningSecrets: [SIGNING_SECRET] }), {
    apiBase: fake.url,
    onKeyRejected: (rejection) => {
      rejections.push(rejection);
      report(rejection);
    },
  });
  const handler = createStripeWebhookHandler({
    store,
    table: store.tableName,
    gateway: new StripePaymentGateway(stripeClient),
    clock: systemClock,
    ids: randomIds,
    signingSecrets: async () => [SIGNING_SECRET],
    toleranceSeconds: DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
    mode: async () => 'test',
    logger,
    metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
  });
  return {
    secret,
    rejections,
    keyRejectedMetrics: () => added.mock.calls.filter(([name]) => name === 'StripeKeyRejected').length,
    send: async (event: unknown) => {
      const response = await handler(signedRequest(event));
      return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
    },
  };
}

describe('a payment to refund while Stripe refuses the API key', () => {
  it.each([401, 403] as const)(
    'answers 500, keeps the refund requested and says so (%i); redelivered once a working key is in the secret, it is refunded once',
    async (status) => {
      const { trip, paymentId, paid } = await unbookableTrip();
      const webhook = webhookOverSecret('rk_test_rolled_away');
      fake.refuseApiKey('rk_test_rolled_away', status);

      const refused = await webhook.send(paid);

      expect(refused.status).toBe(500);
      expect(fake.refunds).toEqual([]);
      const waiting = await store.getPaymentRecord(paymentId);
      expect(waiting?.refunds.map((refund) => [refund.status, refund.amount])).toEqual([['requested', trip.amount]]);
      // Said once per refused answer: the SDK does not retry a refused key.
      expect(webhook.rejections).toEqual([{ status, method: 'POST', path: '/v1/refunds', requestId: expect.stringMatching(/^req_/) }]);
      expect(webhook.keyRejectedMetrics()).toBe(1);

      webhook.secret.apiKey = 'rk_test_new_key';
      const redelivered = await webhook.send(paid);

      expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
      expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([trip.amount]);
      expect((await store.getPaymentRecord(paymentId))?.status).toBe('refunded');
      expect(webhook.keyRejectedMetrics()).toBe(1);
    },
  );

  it('a refused request executes nothing and keeps nothing under its idempotency key: the same key with a working API key refunds', async () => {
    const paymentId = paymentIntentId();
    fake.registerPayment(paymentId, 9_000);
    fake.refuseApiKey('sk_test_deleted');
    const request = { payment_intent: paymentId, amount: 9_000 };

    const refused = await fake
      .client('sk_test_deleted')
      .refunds.create(request, { idempotencyKey: 'refund-once' })
      .catch((error: unknown) => error);
    const made = await fake.client('sk_test_working').refunds.create(request, { idempotencyKey: 'refund-once' });

    expect(refused).toMatchObject({
      type: 'StripeAuthenticationError',
      statusCode: 401,
      raw: { type: 'invalid_request_error' },
      message: expect.stringMatching(/^Invalid API Key provided: sk_test_\*+eted$/),
    });
    expect(made).toMatchObject({ amount: 9_000, status: 'succeeded' });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });
});

describe('telling of a refused key', () => {
  it('never stands in the call’s way: a hook that throws still lets the call fail as a refused key', async () => {
    fake.refuseApiKey('sk_test_rolled');
    let told = 0;
    const stripe = createStripeClient({
      apiKey: 'sk_test_rolled',
      apiBase: fake.url,
      maxNetworkRetries: 0,
      onKeyRejected: () => {
        told++;
        throw new Error('the reporter broke');
      },
    });

    const refused = await stripe.refunds.list({ limit: 1 }).catch((error: unknown) => error);

    expect(refused).toMatchObject({ type: 'StripeAuthenticationError', statusCode: 401 });
    expect(told).toBe(1);
  });
});

describe('the Lambda entry points, as Lambda loads them', () => {
  const keyRejectedCount = (lines: Record<string, unknown>[]) =>
    lines.reduce((sum, line) => sum + (typeof line.StripeKeyRejected === 'number' ? line.StripeKeyRejected : 0), 0);
  const rejectionsLogged = (lines: Record<string, unknown>[]) =>
    lines.filter((line) => line.level === 'ERROR' && String(line.message).startsWith('Stripe refused the API key')).map((line) => line.stripeKeyRejection);

  /** Each entry point's module, loaded afresh with this test's environment (as a cold start reads it). */
  const coldStart = <T>(load: () => Promise<T>, apiKey: string, tableName?: string): Promise<T> =>
    coldStartWith(load, { apiKey, stripeApiBase: fake.url, metrics: true, ...(tableName !== undefined && { tableName }) });

  it('the webhook: 500 to Stripe, the refund requested, and one error line and StripeKeyRejected naming the request', async () => {
    const { paymentId, paid } = await unbookableTrip();
    fake.refuseApiKey('sk_test_entry_webhook');
    const { handler } = await coldStart(() => import('../../lambdas/stripe-webhook/handler'), 'sk_test_entry_webhook');

    let status: number | undefined;
    const lines = await linesWritten(async () => {
      status = (await handler(signedRequest(paid))).statusCode;
    });

    expect(status).toBe(500);
    expect((await store.getPaymentRecord(paymentId))?.refunds.map((refund) => refund.status)).toEqual(['requested']);
    expect(keyRejectedCount(lines)).toBe(1);
    expect(rejectionsLogged(lines)).toEqual([expect.objectContaining({ status: 401, method: 'POST', path: '/v1/refunds' })]);
  });

  it('POST /checkout: 503 STRIPE_UNAVAILABLE to the caller, and the refusal (403, a restricted key) said once', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    fake.refuseApiKey('rk_test_entry_checkout', 403);
    const { handler } = await coldStart(() => import('../../lambdas/checkout/handler'), 'rk_test_entry_checkout');
    const body = JSON.stringify({
      userId: 'key-user',
      items: [{ slotId: slot.slotId, guestCount: 1 }],
      successUrl: 'https://example.com/t/{TRIP_ID}',
      cancelUrl: 'https://example.com/c',
    });

    let answer: { statusCode?: number | undefined; body?: string | undefined } = {};
    const lines = await linesWritten(async () => {
      answer = await handler(apiGatewayEvent({ path: CHECKOUT_PATH, headers: { 'content-type': 'application/json' }, body }));
    });

    expect(answer.statusCode).toBe(503);
    expect(JSON.parse(answer.body ?? '{}')).toMatchObject({ error: 'STRIPE_UNAVAILABLE' });
    expect(keyRejectedCount(lines)).toBe(1);
    expect(rejectionsLogged(lines)).toEqual([expect.objectContaining({ status: 403, method: 'POST', path: '/v1/checkout/sessions' })]);
  });

  it('the reconciliation sweep: the run fails (its errors alarm) and the refusal of the list of events is said once', async () => {
    fake.refuseApiKey('sk_test_entry_sweep');
    // A table of its own: the file's table holds its other tests' refunds due, which the sweep would ask Stripe for first.
    const table = uniqueId('own-table');
    await createBookingTable(inject('dynamoEndpoint'), table);
    onTestFinished(() => deleteBookingTable(inject('dynamoEndpoint'), table));
    const { handler } = await coldStart(() => import('../../lambdas/stripe-reconciler/handler'), 'sk_test_entry_sweep', table);

    let outcome: unknown;
    const lines = await linesWritten(async () => {
      outcome = await handler().catch((error: unknown) => error);
    });

    expect(outcome).toBeInstanceOf(Error);
    expect(keyRejectedCount(lines)).toBe(1);
    expect(rejectionsLogged(lines)).toEqual([expect.objectContaining({ status: 401, method: 'GET', path: '/v1/events' })]);
  });
});

describe('an operator whose STRIPE_API_KEY Stripe refuses', () => {
  it('payments retry-refund: exit 1 STRIPE_KEY_REJECTED, the refund still requested; with a working key it is refunded once', async () => {
    const { trip, paymentId, paid } = await unbookableTrip();
    fake.refuseApiKey('sk_test_webhook_refused');
    const webhook = webhookOverSecret('sk_test_webhook_refused');
    expect((await webhook.send(paid)).status).toBe(500);
    fake.refuseApiKey('sk_test_operator_typo');

    const refused = await ops(['payments', 'retry-refund', paymentId], undefined, { STRIPE_API_KEY: 'sk_test_operator_typo', STRIPE_API_BASE: fake.url });
    const retried = await ops(['payments', 'retry-refund', paymentId], undefined, { STRIPE_API_KEY: 'sk_test_operator_good', STRIPE_API_BASE: fake.url });

    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: STRIPE_KEY_REJECTED: .*refused our API key \(401: Invalid API Key provided: sk_test_\*+typo\).*set STRIPE_API_KEY/);
    expect(retried.code).toBe(0);
    expect(fake.refundsOf(paymentId).map((refund) => refund.amount)).toEqual([trip.amount]);
    expect((await store.getPaymentRecord(paymentId))?.status).toBe('refunded');
  });
});
