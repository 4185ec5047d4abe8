// A local stand-in for Stripe's API (payment intents, refunds, Checkout Sessions with a hosted page to click through, signed webhooks, the list of events; Stripe's limits, errors and idempotency keys): used by the tests and by `npm start` when no Stripe key is given, which keeps what it made with its data.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { STRIPE_API_VERSION } from '../../lambdas/shared/stripe/stripe-contract';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import * as z from '../../lambdas/shared/zod';

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
  /** The HTTP status answered; 0 when no answer was sent (the connection cut, or left open). */
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

export type SessionStatus = 'open' | 'complete' | 'expired';

export interface FakeLineItem {
  readonly name: string;
  readonly quantity: number;
  /** In the currency's smallest unit. */
  readonly unitAmount: number;
}

export interface FakeSession {
  readonly id: string;
  readonly status: SessionStatus;
  readonly paymentStatus: 'paid' | 'unpaid';
  /** A payment made with "Pay later": pending until it arrives (`succeeded`) or fails. */
  readonly asyncPayment?: 'pending' | 'succeeded' | 'failed';
  readonly mode: 'payment';
  readonly lineItems: readonly FakeLineItem[];
  readonly amountTotal: number;
  readonly currency: string;
  readonly metadata: Record<string, string>;
  /** `payment_intent_data.metadata`: given to the PaymentIntent the session's payment creates. */
  readonly paymentIntentMetadata: Record<string, string>;
  readonly clientReferenceId: string | null;
  readonly paymentIntent: string | null;
  /** Seconds since the epoch, on the fake's clock. */
  readonly expiresAt: number;
  readonly created: number;
  readonly successUrl: string;
  readonly cancelUrl: string | null;
  readonly idempotencyKey: string | undefined;
}

/** A Checkout Session as Stripe's API answers it (the fields this fake fills in). */
export interface FakeSessionObject {
  readonly id: string;
  readonly object: 'checkout.session';
  readonly amount_subtotal: number;
  readonly amount_total: number;
  readonly cancel_url: string | null;
  readonly client_reference_id: string | null;
  readonly created: number;
  readonly currency: string;
  readonly expires_at: number;
  readonly livemode: false;
  readonly metadata: Record<string, string>;
  readonly mode: 'payment';
  readonly payment_intent: string | null;
  readonly payment_status: 'paid' | 'unpaid';
  readonly status: SessionStatus;
  readonly success_url: string;
  readonly total_details: { readonly amount_discount: number; readonly amount_shipping: number; readonly amount_tax: number };
  /** The hosted page; null once the session is no longer open, as at Stripe. */
  readonly url: string | null;
}

export type CheckoutEventType =
  | 'checkout.session.completed'
  | 'checkout.session.async_payment_succeeded'
  | 'checkout.session.async_payment_failed'
  | 'checkout.session.expired';

/** The events of a refund taken through the API: the refund's own, and its charge's with the new total refunded. */
export type RefundEventType = 'refund.created' | 'charge.refunded';

export type FakeEventType = CheckoutEventType | RefundEventType;

/** A refund as Stripe answers it and sends it in `refund.*` events. */
export interface FakeRefundObject {
  readonly id: string;
  readonly object: 'refund';
  readonly amount: number;
  readonly balance_transaction: string;
  readonly charge: string;
  readonly created: number;
  readonly currency: string;
  readonly failure_reason?: string;
  readonly metadata: Record<string, string>;
  readonly payment_intent: string;
  readonly reason: string | null;
  readonly receipt_number: null;
  readonly status: RefundStatus;
}

/** A payment's charge as Stripe sends it in `charge.refunded`: its PaymentIntent's metadata, and everything refunded so far. */
export interface FakeChargeObject {
  readonly id: string;
  readonly object: 'charge';
  readonly amount: number;
  readonly amount_captured: number;
  readonly amount_refunded: number;
  readonly captured: true;
  readonly created: number;
  readonly currency: string;
  readonly livemode: false;
  readonly metadata: Record<string, string>;
  readonly paid: true;
  readonly payment_intent: string;
  readonly refunded: boolean;
  readonly status: 'succeeded';
}

interface EventOf<Type extends FakeEventType, Object> {
  readonly id: string;
  readonly object: 'event';
  readonly api_version: string;
  readonly created: number;
  readonly livemode: false;
  readonly pending_webhooks: number;
  /** The API request that caused the event; both null for a customer's action on the hosted page. */
  readonly request: { readonly id: string | null; readonly idempotency_key: string | null };
  readonly type: Type;
  readonly data: { readonly object: Object };
}

export type FakeCheckoutEvent = EventOf<CheckoutEventType, FakeSessionObject>;

/** A snapshot event, as Stripe sends it to a webhook endpoint. */
export type FakeEvent = FakeCheckoutEvent | EventOf<'refund.created', FakeRefundObject> | EventOf<'charge.refunded', FakeChargeObject>;

export function isCheckoutEvent(event: FakeEvent): event is FakeCheckoutEvent {
  return event.data.object.object === 'checkout.session';
}

export interface FakeDelivery {
  readonly eventId: string;
  readonly type: FakeEventType;
  /** The webhook's HTTP status; 0 when it could not be reached. */
  readonly status: number;
  /** The webhook's answer (or, when unreachable, why). */
  readonly body: string;
}

export interface WebhookTarget {
  readonly url: string;
  /** The endpoint's signing secret (`whsec_...`). */
  readonly secret: string;
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
  /** Where events are POSTed, signed; without one they are only recorded. Also settable later (`setWebhook`). */
  readonly webhook?: WebhookTarget;
  /**
   * A file the fake keeps what it made in (sessions, payments, refunds, events, their deliveries, idempotency keys),
   * written after every request and read back on start: the local stack's stand-in then outlives a restart, as its
   * table does. Without one, everything is gone with the process (the tests').
   */
  readonly stateFile?: string;
}

/** The stand-in's state file does not read as one (another program's file, or written by hand). */
export class StandInStateError extends Error {
  override name = 'StandInStateError';
}

