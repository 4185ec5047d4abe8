// A local stand-in for Stripe's API (payment intents and refunds, with Stripe's refund limits, errors and idempotency keys): used by the tests and by `npm start` when no Stripe key is given.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-gateway';

export type RefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';

/** A failure that says nothing about the refund: Stripe did not execute the request, so a retry may. */
export type TransientFailure = 500 | 429 | 'lock_timeout' | 'reset';

export interface FakeRefund {
  readonly id: string;
  readonly paymentIntent: string;
  readonly idempotencyKey: string | undefined;
  readonly metadata: Record<string, string>;
  /** In the currency's smallest unit, as Stripe counts. */
  readonly amount: number;
  readonly currency: string;
  readonly status: RefundStatus;
  readonly charge: string;
  /** Seconds since the epoch, on the fake's clock. */
  readonly created: number;
  readonly reason: string | null;
  readonly failureReason?: string;
}

export interface FakePayment {
  readonly amount: number;
  readonly currency: string;
  readonly charge: string;
}

export interface FakeCall {
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  /** The HTTP status answered; 0 when the connection was cut without an answer. */
  readonly status: number;
  /** The Stripe error code answered, if any (`amount_too_large`, `lock_timeout`...). */
  readonly code?: string;
}

export interface RefusalOptions {
  /** @default 400 */
  readonly status?: number;
  /** @default 'invalid_request_error' */
  readonly type?: string;
  readonly message?: string;
  readonly param?: string;
}

export interface StripeFakeOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  /**
   * Registers an unknown `pi_...` on its first refund instead of answering resource_missing, for the local
   * stack's demo where payments are made up. Tests leave it off, so a refund of a wrong id fails as at Stripe.
   */
  readonly acceptUnknownPaymentIntents?: boolean;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

export interface StripeFake {
  readonly url: string;
  /** Refunds created, in order of creation. */
  readonly refunds: FakeRefund[];
  /** Every request received, in order. */
  readonly calls: FakeCall[];
  /** Declares a succeeded PaymentIntent with one charge, so refunds of it can be made. */
  registerPayment(paymentIntent: string, amount: number, currency?: string): void;
  payment(paymentIntent: string): FakePayment | undefined;
  /**
   * Answers the next `count` refund requests with a transient failure (a 500 by default), creating and storing nothing.
   * Counts HTTP requests: stripe-node retries a reset connection once even with retries off, so one `'reset'` call takes two.
   */
  failNext(count: number, failure?: TransientFailure): void;
  /** Answers the next refund request of a known payment with this Stripe error, stored under its idempotency key as Stripe does. */
  refuseNext(code: string, options?: RefusalOptions): void;
  /** Gives the next refund created this status instead of `succeeded`. */
  nextRefundStatus(status: RefundStatus): void;
  /** Changes a refund's status later, as when `refund.failed` arrives days after the refund. */
  setRefundStatus(refundId: string, status: RefundStatus, failureReason?: string): FakeRefund;
  refundsOf(paymentIntent: string): FakeRefund[];
  /** Refunded so far: every refund of the payment except failed and canceled ones. */
  totalRefunded(paymentIntent: string): number;
  /** Moves the fake's clock forward, e.g. past the 24 hours Stripe keeps idempotency keys. */
  advance(ms: number): void;
  client(): Stripe;
  close(): Promise<void>;
}

/** Stripe keeps a key's result for at least 24 hours; after that the same key executes again. */
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** What a made-up payment is worth when its first refund names no amount (acceptUnknownPaymentIntents). */
const UNKNOWN_PAYMENT_AMOUNT = 1_000_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Payment extends FakePayment {
  readonly id: string;
  readonly created: number;
  readonly metadata: Record<string, string>;
}

interface FakeRequest {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly form: URLSearchParams;
  readonly idempotencyKey: string | undefined;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly code?: string;
  /** Whether an idempotency key keeps this answer: Stripe stores results of requests it executed, not validation errors or outages. */
  readonly stored: boolean;
  /** The request whose stored answer this replays. */
  readonly replayOf?: string;
}

type Outcome = Answer | 'reset';

interface StoredAnswer {
  readonly fingerprint: string;
  readonly status: number;
  readonly body: string;
  readonly code?: string;
  readonly requestId: string;
  readonly storedAt: number;
}

