// A small local stand-in for Stripe's API (POST /v1/refunds only) that counts refunds and idempotency keys: used by the tests and by `npm start` when no Stripe key is given.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-gateway';

export interface FakeRefund {
  readonly id: string;
  readonly paymentIntent: string;
  readonly idempotencyKey: string | undefined;
  readonly metadata: Record<string, string>;
}

export interface StripeFake {
  readonly url: string;
  /** Refunds created, one per distinct idempotency key, as Stripe would. */
  readonly refunds: FakeRefund[];
  /** Every POST /v1/refunds received, with its idempotency key. */
  readonly calls: { idempotencyKey: string | undefined; status: number }[];
  /** Answers the next `count` refund calls with this HTTP status (a 500 by default), creating nothing. */
  failNext(count: number, status?: number): void;
  refundsOf(paymentIntent: string): FakeRefund[];
  client(): Stripe;
  close(): Promise<void>;
}

export async function startStripeFake(): Promise<StripeFake> {
  const refunds: FakeRefund[] = [];
  const calls: StripeFake['calls'] = [];
  const byKey = new Map<string, FakeRefund>();
  let failures: { remaining: number; status: number } = { remaining: 0, status: 500 };

  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const send = (status: number, payload: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${calls.length}` });
        response.end(JSON.stringify(payload));
      };
      if (request.method !== 'POST' || request.url !== '/v1/refunds') return send(404, { error: { type: 'invalid_request_error', message: 'not faked' } });
      const idempotencyKey = request.headers['idempotency-key'] as string | undefined;
      if (failures.remaining > 0) {
        failures.remaining--;
        calls.push({ idempotencyKey, status: failures.status });
        return send(failures.status, { error: { type: 'api_error', message: 'The fake is failing on purpose.' } });
      }
      calls.push({ idempotencyKey, status: 200 });
      const form = new URLSearchParams(body);
      const existing = idempotencyKey ? byKey.get(idempotencyKey) : undefined;
      const refund = existing ?? {
        id: `re_fake_${refunds.length + 1}`,
        paymentIntent: form.get('payment_intent') ?? '',
        idempotencyKey,
        metadata: Object.fromEntries([...form.entries()].filter(([key]) => key.startsWith('metadata[')).map(([key, value]) => [key.slice(9, -1), value])),
      };
      if (!existing) {
        refunds.push(refund);
        if (idempotencyKey) byKey.set(idempotencyKey, refund);
      }
      send(200, { id: refund.id, object: 'refund', payment_intent: refund.paymentIntent, status: 'succeeded', metadata: refund.metadata });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    refunds,
    calls,
    failNext(count, status = 500) {
      failures = { remaining: count, status };
    },
    refundsOf: (paymentIntent) => refunds.filter((refund) => refund.paymentIntent === paymentIntent),
    client: () => createStripeClient({ apiKey: 'sk_test_fake', apiBase: url, maxNetworkRetries: 0 }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