export interface StripeFake {
  readonly url: string;
  /** Refunds created, in order of creation. */
  readonly refunds: FakeRefund[];
  /** Every request received, in order. */
  readonly calls: FakeCall[];
  /** Events sent, in order, whether or not a webhook was configured: those of checkout, and of refunds taken through the API. */
  readonly events: FakeEvent[];
  /** Each POST of an event to the webhook, with its answer. */
  readonly deliveries: FakeDelivery[];
  /** Points event delivery at a webhook, e.g. once the local stack's own port is known. */
  setWebhook(url: string, secret: string): void;
  /**
   * The next `count` events are recorded and listed (`GET /v1/events`) but never POSTed, as when an endpoint was down
   * for longer than Stripe's three days of retries; nothing is added to `deliveries` for them.
   */
  dropNextDeliveries(count: number): void;
  /** Checkout Sessions created, in order of creation. */
  sessions(): FakeSession[];
  session(id: string): FakeSession | undefined;
  /** Declares a succeeded PaymentIntent with one charge, so refunds of it can be made. */
  registerPayment(paymentIntent: string, amount: number, currency?: string): void;
  payment(paymentIntent: string): FakePayment | undefined;
  /**
   * Answers the next `count` refund requests with a transient failure (a 500 by default), creating and storing nothing.
   * Counts HTTP requests: stripe-node retries a reset connection once even with retries off, so one `'reset'` call takes two.
   */
  failNext(count: number, failure?: TransientFailure): void;
  /**
   * Answers the next `count` retrievals of a Checkout Session (`GET /v1/checkout/sessions/:id`) with a transient failure,
   * as `failNext` does refunds: Stripe slow, down or cut off while a traveller returns from the payment page.
   */
  failNextSessionRetrievals(count: number, failure?: TransientFailure): void;
  /** Answers the next `count` listings of refunds (`GET /v1/refunds`) with a transient failure, as `failNext` does refunds. */
  failNextRefundLists(count: number, failure?: TransientFailure): void;
  /**
   * Carries out the next `count` refund requests (the refund made, its answer kept under the key, its events sent) and
   * never answers them: the connection stays open until the client gives up, as when Stripe's answer is lost on the way.
   */
  leaveNextRefundsUnanswered(count: number): void;
  /** Answers the next refund request of a known payment with this Stripe error, stored under its idempotency key as Stripe does. */
  refuseNext(code: string, options?: RefusalOptions): void;
  /**
   * Answers the next `count` refund requests of a known payment (or, with `'sessions'`, Checkout Session creations) with
   * Stripe's internal error (500, `api_error`), kept under each one's idempotency key as Stripe keeps a 500 once the
   * request began executing: every retry under that key gets it again (marked `Idempotent-Replayed`) for 24 hours.
   * Nothing is made.
   */
  failNextKeptUnderKey(count?: number, what?: 'refunds' | 'sessions'): void;
  /**
   * From now on, answers every API request made with `apiKey` (only those to `path` and below, when given) as Stripe answers
   * a key it does not take: 401 (a key rolled or deleted in the Dashboard, or mistyped), or 403 (a restricted key without
   * the permission the request needs: with `path`, the one permission it lacks). The request is not executed, and an
   * idempotency key sent with it keeps nothing. The hosted payment page is not an API call.
   */
  refuseApiKey(apiKey: string, status?: 401 | 403, path?: string): void;
  /** Gives the next refund created this status instead of `succeeded`. */
  nextRefundStatus(status: RefundStatus): void;
  /**
   * Changes a refund's status later, as when `refund.failed` arrives days after the refund. It sends no event: a test
   * sends the `refund.updated` or `refund.failed` it means to, when it means to.
   */
  setRefundStatus(refundId: string, status: RefundStatus, failureReason?: string): FakeRefund;
  refundsOf(paymentIntent: string): FakeRefund[];
  /** Refunded so far: every refund of the payment except failed and canceled ones. */
  totalRefunded(paymentIntent: string): number;
  /** Moves the fake's clock forward, e.g. past the 24 hours Stripe keeps idempotency keys. */
  advance(ms: number): void;
  /** A client of this fake, with `apiKey` (`sk_test_fake` unless given). */
  client(apiKey?: string): Stripe;
  close(): Promise<void>;
}

/** Stripe keeps a key's result for at least 24 hours; after that the same key executes again. */
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** What a made-up payment is worth when its first refund names no amount (acceptUnknownPaymentIntents). */
const UNKNOWN_PAYMENT_AMOUNT = 1_000_000;
/** A Checkout Session's `expires_at` may be 30 minutes to 24 hours after its creation; 24 hours when not given. */
const SESSION_MIN_LIFETIME_S = 30 * 60;
const SESSION_MAX_LIFETIME_S = 24 * 60 * 60;
const CHECKOUT_MODES = ['payment', 'setup', 'subscription'];
const METADATA_MAX_KEYS = 50;
const METADATA_MAX_KEY_CHARS = 40;
const METADATA_MAX_VALUE_CHARS = 500;
/** How long a webhook may take to answer before the delivery counts as failed. */
const WEBHOOK_TIMEOUT_MS = 10_000;
/** The hosted page's buttons: `POST /c/pay/:id/<action>`. */
const PAGE_ACTIONS = ['pay', 'pay-later', 'settle', 'fail', 'expire'] as const;
type PageAction = (typeof PAGE_ACTIONS)[number];

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
  /** The API key of the `Authorization: Bearer` header, if any. */
  readonly apiKey: string | undefined;
  /** Events this request caused, delivered before it is answered. */
  readonly emitted: FakeEvent[];
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly code?: string;
  /** Headers of answers that are not Stripe JSON: the hosted page and its redirects. */
  readonly headers?: Record<string, string>;
  /** Whether an idempotency key keeps this answer: Stripe stores results of requests it executed, not validation errors or outages. */
  readonly stored: boolean;
  /** Carried out, and its answer never sent: the connection is left open (`leaveNextRefundsUnanswered`). */
  readonly unanswered?: boolean;
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
  /** Ends the ids of sessions, their payments, refunds and events, so a restarted fake never repeats one already stored. */
  readonly tag: string;
  /** The fake's own origin, known once it listens. */
  url: string;
  webhook: WebhookTarget | undefined;
  readonly payments: Map<string, Payment>;
  readonly refunds: Mutable<FakeRefund>[];
  readonly sessions: Map<string, Mutable<FakeSession>>;
  readonly events: FakeEvent[];
  readonly deliveries: FakeDelivery[];
  readonly calls: FakeCall[];
  readonly keys: Map<string, StoredAnswer>;
  readonly refusals: { readonly status: number; readonly error: StripeErrorFields }[];
  /** Checkout Session creations still to answer with an internal error kept under their key (failNextKeptUnderKey). */
  keptSessionFailures: number;
  /** API keys answered 401 or 403 (`refuseApiKey`), on every path or one. */
  readonly refusedKeys: { readonly apiKey: string; readonly status: 401 | 403; readonly path?: string }[];
  failures: { remaining: number; failure: TransientFailure };
  sessionRetrievalFailures: { remaining: number; failure: TransientFailure };
  refundListFailures: { remaining: number; failure: TransientFailure };
  unansweredRefunds: number;
  nextRefundStatus: RefundStatus | undefined;
  requestCount: number;
  paymentCount: number;
  chargeCount: number;
  sessionCount: number;
  eventCount: number;
  /** Events still to be recorded without being delivered (`dropNextDeliveries`). */
  droppedDeliveries: number;
}