interface StripeErrorFields {
  readonly type: string;
  readonly code?: string;
  readonly param?: string;
  readonly message: string;
}

interface State {
  readonly acceptUnknownPaymentIntents: boolean;
  readonly now: () => number;
  readonly payments: Map<string, Payment>;
  readonly refunds: Mutable<FakeRefund>[];
  readonly calls: FakeCall[];
  readonly keys: Map<string, StoredAnswer>;
  readonly refusals: { readonly status: number; readonly error: StripeErrorFields }[];
  failures: { remaining: number; failure: TransientFailure };
  nextRefundStatus: RefundStatus | undefined;
  requestCount: number;
  paymentCount: number;
  chargeCount: number;
}

export async function startStripeFake(options: StripeFakeOptions = {}): Promise<StripeFake> {
  const baseClock = options.now ?? Date.now;
  let offset = 0;
  const state: State = {
    acceptUnknownPaymentIntents: options.acceptUnknownPaymentIntents ?? false,
    now: () => baseClock() + offset,
    payments: new Map(),
    refunds: [],
    calls: [],
    keys: new Map(),
    refusals: [],
    failures: { remaining: 0, failure: 500 },
    nextRefundStatus: undefined,
    requestCount: 0,
    paymentCount: 0,
    chargeCount: 0,
  };

  const server: Server = createServer((request, response) => serve(state, request, response));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    refunds: state.refunds,
    calls: state.calls,
    registerPayment: (paymentIntent, amount, currency = 'eur') => {
      registerPayment(state, paymentIntent, amount, currency);
    },
    payment: (paymentIntent) => publicPayment(state.payments.get(paymentIntent)),
    failNext(count, failure = 500) {
      state.failures = { remaining: count, failure };
    },
    refuseNext(code, refusal = {}) {
      const error = { type: refusal.type ?? 'invalid_request_error', code, message: refusal.message ?? `The refund was refused (${code}).`, ...(refusal.param !== undefined && { param: refusal.param }) };
      state.refusals.push({ status: refusal.status ?? 400, error });
    },
    nextRefundStatus(status) {
      state.nextRefundStatus = status;
    },
    setRefundStatus: (refundId, status, failureReason) => setRefundStatus(state, refundId, status, failureReason),
    refundsOf: (paymentIntent) => state.refunds.filter((refund) => refund.paymentIntent === paymentIntent),
    totalRefunded: (paymentIntent) => totalRefunded(state, paymentIntent),
    advance(ms) {
      if (ms < 0) throw new RangeError('The fake clock only moves forward');
      offset += ms;
    },
    client: () => createStripeClient({ apiKey: 'sk_test_fake', apiBase: url, maxNetworkRetries: 0 }),
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // stripe-node keeps connections alive; without this, close waits for them to time out.
    server.closeAllConnections();
  });
}

// ---- HTTP ----

function serve(state: State, message: IncomingMessage, response: ServerResponse): void {
  void readBody(message).then((body) => {
    const request = toFakeRequest(state, message, body);
    const outcome = route(state, request);
    record(state, request, outcome);
    if (outcome === 'reset') {
      message.socket.destroy();
      return;
    }
    response.writeHead(outcome.status, responseHeaders(request, outcome));
    response.end(outcome.body);
  });
}

async function readBody(message: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of message) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function toFakeRequest(state: State, message: IncomingMessage, body: string): FakeRequest {
  const url = new URL(message.url ?? '/', 'http://stripe-fake');
  const key = message.headers['idempotency-key'];
  return {
    id: `req_${++state.requestCount}`,
    method: message.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    form: new URLSearchParams(body),
    idempotencyKey: Array.isArray(key) ? key[0] : key,
  };
}

function responseHeaders(request: FakeRequest, answer: Answer): Record<string, string> {
  return {
    'content-type': 'application/json',
    'request-id': request.id,
    ...(request.idempotencyKey !== undefined && { 'idempotency-key': request.idempotencyKey }),
    ...(answer.replayOf !== undefined && { 'idempotent-replayed': 'true', 'original-request': answer.replayOf }),
  };
}

function record(state: State, request: FakeRequest, outcome: Outcome): void {
  const answered = outcome === 'reset' ? { status: 0 } : { status: outcome.status, ...(outcome.code !== undefined && { code: outcome.code }) };
  state.calls.push({ method: request.method, path: request.path, idempotencyKey: request.idempotencyKey, ...answered });
}

