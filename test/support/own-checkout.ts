// POST /checkout on a table of the test's own (its client fault-injectable), with a Stripe fake of its own delivering to the webhook over that table.
import { Logger } from '@aws-lambda-powertools/logger';
import { inject, onTestFinished } from 'vitest';
import { createCheckoutHandler, CHECKOUT_PATH } from '../../lambdas/checkout/checkout-handler';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats, type Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type CheckoutSessions } from '../../lambdas/shared/domain/payment-gateway';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { injectFaults, type FaultInjector } from '../../scripts/dev-kit/faults';
import { createBookingTable, deleteBookingTable } from '../../scripts/dev-kit/booking-table';
import { readSlot, testDocumentClient, testStore, uniqueId, type TestStore } from '../support/store';
import { serveWebhookFor } from '../support/webhook-server';

export interface Own {
  readonly store: TestStore;
  readonly table: string;
  readonly faults: FaultInjector;
  readonly fake: StripeFake;
}

/** A table of the test's own, a fault injector on its client, and a Stripe fake delivering to the webhook over it. */
export async function ownWorld(options: { fakeNow?: () => number } = {}): Promise<Own> {
  const endpoint = inject('dynamoEndpoint');
  const table = uniqueId('own-table');
  await createBookingTable(endpoint, table);
  const client = testDocumentClient();
  const faults = injectFaults(client);
  const store = testStore(client, table);
  const fake = await startStripeFake(options.fakeNow ? { now: options.fakeNow } : {});
  const stopWebhook = await serveWebhookFor(fake, testStore(testDocumentClient(), table));
  onTestFinished(async () => {
    await stopWebhook();
    await fake.close();
    await deleteBookingTable(endpoint, table);
  });
  return { store, table, faults, fake };
}

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> & { tripId?: string; checkoutUrl?: string; error?: string; expiresAt?: string };
}

export const urls = { successUrl: 'https://example.com/done', cancelUrl: 'https://example.com/cancelled' };
export const request = (slots: readonly [Slot, number][], userId = uniqueId('user')) => ({
  userId,
  items: slots.map(([slot, guestCount]) => ({ slotId: slot.slotId, guestCount })),
  ...urls,
});

export async function checkout(
  own: Own,
  body: unknown,
  options: { key?: string; sessions?: CheckoutSessions; clock?: Clock; holdMinutes?: number } = {},
): Promise<Answer> {
  const handler = createCheckoutHandler({
    store: own.store,
    checkout: options.sessions ?? new StripeCheckoutSessions(async () => own.fake.client(), undefined, own.table),
    clock: options.clock ?? systemClock,
    ids: randomIds,
    holdMinutes: options.holdMinutes ?? 30,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  const event = apiGatewayEvent({
    path: CHECKOUT_PATH,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(options.key !== undefined && { 'idempotency-key': options.key }) },
  });
  const response = await handler(event);
  return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? '{}') as Answer['body'] };
}

/** Stripe not answering: nothing reaches it. */
export function stripeDown(): CheckoutSessions {
  return {
    async createSession() {
      throw new PaymentGatewayUnavailableError('Stripe did not answer');
    },
  };
}

/** Stripe makes the session, and its answer is lost on the way back. */
export function answerLost(own: Own, made: string[] = []): CheckoutSessions & { made: string[] } {
  const real = new StripeCheckoutSessions(async () => own.fake.client(), undefined, own.table);
  return {
    made,
    async createSession(req) {
      const session = await real.createSession(req);
      made.push(session.url);
      throw new PaymentGatewayUnavailableError('Stripe’s answer was lost');
    },
  };
}

export async function counts(own: Own, slot: Slot): Promise<{ available: number; unheld: number }> {
  const now = (await readSlot(own.store, slot.slotId)) as Slot;
  return { available: now.availableCount, unheld: unheldSeats(now) };
}

/** Pays on the hosted page: the fake delivers the payment's events to the webhook over the own table. */
export async function pay(own: Own, checkoutUrl: string): Promise<string> {
  const sessionId = decodeURIComponent(checkoutUrl.split('/c/pay/')[1] as string);
  const response = await fetch(`${checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' });
  if (response.status !== 303) throw new Error(`paying ${checkoutUrl} answered ${response.status}: ${await response.text()}`);
  return own.fake.session(sessionId)?.paymentIntent as string;
}

export const at = (iso: string, deltaMs = 0): Clock => ({ now: () => new Date(Date.parse(iso) + deltaMs) });
export const ago = (ms: number): Clock => ({ now: () => new Date(Date.now() - ms) });