export async function startStripeFake(options: StripeFakeOptions = {}): Promise<StripeFake> {
  const baseClock = options.now ?? Date.now;
  let offset = 0;
  const kept = options.stateFile === undefined ? undefined : readKeptState(options.stateFile);
  const state: State = {
    acceptUnknownPaymentIntents: options.acceptUnknownPaymentIntents ?? false,
    now: () => baseClock() + offset,
    tag: kept?.tag ?? randomBytes(6).toString('hex'),
    url: '',
    webhook: options.webhook,
    payments: new Map(kept?.payments.map((payment) => [payment.id, payment])),
    refunds: kept?.refunds ?? [],
    sessions: new Map(kept?.sessions.map((session) => [session.id, session])),
    events: kept?.events ?? [],
    deliveries: kept?.deliveries ?? [],
    calls: [],
    keys: new Map(kept?.keys),
    refusals: [],
    keptSessionFailures: 0,
    refusedKeys: [],
    failures: { remaining: 0, failure: 500 },
    sessionRetrievalFailures: { remaining: 0, failure: 500 },
    refundListFailures: { remaining: 0, failure: 500 },
    unansweredRefunds: 0,
    nextRefundStatus: undefined,
    requestCount: kept?.counts.requests ?? 0,
    paymentCount: kept?.counts.payments ?? 0,
    chargeCount: kept?.counts.charges ?? 0,
    sessionCount: kept?.counts.sessions ?? 0,
    eventCount: kept?.counts.events ?? 0,
    droppedDeliveries: 0,
  };

  const keep = options.stateFile === undefined ? () => undefined : keepStateOrSay.bind(undefined, state, options.stateFile);
  const server: Server = createServer((request, response) => serve(state, request, response, keep));
  const port = portToListenOn(options, kept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        kept?.port !== undefined && error.code === 'EADDRINUSE'
          ? new StandInStateError(`${options.stateFile} holds payment pages at port ${kept.port}, which another program listens on`)
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.url = url;

  return {
    url,
    refunds: state.refunds,
    calls: state.calls,
    events: state.events,
    deliveries: state.deliveries,
    setWebhook(webhookUrl, secret) {
      state.webhook = { url: webhookUrl, secret };
    },
    dropNextDeliveries(count) {
      state.droppedDeliveries = count;
    },
    sessions: () => [...state.sessions.values()],
    session: (id) => state.sessions.get(id),
    registerPayment: (paymentIntent, amount, currency = 'eur') => {
      registerPayment(state, paymentIntent, amount, currency);
    },
    payment: (paymentIntent) => publicPayment(state.payments.get(paymentIntent)),
    failNext(count, failure = 500) {
      state.failures = { remaining: count, failure };
    },
    failNextSessionRetrievals(count, failure = 500) {
      state.sessionRetrievalFailures = { remaining: count, failure };
    },
    failNextRefundLists(count, failure = 500) {
      state.refundListFailures = { remaining: count, failure };
    },
    leaveNextRefundsUnanswered(count) {
      state.unansweredRefunds = count;
    },
    failNextKeptUnderKey(count = 1, what = 'refunds') {
      if (what === 'sessions') state.keptSessionFailures += count;
      else for (let i = 0; i < count; i++) state.refusals.push({ status: 500, error: STRIPE_INTERNAL_ERROR });
    },
    refuseNext(code, refusal = {}) {
      const error = {
        type: refusal.type ?? 'invalid_request_error',
        code,
        message: refusal.message ?? `The refund was refused (${code}).`,
        ...(refusal.param !== undefined && { param: refusal.param }),
      };
      state.refusals.push({ status: refusal.status ?? 400, error });
    },
    refuseApiKey(apiKey, status = 401, path) {
      state.refusedKeys.push({ apiKey, status, ...(path !== undefined && { path }) });
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
    client: (apiKey = 'sk_test_fake') => createStripeClient({ apiKey, apiBase: url, maxNetworkRetries: 0 }),
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

// Events go out before the answer, so whoever follows a redirect from the hosted page sees their effect.
function serve(state: State, message: IncomingMessage, response: ServerResponse, keep: () => void): void {
  readBody(message)
    .then(async (body) => {
      const request = toFakeRequest(state, message, body);
      const outcome = route(state, request);
      record(state, request, outcome);
      if (outcome === 'reset') {
        keep();
        message.socket.destroy();
        return;
      }
      await deliverAll(state, request.emitted);
      // Kept before the answer goes out: whoever acts on the answer (a restart included) finds what it says.
      keep();
      if (outcome.unanswered) return;
      response.writeHead(outcome.status, responseHeaders(state, request, outcome));
      response.end(outcome.body);
    })
    // A fault of the stand-in's own is one request's 500, as Stripe's would be, never the end of the process (and of
    // the local stack around it).
    .catch((error: unknown) => {
      console.error(`warning: the Stripe stand-in failed to answer ${message.method} ${message.url}: ${(error as Error).message}`);
      if (response.headersSent) return void response.destroy();
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { type: 'api_error', message: 'The Stripe stand-in failed to answer this request.' } }));
    });
}

// ---- Kept across restarts (`stateFile`) ----

/** What the state file holds; `format` changes when its shape does. */
interface KeptState {
  readonly format: 1;
  /** The port its payment pages, stored answers and events name (absent in a file written before it was kept). */
  readonly port?: number;
  readonly tag: string;
  readonly counts: { readonly requests: number; readonly payments: number; readonly charges: number; readonly sessions: number; readonly events: number };
  readonly payments: Payment[];
  readonly refunds: Mutable<FakeRefund>[];
  readonly sessions: Mutable<FakeSession>[];
  readonly events: FakeEvent[];
  readonly deliveries: FakeDelivery[];
  readonly keys: [string, StoredAnswer][];
}

const KEPT_STATE_FORMAT = 1;

/** The shape checked before anything of the file is used (the fields the fake finds its items by); the file is used as read. */
const keptStateShape = z.object({
  format: z.literal(KEPT_STATE_FORMAT),
  port: z.optional(z.number()),
  tag: z.string(),
  counts: z.object({ requests: z.number(), payments: z.number(), charges: z.number(), sessions: z.number(), events: z.number() }),
  payments: z.array(z.object({ id: z.string(), amount: z.number(), currency: z.string() })),
  refunds: z.array(z.object({ id: z.string(), paymentIntent: z.string(), amount: z.number() })),
  sessions: z.array(z.object({ id: z.string(), status: z.string(), expiresAt: z.number() })),
  events: z.array(z.object({ id: z.string(), type: z.string(), created: z.number() })),
  deliveries: z.array(z.object({ eventId: z.string(), status: z.number() })),
  keys: z.array(z.tuple([z.string(), z.object({ fingerprint: z.string(), storedAt: z.number() })])),
});

function readKeptState(file: string): KeptState | undefined {
  if (!existsSync(file)) return undefined;
  let kept: unknown;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
    kept = JSON.parse(text);
  } catch (error) {
    throw new StandInStateError(`${file} does not read (${(error as Error).message})`);
  }
  const checked = keptStateShape.safeParse(kept);
  if (!checked.success) {
    const at = checked.error.issues[0]?.path.join('.') || '(the whole file)';
    throw new StandInStateError(`${file} is not a state file of this stand-in (format ${KEPT_STATE_FORMAT}; at ${at})`);
  }
  // A file written before the port was kept: the port its pages name, as its stored answers and events name it.
  const named = checked.data.port ?? Number(/http:\/\/127\.0\.0\.1:(\d+)\/c\/pay\//.exec(text)?.[1] ?? Number.NaN);
  return { ...(kept as KeptState), ...(Number.isInteger(named) && { port: named }) };
}

/**
 * The port the file's pages name, unless another is asked for: then the stand-in is refused, since the pages stored on
 * trips, its answers kept under idempotency keys and its events name the port they were made on.
 */
function portToListenOn(options: StripeFakeOptions, kept: KeptState | undefined): number {
  if (kept?.port === undefined) return options.port ?? 0;
  if (options.port !== undefined && options.port !== 0 && options.port !== kept.port) {
    throw new StandInStateError(`${options.stateFile} holds payment pages at port ${kept.port}, not ${options.port}: start it with STRIPE_PORT=${kept.port}`);
  }
  return kept.port;
}

/** A state that cannot be written (its folder gone, a full disk) is said, and the request still answered. */
function keepStateOrSay(state: State, file: string): void {
  try {
    keepState(state, file);
  } catch (error) {
    console.error(`warning: the Stripe stand-in could not keep its state in ${file} (${(error as Error).message}); it goes on in memory`);
  }
}

/** Written whole to a file beside it, then moved over it: a process stopped while writing leaves the last state whole. */
function keepState(state: State, file: string): void {
  const kept: KeptState = {
    format: KEPT_STATE_FORMAT,
    port: Number(new URL(state.url).port),
    tag: state.tag,
    counts: { requests: state.requestCount, payments: state.paymentCount, charges: state.chargeCount, sessions: state.sessionCount, events: state.eventCount },
    payments: [...state.payments.values()],
    refunds: state.refunds,
    sessions: [...state.sessions.values()],
    events: state.events,
    deliveries: state.deliveries,
    // A key Stripe no longer keeps is not kept either.
    keys: [...state.keys].filter(([, answer]) => state.now() - answer.storedAt < IDEMPOTENCY_WINDOW_MS),
  };
  writeFileSync(`${file}.writing`, JSON.stringify(kept));
  renameSync(`${file}.writing`, file);
}

async function readBody(message: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of message) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function toFakeRequest(state: State, message: IncomingMessage, body: string): FakeRequest {
  const url = new URL(message.url ?? '/', 'http://stripe-fake');
  const key = message.headers['idempotency-key'];
  const bearer = /^Bearer (.+)$/.exec(message.headers.authorization ?? '')?.[1];
  return {
    id: `req_${++state.requestCount}`,
    method: message.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    form: new URLSearchParams(body),
    idempotencyKey: Array.isArray(key) ? key[0] : key,
    apiKey: bearer,
    emitted: [],
  };
}

function responseHeaders(state: State, request: FakeRequest, answer: Answer): Record<string, string> {
  return {
    // Stripe's clock, as every answer of Stripe's carries it (the fake's, moved by `advance`).
    date: new Date(state.now()).toUTCString(),
    'content-type': 'application/json',
    'request-id': request.id,
    ...(request.idempotencyKey !== undefined && { 'idempotency-key': request.idempotencyKey }),
    ...(answer.replayOf !== undefined && { 'idempotent-replayed': 'true', 'original-request': answer.replayOf }),
    ...answer.headers,
  };
}

function record(state: State, request: FakeRequest, outcome: Outcome): void {
  const answered =
    outcome === 'reset' || outcome.unanswered ? { status: 0 } : { status: outcome.status, ...(outcome.code !== undefined && { code: outcome.code }) };
  state.calls.push({ method: request.method, path: request.path, idempotencyKey: request.idempotencyKey, ...answered });
}

function route(state: State, request: FakeRequest): Outcome {
  const { method, path } = request;
  const refusedKey = path.startsWith('/v1/')
    ? state.refusedKeys.find((refusal) => refusal.apiKey === request.apiKey && (refusal.path === undefined || path.startsWith(refusal.path)))
    : undefined;
  if (refusedKey !== undefined) return keyRefused(request, refusedKey.status);
  if (method === 'POST' && path === '/v1/refunds') return postRefund(state, request);
  if (method === 'GET' && path === '/v1/refunds') return listRefunds(state, request);
  if (method === 'POST' && path === '/v1/payment_intents') return idempotently(state, request, () => createPaymentIntent(state, request));
  const refundId = /^\/v1\/refunds\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && refundId !== undefined) return retrieveRefund(state, request, decodeURIComponent(refundId));
  const paymentIntentId = /^\/v1\/payment_intents\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && paymentIntentId !== undefined) return retrievePaymentIntent(state, request, decodeURIComponent(paymentIntentId));
  if (method === 'POST' && path === '/v1/checkout/sessions') return idempotently(state, request, () => createSession(state, request));
  if (method === 'GET' && path === '/v1/events') return listEvents(state, request);
  const eventId = /^\/v1\/events\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && eventId !== undefined) return retrieveEvent(state, request, decodeURIComponent(eventId));
  const [, sessionId, sessionVerb] = /^\/v1\/checkout\/sessions\/([^/]+)(\/expire)?$/.exec(path) ?? [];
  if (method === 'GET' && sessionId !== undefined && sessionVerb === undefined) return retrieveSession(state, request, decodeURIComponent(sessionId));
  if (method === 'POST' && sessionId !== undefined && sessionVerb !== undefined)
    return idempotently(state, request, () => expireByApi(state, request, decodeURIComponent(sessionId)));
  const [, pageId, action] = /^\/c\/pay\/([^/]+)(?:\/([a-z-]+))?$/.exec(path) ?? [];
  if (method === 'GET' && pageId !== undefined && action === undefined) return showPage(state, request, decodeURIComponent(pageId));
  if (method === 'POST' && pageId !== undefined && isPageAction(action)) return actOnPage(state, request, decodeURIComponent(pageId), action);
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