function route(state: State, request: FakeRequest): Outcome {
  const { method, path } = request;
  if (method === 'POST' && path === '/v1/refunds') return postRefund(state, request);
  if (method === 'GET' && path === '/v1/refunds') return listRefunds(state, request);
  if (method === 'POST' && path === '/v1/payment_intents') return idempotently(state, request, () => createPaymentIntent(state, request));
  const refundId = /^\/v1\/refunds\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && refundId !== undefined) return retrieveRefund(state, request, decodeURIComponent(refundId));
  const paymentIntentId = /^\/v1\/payment_intents\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && paymentIntentId !== undefined) return retrievePaymentIntent(state, request, decodeURIComponent(paymentIntentId));
  return json(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}).` } }, false);
}

// ---- Answers ----

function json(status: number, payload: unknown, stored: boolean, code?: string): Answer {
  return { status, body: JSON.stringify(payload, null, 2), stored, ...(code !== undefined && { code }) };
}

/** Stripe's error body, with the doc and log links it adds to errors of requests it executed. */
function stripeError(request: FakeRequest, status: number, fields: StripeErrorFields, stored: boolean): Answer {
  const error = {
    ...(fields.code !== undefined && { code: fields.code, doc_url: `https://stripe.com/docs/error-codes/${fields.code.replaceAll('_', '-')}` }),
    message: fields.message,
    ...(fields.param !== undefined && { param: fields.param }),
    request_log_url: `https://dashboard.stripe.com/test/logs/${request.id}`,
    type: fields.type,
  };
  return json(status, { error }, stored, fields.code);
}

function invalidRequest(request: FakeRequest, code: string, param: string | undefined, message: string, stored: boolean): Answer {
  return stripeError(request, 400, { type: 'invalid_request_error', code, message, ...(param !== undefined && { param }) }, stored);
}

function resourceMissing(request: FakeRequest, kind: string, id: string, param: string): Answer {
  return stripeError(request, 404, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${kind}: '${id}'` }, true);
}

// ---- Idempotency ----

/**
 * Stripe's idempotency: a key seen within 24 hours with the same parameters gets the first answer again, byte for byte;
 * with other parameters it is refused. Only answers marked `stored` are kept, so a retry after an outage executes.
 */
function idempotently(state: State, request: FakeRequest, execute: () => Answer): Answer {
  const key = request.idempotencyKey;
  if (key === undefined) return execute();
  const fingerprint = fingerprintOf(request);
  const stored = state.keys.get(key);
  if (stored !== undefined && state.now() - stored.storedAt < IDEMPOTENCY_WINDOW_MS) {
    if (stored.fingerprint !== fingerprint) return idempotencyConflict(request, key);
    return { status: stored.status, body: stored.body, stored: true, replayOf: stored.requestId, ...(stored.code !== undefined && { code: stored.code }) };
  }
  const answer = execute();
  if (answer.stored) {
    state.keys.set(key, { fingerprint, status: answer.status, body: answer.body, code: answer.code, requestId: request.id, storedAt: state.now() });
  }
  return answer;
}

// Parameters are compared as parsed, in any order: stripe-node may encode the same object's keys differently.
function fingerprintOf(request: FakeRequest): string {
  const parameters = [...request.form.entries()].sort(([a, x], [b, y]) => (a === b ? x.localeCompare(y) : a.localeCompare(b)));
  return JSON.stringify([request.method, request.path, parameters]);
}

function idempotencyConflict(request: FakeRequest, key: string): Answer {
  const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
  return stripeError(request, 400, { type: 'idempotency_error', message }, false);
}

// ---- Payments ----

function registerPayment(state: State, id: string, amount: number, currency: string, metadata: Record<string, string> = {}): Payment {
  if (!Number.isInteger(amount) || amount <= 0) throw new RangeError(`A payment's amount is a positive integer in the smallest currency unit, not ${amount}`);
  if (state.payments.has(id)) throw new Error(`Payment ${id} is already registered`);
  const payment: Payment = { id, amount, currency: currency.toLowerCase(), charge: `ch_fake_${++state.chargeCount}`, created: seconds(state), metadata };
  state.payments.set(id, payment);
  return payment;
}

function publicPayment(payment: Payment | undefined): FakePayment | undefined {
  return payment && { amount: payment.amount, currency: payment.currency, charge: payment.charge };
}

// Succeeded at once: the fake stands in for a customer who has paid, so there is no confirmation step.
function createPaymentIntent(state: State, request: FakeRequest): Answer {
  const amount = parsePositiveInteger(request.form.get('amount'));
  if (amount === undefined) return invalidRequest(request, 'parameter_missing', 'amount', 'Missing required param: amount.', false);
  if (amount === 'invalid') return invalidRequest(request, 'parameter_invalid_integer', 'amount', 'Invalid positive integer', false);
  const currency = request.form.get('currency');
  if (!currency) return invalidRequest(request, 'parameter_missing', 'currency', 'Missing required param: currency.', false);
  if (!/^[a-z]{3}$/i.test(currency)) return invalidRequest(request, 'parameter_invalid_string', 'currency', `Invalid currency: ${currency}.`, false);
  const payment = registerPayment(state, `pi_fake_${++state.paymentCount}`, amount, currency, metadataOf(request.form));
  return json(200, paymentIntentObject(payment), true);
}

function retrievePaymentIntent(state: State, request: FakeRequest, id: string): Answer {
  const payment = state.payments.get(id);
  return payment ? json(200, paymentIntentObject(payment), false) : resourceMissing(request, 'payment_intent', id, 'id');
}

function paymentIntentObject(payment: Payment): object {
  return {
    id: payment.id,
    object: 'payment_intent',
    amount: payment.amount,
    amount_received: payment.amount,
    created: payment.created,
    currency: payment.currency,
    latest_charge: payment.charge,
    livemode: false,
    metadata: payment.metadata,
    status: 'succeeded',
  };
}

/** A payment the fake knows, or (acceptUnknownPaymentIntents) a made-up `pi_...` worth what its first refund asks. */
function paymentToRefund(state: State, id: string, amount: number | undefined): Payment | undefined {
  const known = state.payments.get(id);
  if (known || !state.acceptUnknownPaymentIntents || !id.startsWith('pi_')) return known;
  return registerPayment(state, id, amount ?? UNKNOWN_PAYMENT_AMOUNT, 'eur');
}

// ---- Refunds ----

// Injected outages come before the idempotency check: Stripe was not reached, so nothing is stored or replayed.
function postRefund(state: State, request: FakeRequest): Outcome {
  if (state.failures.remaining > 0) {
    state.failures.remaining--;
    return transientFailure(state.failures.failure);
  }
  return idempotently(state, request, () => executeRefund(state, request));
}

function transientFailure(failure: TransientFailure): Outcome {
  switch (failure) {
    case 'reset':
      return 'reset';
    case 500:
      return json(500, { error: { type: 'api_error', message: 'An unknown error occurred' } }, false);
    case 429:
      return json(429, { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.' } }, false, 'rate_limit');
    case 'lock_timeout':
      return json(
        429,
        {
          error: {
            type: 'invalid_request_error',
            code: 'lock_timeout',
            message: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request.',
          },
        },
        false,
        'lock_timeout',
      );
  }
}

function executeRefund(state: State, request: FakeRequest): Answer {
  const paymentIntent = request.form.get('payment_intent');
  if (!paymentIntent) return invalidRequest(request, 'parameter_missing', 'payment_intent', 'Must provide payment_intent or charge.', false);
  const amount = parsePositiveInteger(request.form.get('amount'));
  if (amount === 'invalid') return invalidRequest(request, 'parameter_invalid_integer', 'amount', 'Invalid positive integer', false);

  const payment = paymentToRefund(state, paymentIntent, amount);
  if (!payment) return resourceMissing(request, 'payment_intent', paymentIntent, 'payment_intent');
  const refusal = state.refusals.shift();
  if (refusal) return stripeError(request, refusal.status, refusal.error, true);

  const remaining = payment.amount - totalRefunded(state, payment.id);
  if (remaining <= 0) return invalidRequest(request, 'charge_already_refunded', undefined, `Charge ${payment.charge} has already been refunded.`, true);
  if (amount !== undefined && amount > remaining) {
    const message = `Refund amount (${formatAmount(amount, payment.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, payment.currency)})`;
    return invalidRequest(request, 'amount_too_large', 'amount', message, true);
  }
  const refund = createRefund(state, request, payment, amount ?? remaining);
  return json(200, refundObject(refund), true);
}

function createRefund(state: State, request: FakeRequest, payment: Payment, amount: number): FakeRefund {
  const status = state.nextRefundStatus ?? 'succeeded';
  state.nextRefundStatus = undefined;
  const refund: Mutable<FakeRefund> = {
    id: `re_fake_${state.refunds.length + 1}`,
    paymentIntent: payment.id,
    idempotencyKey: request.idempotencyKey,
    metadata: metadataOf(request.form),
    amount,
    currency: payment.currency,
    status,
    charge: payment.charge,
    created: seconds(state),
    reason: request.form.get('reason'),
    ...(status === 'failed' && { failureReason: 'unknown' }),
  };
  state.refunds.push(refund);
  return refund;
}

function setRefundStatus(state: State, refundId: string, status: RefundStatus, failureReason?: string): FakeRefund {
  const refund = state.refunds.find((candidate) => candidate.id === refundId);
  if (!refund) throw new Error(`No refund ${refundId} in the Stripe fake`);
  refund.status = status;
  // Stripe only explains failures; a refund that succeeds after all carries no failure_reason.
  if (status === 'failed') refund.failureReason = failureReason ?? 'unknown';
  else if (failureReason !== undefined) refund.failureReason = failureReason;
  else delete refund.failureReason;
  return refund;
}

function totalRefunded(state: State, paymentIntent: string): number {
  return state.refunds
    .filter((refund) => refund.paymentIntent === paymentIntent && refund.status !== 'failed' && refund.status !== 'canceled')
    .reduce((total, refund) => total + refund.amount, 0);
}

function retrieveRefund(state: State, request: FakeRequest, id: string): Answer {
  const refund = state.refunds.find((candidate) => candidate.id === id);
  return refund ? json(200, refundObject(refund), false) : resourceMissing(request, 'refund', id, 'id');
}

function listRefunds(state: State, request: FakeRequest): Answer {
  const paymentIntent = request.query.get('payment_intent');
  if (paymentIntent && !state.payments.has(paymentIntent) && !state.acceptUnknownPaymentIntents) {
    return resourceMissing(request, 'payment_intent', paymentIntent, 'payment_intent');
  }
  const limit = parsePositiveInteger(request.query.get('limit')) ?? 10;
  if (limit === 'invalid' || limit > 100) return invalidRequest(request, 'parameter_invalid_integer', 'limit', 'This value must be between 1 and 100.', false);
  // Newest first, as Stripe lists; refunds are kept in order of creation.
  const matching = state.refunds.filter((refund) => !paymentIntent || refund.paymentIntent === paymentIntent).reverse();
  return json(200, { object: 'list', data: matching.slice(0, limit).map(refundObject), has_more: matching.length > limit, url: '/v1/refunds' }, false);
}

function refundObject(refund: FakeRefund): object {
  return {
    id: refund.id,
    object: 'refund',
    amount: refund.amount,
    balance_transaction: refund.id.replace(/^re_/, 'txn_'),
    charge: refund.charge,
    created: refund.created,
    currency: refund.currency,
    ...(refund.failureReason !== undefined && { failure_reason: refund.failureReason }),
    metadata: refund.metadata,
    payment_intent: refund.paymentIntent,
    reason: refund.reason,
    receipt_number: null,
    status: refund.status,
  };
}

// ---- Parameters ----

/** undefined when absent; 'invalid' unless a positive integer (Stripe takes amounts in the smallest unit, never fractions). */
function parsePositiveInteger(value: string | null): number | 'invalid' | undefined {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value)) return 'invalid';
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : 'invalid';
}

// stripe-node sends `metadata: { tripId }` as the form field `metadata[tripId]`.
function metadataOf(form: URLSearchParams): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of form.entries()) {
    const name = /^metadata\[(.+)\]$/.exec(key)?.[1];
    if (name !== undefined) metadata[name] = value;
  }
  return metadata;
}

/** As Stripe writes amounts in its messages: €12.50, ¥500. */
function formatAmount(amount: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
    return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${amount} ${currency}`;
  }
}

function seconds(state: State): number {
  return Math.floor(state.now() / 1000);
}