function missingParam(request: FakeRequest, param: string): Answer {
  return invalidRequest(request, 'parameter_missing', param, `Missing required param: ${param}.`, false);
}

/** A validation refusal Stripe gives without an error code (a value out of range, an unsupported combination). */
function refuse(request: FakeRequest, param: string, message: string): Answer {
  return stripeError(request, 400, { type: 'invalid_request_error', param, message }, false);
}

/**
 * Stripe's answer to a key it does not take, before anything is executed: the key masked but for its prefix and last
 * four characters, and no request log (the request reached no account).
 */
function keyRefused(request: FakeRequest, status: 401 | 403): Answer {
  const key = request.apiKey ?? '';
  const prefix = /^(?:sk|rk)_(?:test|live)_/.exec(key)?.[0] ?? '';
  const masked = `${prefix}${'*'.repeat(Math.max(0, key.length - prefix.length - 4))}${key.slice(-4)}`;
  if (status === 401) return json(401, { error: { message: `Invalid API Key provided: ${masked}`, type: 'invalid_request_error' } }, false);
  // The permission a restricted key lacks, named as the Dashboard names it: `rak_<resource>_<read|write>`.
  const resource = request.path
    .replace(/^\/v1\//, '')
    .split('/')
    .filter((part) => /^[a-z_]+$/.test(part) && part !== 'expire');
  const permission = `rak_${resource.join('_').replace(/s$/, '')}_${request.method === 'GET' ? 'read' : 'write'}`;
  const message = `The provided key '${masked}' does not have the required permissions for this endpoint on account 'acct_fake'. Having the '${permission}' permission would allow this request to continue.`;
  return json(403, { error: { message, type: 'invalid_request_error' } }, false);
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
    state.keys.set(key, {
      fingerprint,
      status: answer.status,
      body: answer.body,
      ...(answer.code !== undefined && { code: answer.code }),
      requestId: request.id,
      storedAt: state.now(),
    });
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
  if (payment) return json(200, paymentIntentObject(payment), false);
  const session = sessionPaying(state, id);
  return session ? json(200, unsettledIntentObject(session), false) : resourceMissing(request, 'payment_intent', id, 'id');
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

/** A "pay later" payment that has not arrived: processing, or after a failure waiting for another payment method, as at Stripe. */
function unsettledIntentObject(session: FakeSession): object {
  return {
    id: session.paymentIntent,
    object: 'payment_intent',
    amount: session.amountTotal,
    amount_received: 0,
    created: session.created,
    currency: session.currency,
    latest_charge: null,
    livemode: false,
    metadata: session.paymentIntentMetadata,
    status: session.asyncPayment === 'failed' ? 'requires_payment_method' : 'processing',
  };
}

/**
 * A payment the fake knows, or (acceptUnknownPaymentIntents) a made-up `pi_...` worth what its first refund asks,
 * unless a Checkout Session holds it still unpaid: that one has nothing to refund yet.
 */
function paymentToRefund(state: State, id: string, amount: number | undefined): Payment | undefined {
  const known = state.payments.get(id);
  if (known || !state.acceptUnknownPaymentIntents || !id.startsWith('pi_') || sessionPaying(state, id)) return known;
  return registerPayment(state, id, amount ?? UNKNOWN_PAYMENT_AMOUNT, 'eur');
}

// ---- Refunds ----

// Injected outages come before the idempotency check: Stripe was not reached, so nothing is stored or replayed.
function postRefund(state: State, request: FakeRequest): Outcome {
  if (state.failures.remaining > 0) {
    state.failures.remaining--;
    return transientFailure(state.failures.failure);
  }
  const answer = idempotently(state, request, () => executeRefund(state, request));
  if (state.unansweredRefunds === 0) return answer;
  state.unansweredRefunds--;
  return { ...answer, unanswered: true };
}

function transientFailure(failure: TransientFailure): Outcome {
  switch (failure) {
    case 'reset':
      return 'reset';
    case 500:
      return json(500, { error: { type: 'api_error', message: 'An unknown error occurred' } }, false);
    case 429:
      return json(
        429,
        {
          error: {
            type: 'invalid_request_error',
            code: 'rate_limit',
            message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
          },
        },
        false,
        'rate_limit',
      );
    case 'lock_timeout':
      return json(
        429,
        {
          error: {
            type: 'invalid_request_error',
            code: 'lock_timeout',
            message:
              'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request.',
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
  // Stripe tells the account's endpoints of the refund and of its charge's new total, as it does of refunds made in the Dashboard.
  emit(state, request, { type: 'refund.created', object: refundObject(refund) }, true);
  emit(state, request, { type: 'charge.refunded', object: chargeObject(state, payment) }, true);
  return json(200, refundObject(refund), true);
}

function createRefund(state: State, request: FakeRequest, payment: Payment, amount: number): FakeRefund {
  const status = state.nextRefundStatus ?? 'succeeded';
  state.nextRefundStatus = undefined;
  const refund: Mutable<FakeRefund> = {
    id: `re_fake_${state.refunds.length + 1}_${state.tag}`,
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

function listRefunds(state: State, request: FakeRequest): Outcome {
  if (state.refundListFailures.remaining > 0) {
    state.refundListFailures.remaining--;
    return transientFailure(state.refundListFailures.failure);
  }
  const paymentIntent = request.query.get('payment_intent');
  if (paymentIntent && !state.payments.has(paymentIntent) && !state.acceptUnknownPaymentIntents) {
    return resourceMissing(request, 'payment_intent', paymentIntent, 'payment_intent');
  }
  const limit = parsePositiveInteger(request.query.get('limit')) ?? 10;
  if (limit === 'invalid' || limit > 100) return invalidRequest(request, 'parameter_invalid_integer', 'limit', 'This value must be between 1 and 100.', false);
  // Newest first, as Stripe lists; refunds are kept in order of creation.
  const matching = state.refunds.filter((refund) => !paymentIntent || refund.paymentIntent === paymentIntent).reverse();
  // The next page starts after the last refund of the one before, as stripe-node's auto-pagination asks.
  const startingAfter = request.query.get('starting_after');
  const anchor = startingAfter === null ? -1 : matching.findIndex((refund) => refund.id === startingAfter);
  if (startingAfter !== null && anchor < 0) {
    return stripeError(
      request,
      400,
      { type: 'invalid_request_error', code: 'resource_missing', param: 'starting_after', message: `No such refund: '${startingAfter}'` },
      false,
    );
  }
  const rest = matching.slice(anchor + 1);
  return json(200, { object: 'list', data: rest.slice(0, limit).map(refundObject), has_more: rest.length > limit, url: '/v1/refunds' }, false);
}

function refundObject(refund: FakeRefund): FakeRefundObject {
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

function chargeObject(state: State, payment: Payment): FakeChargeObject {
  const refunded = totalRefunded(state, payment.id);
  return {
    id: payment.charge,
    object: 'charge',
    amount: payment.amount,
    amount_captured: payment.amount,
    amount_refunded: refunded,
    captured: true,
    created: payment.created,
    currency: payment.currency,
    livemode: false,
    // Stripe copies a PaymentIntent's metadata to its charges: a checkout's charge carries the session's mark.
    metadata: payment.metadata,
    paid: true,
    payment_intent: payment.id,
    refunded: refunded >= payment.amount,
    status: 'succeeded',
  };
}

// ---- Checkout Sessions ----

interface PricedLineItem extends FakeLineItem {
  readonly currency: string;
}

/** Stripe's body for an internal error (no code). */
const STRIPE_INTERNAL_ERROR: StripeErrorFields = { type: 'api_error', message: 'An unknown error occurred' };

function createSession(state: State, request: FakeRequest): Answer {
  if (state.keptSessionFailures > 0) {
    state.keptSessionFailures--;
    return stripeError(request, 500, STRIPE_INTERNAL_ERROR, true);
  }
  const { form } = request;
  const mode = form.get('mode');
  if (!mode) return missingParam(request, 'mode');
  if (!CHECKOUT_MODES.includes(mode)) return refuse(request, 'mode', `Invalid mode: must be one of ${CHECKOUT_MODES.join(', ')}`);
  // Valid at Stripe, but the fake has neither recurring prices nor setup intents.
  if (mode !== 'payment') return refuse(request, 'mode', `The Stripe fake creates Checkout Sessions in payment mode only, not in ${mode} mode.`);
  const successUrl = form.get('success_url');
  if (!successUrl) return missingParam(request, 'success_url');
  if (!URL.canParse(successUrl)) return invalidRequest(request, 'url_invalid', 'success_url', 'Not a valid URL', false);
  const cancelUrl = form.get('cancel_url');
  if (cancelUrl !== null && !URL.canParse(cancelUrl)) return invalidRequest(request, 'url_invalid', 'cancel_url', 'Not a valid URL', false);
  const expiresAt = expiresAtOf(state, request);
  if (typeof expiresAt !== 'number') return expiresAt;
  const metadataProblem = metadataLimitsOf(request, 'metadata') ?? metadataLimitsOf(request, 'payment_intent_data[metadata]');
  if (metadataProblem) return metadataProblem;
  const lineItems = lineItemsOf(request);
  if (!Array.isArray(lineItems)) return lineItems;
  const currency = lineItems[0]?.currency ?? '';
  const mixed = lineItems.findIndex((item) => item.currency !== currency);
  if (mixed >= 0) return refuse(request, `line_items[${mixed}][price_data][currency]`, 'All line items must be in the same currency.');
  const amountTotal = lineItems.reduce((total, item) => total + item.quantity * item.unitAmount, 0);
  // Stripe refuses totals under a minimum per currency (€0.50...); the fake refuses only nothing to pay.
  if (amountTotal <= 0) return refuse(request, 'line_items', "The Checkout Session's total amount due must be greater than zero in payment mode.");

  const session: Mutable<FakeSession> = {
    id: `cs_test_fake_${++state.sessionCount}_${state.tag}`,
    status: 'open',
    paymentStatus: 'unpaid',
    mode: 'payment',
    lineItems: lineItems.map(({ name, quantity, unitAmount }) => ({ name, quantity, unitAmount })),
    amountTotal,
    currency,
    metadata: metadataOf(form),
    paymentIntentMetadata: metadataOf(form, 'payment_intent_data[metadata]'),
    clientReferenceId: form.get('client_reference_id'),
    paymentIntent: null,
    expiresAt,
    created: seconds(state),
    successUrl,
    cancelUrl,
    idempotencyKey: request.idempotencyKey,
  };
  state.sessions.set(session.id, session);
  return json(200, sessionObject(state, session), true);
}

/** Stripe's limits on a metadata object: 50 keys, keys of 40 characters, values of 500. */
function metadataLimitsOf(request: FakeRequest, field: string): Answer | undefined {
  const metadata = metadataOf(request.form, field);
  const keys = Object.keys(metadata);
  if (keys.length > METADATA_MAX_KEYS)
    return refuse(request, field, `Metadata can have up to ${METADATA_MAX_KEYS} keys, but you passed in ${keys.length} keys.`);
  for (const [key, value] of Object.entries(metadata)) {
    if (key.length > METADATA_MAX_KEY_CHARS) return refuse(request, field, `Invalid key: ${key} must be a string under ${METADATA_MAX_KEY_CHARS} characters`);
    if (value.length > METADATA_MAX_VALUE_CHARS) {
      return refuse(
        request,
        `${field}[${key}]`,
        `Metadata values can have up to ${METADATA_MAX_VALUE_CHARS} characters, but you passed in a value that is ${value.length} characters.`,
      );
    }
  }
  return undefined;
}

/** 24 hours from now when not given; otherwise 30 minutes to 24 hours from now, on the fake's clock. */
function expiresAtOf(state: State, request: FakeRequest): number | Answer {
  const now = seconds(state);
  const given = parsePositiveInteger(request.form.get('expires_at'));
  if (given === undefined) return now + SESSION_MAX_LIFETIME_S;
  if (given === 'invalid') return invalidRequest(request, 'parameter_invalid_integer', 'expires_at', 'Invalid integer', false);
  if (given < now + SESSION_MIN_LIFETIME_S)
    return refuse(request, 'expires_at', 'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.');
  if (given > now + SESSION_MAX_LIFETIME_S)
    return refuse(request, 'expires_at', 'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.');
  return given;
}

/** `line_items[0][price_data][product_data][name]`... grouped by index, each field named by its path (`price_data.product_data.name`). */
function lineItemsOf(request: FakeRequest): PricedLineItem[] | Answer {
  const fields = new Map<number, Map<string, string>>();
  for (const [key, value] of request.form.entries()) {
    const [, index, path] = /^line_items\[(\d+)\]\[(.+)\]$/.exec(key) ?? [];
    if (index === undefined || path === undefined) continue;
    const item = fields.get(Number(index)) ?? new Map<string, string>();
    fields.set(Number(index), item.set(path.split('][').join('.'), value));
  }
  if (fields.size === 0) return missingParam(request, 'line_items');
  const items: PricedLineItem[] = [];
  for (const [index, item] of [...fields].sort(([a], [b]) => a - b)) {
    const parsed = lineItemOf(request, index, item);
    if (!('quantity' in parsed)) return parsed;
    items.push(parsed);
  }
  return items;
}

function lineItemOf(request: FakeRequest, index: number, fields: ReadonlyMap<string, string>): PricedLineItem | Answer {
  const param = (path: string) => `line_items[${index}][${path.split('.').join('][')}]`;
  const price = fields.get('price');
  // The fake keeps no catalogue: every price is unknown, as a price of another account would be.
  if (price !== undefined) return invalidRequest(request, 'resource_missing', param('price'), `No such price: '${price}'`, true);
  const quantity = parsePositiveInteger(fields.get('quantity') ?? null);
  if (quantity === undefined) return missingParam(request, param('quantity'));
  if (quantity === 'invalid') return invalidRequest(request, 'parameter_invalid_integer', param('quantity'), 'Invalid positive integer', false);
  const currency = fields.get('price_data.currency');
  if (!currency) return missingParam(request, param('price_data.currency'));
  if (!/^[a-z]{3}$/i.test(currency))
    return invalidRequest(request, 'parameter_invalid_string', param('price_data.currency'), `Invalid currency: ${currency}.`, false);
  const unitAmount = parseNonNegativeInteger(fields.get('price_data.unit_amount') ?? null);
  if (unitAmount === undefined) return missingParam(request, param('price_data.unit_amount'));
  if (unitAmount === 'invalid')
    return invalidRequest(request, 'parameter_invalid_integer', param('price_data.unit_amount'), 'Invalid non-negative integer', false);
  const name = fields.get('price_data.product_data.name');
  if (!name) return missingParam(request, param('price_data.product_data.name'));
  return { name, quantity, unitAmount, currency: currency.toLowerCase() };
}

function retrieveSession(state: State, request: FakeRequest, id: string): Outcome {
  if (state.sessionRetrievalFailures.remaining > 0) {
    state.sessionRetrievalFailures.remaining--;
    return transientFailure(state.sessionRetrievalFailures.failure);
  }
  const session = state.sessions.get(id);
  if (!session) return resourceMissing(request, 'checkout.session', id, 'session');
  expireIfDue(state, request, session);
  return json(200, sessionObject(state, session), false);
}

function expireByApi(state: State, request: FakeRequest, id: string): Answer {
  const session = state.sessions.get(id);
  if (!session) return resourceMissing(request, 'checkout.session', id, 'session');
  expireIfDue(state, request, session);
  if (session.status !== 'open') {
    const message = `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`;
    return stripeError(request, 400, { type: 'invalid_request_error', message }, true);
  }
  expireSession(state, request, session, true);
  return json(200, sessionObject(state, session), true);
}

function expireSession(state: State, request: FakeRequest, session: Mutable<FakeSession>, byApi: boolean): void {
  session.status = 'expired';
  emit(state, request, { type: 'checkout.session.expired', object: sessionObject(state, session) }, byApi);
}

// Stripe expires a session by itself at expires_at; the fake notices when the session is next looked at.
function expireIfDue(state: State, request: FakeRequest, session: Mutable<FakeSession>): void {
  if (session.status === 'open' && seconds(state) >= session.expiresAt) expireSession(state, request, session, false);
}

function sessionPaying(state: State, paymentIntent: string): FakeSession | undefined {
  return [...state.sessions.values()].find((session) => session.paymentIntent === paymentIntent);
}

function sessionObject(state: State, session: FakeSession): FakeSessionObject {
  return {
    id: session.id,
    object: 'checkout.session',
    amount_subtotal: session.amountTotal,
    amount_total: session.amountTotal,
    cancel_url: session.cancelUrl,
    client_reference_id: session.clientReferenceId,
    created: session.created,
    currency: session.currency,
    expires_at: session.expiresAt,
    livemode: false,
    metadata: { ...session.metadata },
    mode: session.mode,
    payment_intent: session.paymentIntent,
    payment_status: session.paymentStatus,
    status: session.status,
    success_url: session.successUrl,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    url: session.status === 'open' ? pageUrl(state, session) : null,
  };
}

// ---- The hosted payment page ----

function isPageAction(action: string | undefined): action is PageAction {
  return (PAGE_ACTIONS as readonly (string | undefined)[]).includes(action);
}

function showPage(state: State, request: FakeRequest, id: string): Answer {
  const session = state.sessions.get(id);
  if (!session) return html(404, page('Checkout Session not found', `<p>There is no Checkout Session <code>${escapeHtml(id)}</code>.</p>`));
  expireIfDue(state, request, session);
  return html(200, checkoutPage(session));
}

/** A button of the page, as a browser sends it: the customer's action, then a redirect to the merchant. */
function actOnPage(state: State, request: FakeRequest, id: string, action: PageAction): Answer {
  const session = state.sessions.get(id);
  if (!session) return html(404, page('Checkout Session not found', `<p>There is no Checkout Session <code>${escapeHtml(id)}</code>.</p>`));
  expireIfDue(state, request, session);
  const refusal = pageRefusal(session, action);
  if (refusal !== undefined)
    return html(
      400,
      page('Nothing was done', `<p>${escapeHtml(refusal)}</p>\n<p><a href="${escapeHtml(pagePath(session))}">Back to the Checkout Session</a></p>`),
    );
  switch (action) {
    case 'pay':
      pay(state, request, session);
      return redirect(successUrlOf(session));
    case 'pay-later':
      payLater(state, request, session);
      return redirect(successUrlOf(session));
    case 'settle':
      settle(state, request, session);
      return redirect(successUrlOf(session));
    case 'fail':
      failPayment(state, request, session);
      return redirect(cancelUrlOf(state, session));
    case 'expire':
      expireSession(state, request, session, false);
      return redirect(cancelUrlOf(state, session));
  }
}

function pageRefusal(session: FakeSession, action: PageAction): string | undefined {
  if (action === 'settle' || action === 'fail') {
    return session.asyncPayment === 'pending' ? undefined : 'No payment of this Checkout Session is waiting to arrive.';
  }
  return session.status === 'open' ? undefined : `This Checkout Session is no longer open: it is ${session.status}.`;
}

function pay(state: State, request: FakeRequest, session: Mutable<FakeSession>): void {
  const payment = registerPayment(state, newPaymentIntentId(state), session.amountTotal, session.currency, session.paymentIntentMetadata);
  session.status = 'complete';
  session.paymentStatus = 'paid';
  session.paymentIntent = payment.id;
  emit(state, request, { type: 'checkout.session.completed', object: sessionObject(state, session) }, false);
}

/** A delayed payment method (a bank debit): the session completes unpaid, its PaymentIntent still processing. */
function payLater(state: State, request: FakeRequest, session: Mutable<FakeSession>): void {
  session.status = 'complete';
  session.paymentIntent = newPaymentIntentId(state);
  session.asyncPayment = 'pending';
  emit(state, request, { type: 'checkout.session.completed', object: sessionObject(state, session) }, false);
}

function settle(state: State, request: FakeRequest, session: Mutable<FakeSession>): void {
  if (session.paymentIntent === null) throw new Error(`Checkout Session ${session.id} has no PaymentIntent to settle`);
  registerPayment(state, session.paymentIntent, session.amountTotal, session.currency, session.paymentIntentMetadata);
  session.paymentStatus = 'paid';
  session.asyncPayment = 'succeeded';
  emit(state, request, { type: 'checkout.session.async_payment_succeeded', object: sessionObject(state, session) }, false);
}

function failPayment(state: State, request: FakeRequest, session: Mutable<FakeSession>): void {
  session.asyncPayment = 'failed';
  emit(state, request, { type: 'checkout.session.async_payment_failed', object: sessionObject(state, session) }, false);
}

function newPaymentIntentId(state: State): string {
  return `pi_fake_${++state.paymentCount}_${state.tag}`;
}

function successUrlOf(session: FakeSession): string {
  return session.successUrl.replaceAll('{CHECKOUT_SESSION_ID}', session.id);
}

/** Back to the merchant; without a cancel_url, back to the page, which then says what became of the session. */
function cancelUrlOf(state: State, session: FakeSession): string {
  return session.cancelUrl ?? pageUrl(state, session);
}

function pagePath(session: FakeSession): string {
  return `/c/pay/${encodeURIComponent(session.id)}`;
}

function pageUrl(state: State, session: FakeSession): string {
  return `${state.url}${pagePath(session)}`;
}

function checkoutPage(session: FakeSession): string {
  const amount = (value: number) => escapeHtml(formatAmount(value, session.currency));
  const rows = session.lineItems.map(
    (item) =>
      `      <tr><td>${escapeHtml(item.name)}</td><td>${item.quantity}</td><td>${amount(item.unitAmount)}</td><td>${amount(item.quantity * item.unitAmount)}</td></tr>`,
  );
  const table = [
    '<table>',
    '  <thead><tr><th>Item</th><th>Quantity</th><th>Price</th><th>Amount</th></tr></thead>',
    '  <tbody>',
    ...rows,
    '  </tbody>',
    `  <tfoot><tr><th colspan="3">Total</th><td>${amount(session.amountTotal)}</td></tr></tfoot>`,
    '</table>',
  ].join('\n');
  const reference = session.clientReferenceId === null ? '' : ` for <code>${escapeHtml(session.clientReferenceId)}</code>`;
  return page('Checkout', `<p>Checkout Session <code>${escapeHtml(session.id)}</code>${reference}</p>\n${table}\n${pageState(session)}`);
}

/** What the customer can still do: pay while the session is open, then (paid later) let the payment arrive or fail. */
function pageState(session: FakeSession): string {
  const button = (action: PageAction, label: string) =>
    `<form method="post" action="${escapeHtml(`${pagePath(session)}/${action}`)}"><button type="submit">${escapeHtml(label)}</button></form>`;
  if (session.status === 'open') {
    const until = new Date(session.expiresAt * 1000).toISOString();
    return [`<p>Open until ${escapeHtml(until)}.</p>`, button('pay', 'Pay'), button('pay-later', 'Pay later'), button('expire', 'Let it expire')].join('\n');
  }
  if (session.status === 'expired') return '<p>This Checkout Session has expired: it can no longer be paid.</p>';
  switch (session.asyncPayment) {
    case 'pending':
      return [
        '<p>This Checkout Session is complete; its payment has not arrived yet.</p>',
        button('settle', 'The payment arrives'),
        button('fail', 'The payment fails'),
      ].join('\n');
    case 'failed':
      return '<p>This Checkout Session is complete, but its payment failed.</p>';
    default:
      return '<p>This Checkout Session is complete and paid.</p>';
  }
}

function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${escapeHtml(title)} · Stripe fake</title></head>`,
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    body,
    '<p><small>Stripe fake, test mode: no money moves.</small></p>',
    '</body>',
    '</html>',
  ].join('\n');
}

function html(status: number, body: string): Answer {
  return { status, body, stored: false, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } };
}

/**
 * A Location header holds ASCII only: the URL as a browser sends it (its path and query percent-encoded, its host
 * punycode), or, when filling in the session's id made it one no parser reads, as written with its other characters
 * escaped. Never a throw: the payment is taken and its event sent by then.
 */
function redirect(location: string): Answer {
  const ascii = URL.canParse(location) ? new URL(location).href : encodeURI(location);
  return { status: 303, body: `See Other: ${ascii}`, stored: false, headers: { 'content-type': 'text/plain; charset=utf-8', location: ascii } };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

// ---- Events and webhook delivery ----

/** Records an event and queues it for delivery before `request` is answered. `byApi`: caused by that API request, not by the customer or by time. */
function emit(state: State, request: FakeRequest, about: Pick<FakeEvent, 'type'> & { object: FakeEvent['data']['object'] }, byApi: boolean): void {
  const event = {
    id: `evt_fake_${++state.eventCount}_${state.tag}`,
    object: 'event',
    api_version: STRIPE_API_VERSION,
    created: seconds(state),
    livemode: false,
    pending_webhooks: 1,
    request: byApi ? { id: request.id, idempotency_key: request.idempotencyKey ?? null } : { id: null, idempotency_key: null },
    type: about.type,
    data: { object: about.object },
  } as FakeEvent;
  state.events.push(event);
  request.emitted.push(event);
}

async function deliverAll(state: State, events: readonly FakeEvent[]): Promise<void> {
  for (const event of events) {
    if (state.droppedDeliveries > 0) {
      state.droppedDeliveries--;
      continue;
    }
    const webhook = state.webhook;
    if (webhook) state.deliveries.push(await deliver(webhook, event));
  }
}

/** One POST, as Stripe makes it; a failure is recorded, never retried (Stripe would retry for days). */
async function deliver(webhook: WebhookTarget, event: FakeEvent): Promise<FakeDelivery> {
  const payload = JSON.stringify(event, null, 2);
  // Signed at the real time, not the fake clock's: the receiver checks the timestamp against its own clock.
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: webhook.secret });
  try {
    const response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': signature,
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      },
      body: payload,
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    return { eventId: event.id, type: event.type, status: response.status, body: await response.text() };
  } catch (error) {
    return { eventId: event.id, type: event.type, status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

// ---- The list of events ----

/** Stripe lists the events of the last 30 days only. */
const EVENT_LIST_RETENTION_S = 30 * 24 * 60 * 60;
/** `types[]` takes at most this many. */
const MAX_EVENT_TYPES = 20;
/** The parameters `GET /v1/events` takes; any other is refused, as Stripe refuses it. */
const EVENT_LIST_PARAMS = /^(limit|starting_after|ending_before|type|types\[\d*\]|created|created\[(gte|gt|lte|lt)\]|delivery_success)$/;
const CREATED_BOUNDS = ['gte', 'gt', 'lte', 'lt'] as const;

/** The events Stripe still lists, newest first (events are recorded in order of creation). */
function listedEvents(state: State): FakeEvent[] {
  const oldest = seconds(state) - EVENT_LIST_RETENTION_S;
  return state.events.filter((event) => event.created >= oldest).reverse();
}

function retrieveEvent(state: State, request: FakeRequest, id: string): Answer {
  const event = listedEvents(state).find((candidate) => candidate.id === id);
  return event ? json(200, asListed(state, event), false) : resourceMissing(request, 'event', id, 'id');
}

/** `GET /v1/events`: newest first, `limit` (10, at most 100) a page, `starting_after` / `ending_before`, filtered by type(s), creation time and delivery. */
function listEvents(state: State, request: FakeRequest): Answer {
  const { query } = request;
  for (const key of query.keys()) {
    if (!EVENT_LIST_PARAMS.test(key)) return invalidRequest(request, 'parameter_unknown', key, `Received unknown parameter: ${key}`, false);
  }
  const limit = parsePositiveInteger(query.get('limit')) ?? 10;
  if (limit === 'invalid' || limit > 100) return invalidRequest(request, 'parameter_invalid_integer', 'limit', 'This value must be between 1 and 100.', false);
  const matches = eventFilter(request);
  if (typeof matches !== 'function') return matches;
  const startingAfter = query.get('starting_after');
  const endingBefore = query.get('ending_before');
  if (startingAfter !== null && endingBefore !== null) {
    return refuse(request, 'starting_after', 'You may only specify one of these parameters: ending_before, starting_after.');
  }
  const all = listedEvents(state);
  const anchorId = startingAfter ?? endingBefore;
  const anchor = anchorId === null ? -1 : all.findIndex((event) => event.id === anchorId);
  if (anchorId !== null && anchor < 0) {
    const param = startingAfter !== null ? 'starting_after' : 'ending_before';
    return stripeError(request, 400, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such event: '${anchorId}'` }, false);
  }
  const matching = all.map((event, index) => ({ event, index })).filter(({ event }) => matches(state, event));
  let page: FakeEvent[];
  let hasMore: boolean;
  if (endingBefore !== null) {
    // The page just before the anchor (newer than it), still newest first.
    const before = matching.filter(({ index }) => index < anchor).map(({ event }) => event);
    page = before.slice(Math.max(0, before.length - limit));
    hasMore = before.length > limit;
  } else {
    const rest = matching.filter(({ index }) => index > anchor).map(({ event }) => event);
    page = rest.slice(0, limit);
    hasMore = rest.length > limit;
  }
  return json(200, { object: 'list', data: page.map((event) => asListed(state, event)), has_more: hasMore, url: '/v1/events' }, false);
}

/**
 * An event as Stripe answers it when asked later: `pending_webhooks` is the number of endpoints that have not taken it
 * (2xx) yet. The fake stands for an account with one endpoint, configured or not (a test may POST events itself and
 * record its deliveries), so it is 0 once a delivery went through and 1 until then, dropped or failed ones included.
 */
function asListed(state: State, event: FakeEvent): FakeEvent {
  return { ...event, pending_webhooks: delivered(state, event) ? 0 : 1 };
}

type EventMatcher = (state: State, event: FakeEvent) => boolean;

/** The filters of a list request (types, creation time, delivery), or Stripe's refusal of one of them. */
function eventFilter(request: FakeRequest): EventMatcher | Answer {
  const { query } = request;
  const type = query.get('type');
  const types = [...query.entries()].filter(([key]) => key.startsWith('types[')).map(([, value]) => value);
  if (type !== null && types.length > 0) return refuse(request, 'types', 'You may pass either `type` or `types`, but not both.');
  if (types.length > MAX_EVENT_TYPES) return refuse(request, 'types', `Array types exceeded maximum ${MAX_EVENT_TYPES} allowed elements.`);
  // `type` may name a group with `*`: `checkout.session.*`.
  const typePattern = type === null ? undefined : new RegExp(`^${type.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
  const bounds: [(typeof CREATED_BOUNDS)[number] | 'eq', number][] = [];
  for (const bound of ['eq', ...CREATED_BOUNDS] as const) {
    const param = bound === 'eq' ? 'created' : `created[${bound}]`;
    const value = query.get(param);
    if (value === null) continue;
    if (!/^\d+$/.test(value)) return invalidRequest(request, 'parameter_invalid_integer', param, `Invalid integer: ${value}`, false);
    bounds.push([bound, Number(value)]);
  }
  const deliverySuccess = query.get('delivery_success');
  if (deliverySuccess !== null && deliverySuccess !== 'true' && deliverySuccess !== 'false') {
    return invalidRequest(request, 'parameter_invalid_boolean', 'delivery_success', `Invalid boolean: ${deliverySuccess}`, false);
  }
  return (state, event) =>
    (typePattern === undefined || typePattern.test(event.type)) &&
    (types.length === 0 || types.includes(event.type)) &&
    bounds.every(([bound, value]) => createdWithin(event.created, bound, value)) &&
    (deliverySuccess === null || delivered(state, event) === (deliverySuccess === 'true'));
}

function createdWithin(created: number, bound: (typeof CREATED_BOUNDS)[number] | 'eq', value: number): boolean {
  switch (bound) {
    case 'eq':
      return created === value;
    case 'gte':
      return created >= value;
    case 'gt':
      return created > value;
    case 'lte':
      return created <= value;
    case 'lt':
      return created < value;
  }
}

/** Whether the webhook took the event (a 2xx answer): what `delivery_success` filters on. */
function delivered(state: State, event: FakeEvent): boolean {
  return state.deliveries.some((delivery) => delivery.eventId === event.id && delivery.status >= 200 && delivery.status < 300);
}

// ---- Parameters ----

/** undefined when absent; 'invalid' unless a positive integer (Stripe takes amounts in the smallest unit, never fractions). */
function parsePositiveInteger(value: string | null): number | 'invalid' | undefined {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value)) return 'invalid';
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : 'invalid';
}

// stripe-node sends `metadata: { tripId }` as the form field `metadata[tripId]`, and nested ones as `payment_intent_data[metadata][tripId]`.
function metadataOf(form: URLSearchParams, field = 'metadata'): Record<string, string> {
  const prefix = `${field}[`;
  const metadata: Record<string, string> = {};
  for (const [key, value] of form.entries()) {
    if (key.length > prefix.length + 1 && key.startsWith(prefix) && key.endsWith(']')) metadata[key.slice(prefix.length, -1)] = value;
  }
  return metadata;
}

/** undefined when absent; 'invalid' unless a whole number of at least 0 (a line item may cost nothing). */
function parseNonNegativeInteger(value: string | null): number | 'invalid' | undefined {
  if (value === null) return undefined;
  const parsed = Number(value);
  return /^\d+$/.test(value) && Number.isSafeInteger(parsed) ? parsed : 'invalid';
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
