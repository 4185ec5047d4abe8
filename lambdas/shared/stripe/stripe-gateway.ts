// The Stripe adapter: the only place that calls Stripe's API; the SDK, its client and its errors are in stripe-client.ts.
import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import {
  CheckoutRefusedError,
  PaymentGatewayUnavailableError,
  ProviderKeySpentError,
  SessionKeyReusedError,
  type CheckoutSession,
  type CheckoutSessionLookup,
  type CheckoutSessionRequest,
  type CheckoutSessions,
  type EventListCut,
  type EventListQuery,
  type FoundRefund,
  type ListedEvent,
  type PaymentEventSource,
  type PaymentGateway,
  type ProviderCheckoutSession,
  type ProviderPaymentStatus,
  type ProviderSessionStatus,
  type RefundAnswer,
  type RefundedSoFar,
  type RefundRequest,
} from '../domain/payment-gateway';
import type { CallDeadline } from '../invocation-deadline';
import { STRIPE_CALL, stripeCallWithin, type StripeCallTime } from './stripe-call-time';
import { REFUND_KEY_METADATA, refundStatusOf, STRIPE_ID_PATTERNS, TABLE_MARK, TRIP_MARK } from './stripe-contract';
import { tripItemsMetadata } from './trip-metadata';

export { REFUND_KEY_METADATA } from './stripe-contract';

/**
 * The SDK's module, loaded on the first call that needs it. A confirmation never calls Stripe, so a bundle keeps the
 * stripe package (240 KiB) in a chunk of its own that only refunds, lookups and checkouts load.
 */
const stripeSdk = (): Promise<typeof import('./stripe-client')> => import('./stripe-client');

/**
 * A failure worth asking again as the domain's error: `failed` says what Stripe did not do. A refused key says so, in
 * Stripe's words (which mask the key), for the person who must replace it.
 */
function unavailable(sdk: typeof import('./stripe-client'), failed: string, error: unknown): PaymentGatewayUnavailableError {
  if (sdk.isStripeError(error) && sdk.isKeyRejection(error)) {
    return new PaymentGatewayUnavailableError(`${failed}: it refused our API key (${error.statusCode}: ${error.message})`, {
      cause: error,
      credentialsRejected: true,
    });
  }
  const detail = sdk.isStripeError(error) ? ` (${error.type}${error.code ? `: ${error.code}` : ''})` : '';
  return new PaymentGatewayUnavailableError(`${failed}${detail}`, { cause: error });
}

/**
 * The time options of a call made now: none of its own when nothing bounds the invocation (the client's settings hold),
 * else the most of `wanted` that ends in time. Too little left, it is not made: Stripe was not asked, as when it does not
 * answer, and the caller asks again later (the same idempotency key, so never twice).
 */
function callTime(deadline: CallDeadline | undefined, wanted: StripeCallTime, notAsked: string): Partial<StripeCallTime> {
  const left = deadline?.timeLeft();
  if (left === undefined) return {};
  const time = stripeCallWithin(wanted, left);
  if (time === undefined) {
    throw new PaymentGatewayUnavailableError(`${notAsked}: ${Math.max(0, left)} ms were left of the invocation, too few to ask it and record its answer`, {
      outOfTime: true,
    });
  }
  return time;
}

/**
 * The client, then the time options of the call it is ready for: on a cold start, getting it reads the secret and loads
 * the SDK, and that time is the invocation's too.
 */
async function readyToCall(
  client: () => Promise<Stripe>,
  deadline: CallDeadline | undefined,
  wanted: StripeCallTime,
  notAsked: string,
): Promise<{ stripe: Stripe; time: Partial<StripeCallTime> }> {
  const stripe = await client();
  return { stripe, time: callTime(deadline, wanted, notAsked) };
}

export class StripePaymentGateway implements PaymentGateway {
  /**
   * `client` is asked for on each call so the API key can come from a secret loaded lazily. With a `deadline`, each call
   * ends in time for its answer to be recorded before the invocation ends.
   */
  constructor(
    private readonly client: () => Promise<Stripe>,
    private readonly deadline?: CallDeadline,
  ) {}

  /** Only PaymentIntents are refunded: a Checkout Session id (a free or subscription checkout) never reaches Stripe's refund API. */
  refundable(paymentId: string): boolean {
    return STRIPE_ID_PATTERNS.paymentIntent.test(paymentId);
  }

  async refund(request: RefundRequest): Promise<RefundAnswer> {
    if (!this.refundable(request.paymentId)) {
      return { kind: 'refused', code: 'not_a_payment_intent', message: `${request.paymentId} is not a PaymentIntent` };
    }
    try {
      const { stripe, time } = await readyToCall(this.client, this.deadline, STRIPE_CALL, `Stripe was not asked to refund ${request.paymentId}`);
      // Only what identifies the refund goes to Stripe: free text would make a retry clash with the key.
      const refund = await stripe.refunds.create(
        {
          payment_intent: request.paymentId,
          amount: request.amount,
          metadata: { [REFUND_KEY_METADATA]: request.refundKey, ...(request.tripId !== undefined && { tripId: request.tripId }) },
        },
        { idempotencyKey: request.idempotencyKey ?? request.refundKey, ...time },
      );
      const answeredAt = stripeClockOf(refund.lastResponse);
      return {
        kind: 'created',
        refundId: refund.id,
        status: refundStatusOf(refund.status),
        created: refund.created,
        ...(answeredAt !== undefined && { answeredAt }),
        // Stripe's header on an answer it kept under the key: another request (a retry, a second caller) made the refund.
        ...(headerOfAnswer(refund.lastResponse, 'idempotent-replayed') === 'true' && { replayed: true }),
      };
    } catch (error) {
      const sdk = await stripeSdk();
      if (!sdk.isStripeError(error)) throw error;
      if (sdk.isReplayedServerError(error)) {
        return { kind: 'key_spent', spentKey: request.idempotencyKey ?? request.refundKey, message: `${error.statusCode} ${error.type}: ${error.message}` };
      }
      if (sdk.isTransientStripeError(error)) throw unavailable(sdk, `Stripe did not answer the refund of ${request.paymentId}`, error);
      if (error.code === 'charge_already_refunded') return { kind: 'already_refunded' };
      return { kind: 'refused', code: error.code ?? error.type, message: error.message };
    }
  }

  async holdsPayment(paymentId: string): Promise<boolean> {
    // A Checkout Session's id is never asked at Stripe for a refund: nothing to tell of the account.
    if (!this.refundable(paymentId)) return true;
    try {
      const stripe = await this.client();
      // Its refunds, with the permission refunds need anyway (a restricted key may not read PaymentIntents).
      await stripe.refunds.list({ payment_intent: paymentId, limit: 1 }, callTime(this.deadline, STRIPE_CALL, `Stripe was not asked for ${paymentId}`));
      return true;
    } catch (error) {
      if (error instanceof PaymentGatewayUnavailableError) throw error;
      const sdk = await stripeSdk();
      if (!sdk.isStripeError(error)) throw error;
      if (error.code === 'resource_missing' && error.param === 'payment_intent') return false;
      if (sdk.isTransientStripeError(error)) throw unavailable(sdk, `Stripe did not list the refunds of ${paymentId}`, error);
      // Any other refusal says nothing of whose the payment is.
      return true;
    }
  }

  async findRefund(paymentId: string, refundKey: string): Promise<FoundRefund | undefined> {
    // Page by page, so that the refund found comes with the time of the answer that showed it.
    return this.readRefundPages(
      paymentId,
      (page) => {
        const refund = page.data.find((candidate) => candidate.metadata?.[REFUND_KEY_METADATA] === refundKey);
        if (!refund) return undefined;
        const answeredAt = stripeClockOf(page.lastResponse);
        return {
          refundId: refund.id,
          status: refundStatusOf(refund.status),
          amount: refund.amount,
          created: refund.created,
          ...(answeredAt !== undefined && { answeredAt }),
        };
      },
      () => undefined,
    );
  }

  async refundedSoFar(paymentId: string): Promise<RefundedSoFar | undefined> {
    let amount = 0;
    let asOf: number | undefined;
    return this.readRefundPages(
      paymentId,
      (page) => {
        // The first page's time: a refund created after it may be missing from the pages that follow, never counted twice.
        asOf ??= stripeClockOf(page.lastResponse);
        // What the charge's amount_refunded counts: refunds made or on their way (one that fails later comes off it).
        for (const refund of page.data) if (COUNTED_REFUND_STATUSES.includes(refund.status ?? '')) amount += refund.amount;
        return undefined;
      },
      () => ({ amount, ...(asOf !== undefined && { asOf }) }),
    );
  }

  /**
   * The payment's refunds, newest first, page by page (each fitted into the time left when it is asked), handed to `read`
   * until it answers; `atEnd` answers once the last page gave no answer. Undefined for a payment Stripe does not refund or
   * a refusal for good; a refusal for now throws PaymentGatewayUnavailableError.
   */
  private async readRefundPages<T>(
    paymentId: string,
    read: (page: Stripe.Response<Stripe.ApiList<Stripe.Refund>>) => T | undefined,
    atEnd: () => T | undefined,
  ): Promise<T | undefined> {
    if (!this.refundable(paymentId)) return undefined;
    try {
      const stripe = await this.client();
      let startingAfter: string | undefined;
      for (;;) {
        const time = callTime(this.deadline, STRIPE_CALL, `Stripe was not asked for the refunds of ${paymentId}`);
        const page = await stripe.refunds.list(
          { payment_intent: paymentId, limit: 100, ...(startingAfter !== undefined && { starting_after: startingAfter }) },
          time,
        );
        const answer = read(page);
        if (answer !== undefined) return answer;
        const last = page.data.at(-1);
        if (!page.has_more || last === undefined) return atEnd();
        startingAfter = last.id;
      }
    } catch (error) {
      if (error instanceof PaymentGatewayUnavailableError) throw error;
      const sdk = await stripeSdk();
      if (sdk.isStripeError(error) && !sdk.isTransientStripeError(error)) return undefined;
      throw unavailable(sdk, `Stripe did not list the refunds of ${paymentId}`, error);
    }
  }
}

/** The refunds a charge's total counts: made, or on their way. */
const COUNTED_REFUND_STATUSES: readonly string[] = ['succeeded', 'pending', 'requires_action'];

/**
 * A header of the answer a resource came with (`lastResponse`). The SDK's types say an object of headers; its fetch
 * client, the one createStripeClient builds, gives fetch's own `Response`, whose `headers` is a `Headers`.
 */
export function headerOfAnswer(response: unknown, name: string): string | undefined {
  const headers: unknown = typeof response === 'object' && response !== null ? (response as { headers?: unknown }).headers : undefined;
  return headers instanceof Headers ? (headers.get(name) ?? undefined) : undefined;
}

/** An instant of Stripe's (epoch seconds) as the rest of what operators read says times: ISO 8601, UTC. */
function isoOf(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/** Stripe's clock when it answered (its `Date` header, epoch seconds), or undefined without a readable one. */
function stripeClockOf(response: unknown): number | undefined {
  const date = headerOfAnswer(response, 'date');
  const ms = date === undefined ? Number.NaN : Date.parse(date);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * A traveller back from the payment page waits on the answer: one attempt of a few seconds, no retries (the page asks
 * again, and the webhook books the trip anyway).
 */
const SESSION_LOOKUP: StripeCallTime = { timeout: 3_000, maxNetworkRetries: 0 };

const SESSION_STATUSES: readonly string[] = ['open', 'complete', 'expired'] satisfies ProviderSessionStatus[];
const PAYMENT_STATUSES: readonly string[] = ['paid', 'unpaid', 'no_payment_required'] satisfies ProviderPaymentStatus[];

/**
 * The idempotency key of a trip's session. Stripe refuses a key sent again with other parameters, so a change of what a
 * session carries (the table's mark, here) changes its key: a request retried across the upgrade then gets a session
 * instead of a refusal. The one asked for before, whose answer was lost, was never shown to anyone; a payment of it would
 * not be the trip's recorded session, and would be set aside and refunded. The mark is in the key: a trip's id comes
 * from its user and their Idempotency-Key alone, and two deployments on one account (two developers' local stacks
 * trying the README's example) may both be sent one. So is the session's expiry, which a checkout retried too late for
 * it moves (with its hold), and so are the return URLs as sent: a version that fills them otherwise (`%7BTRIP_ID%7D`,
 * once sent as written) sends other ones for the same request.
 */
function sessionKey(request: Pick<CheckoutSessionRequest, 'tripId' | 'expiresAt' | 'successUrl' | 'cancelUrl'>, table: string | undefined): string {
  const asked = createHash('sha256').update(`${table ?? ''}\n${Math.floor(request.expiresAt.getTime() / 1000)}\n${request.successUrl}\n${request.cancelUrl}`);
  return `checkout-${request.tripId}-${asked.digest('hex').slice(0, 16)}`;
}

/** Stripe Checkout: the hosted page a traveller pays on, marked as ours, and read back when the traveller returns. */
export class StripeCheckoutSessions implements CheckoutSessions, CheckoutSessionLookup {
  /** `table`: the deployment's, written beside the trip's id (TABLE_MARK); without it, sessions carry the trip's alone. */
  constructor(
    private readonly client: () => Promise<Stripe>,
    private readonly deadline?: CallDeadline,
    private readonly table?: string,
  ) {}

  async createSession(request: CheckoutSessionRequest): Promise<CheckoutSession> {
    // The mark on the session and on its PaymentIntent (Stripe copies that to the charge) is what makes its events ours,
    // and the table's is what makes them this deployment's.
    const mark = { [TRIP_MARK]: request.tripId, ...(this.table !== undefined && { [TABLE_MARK]: this.table }), userId: request.userId };
    try {
      const { stripe, time } = await readyToCall(this.client, this.deadline, STRIPE_CALL, `Stripe was not asked for the checkout session of ${request.tripId}`);
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: request.tripId,
          // The items ride on the session only: its completion event then confirms the trip in one request.
          metadata: { ...mark, ...tripItemsMetadata(request.trip) },
          payment_intent_data: { metadata: mark },
          line_items: request.lines.map((line) => ({
            quantity: line.quantity,
            price_data: { currency: request.currency, unit_amount: line.unitAmount, product_data: { name: line.name } },
          })),
          expires_at: Math.floor(request.expiresAt.getTime() / 1000),
          success_url: request.successUrl,
          cancel_url: request.cancelUrl,
        },
        // One session per trip, however often the request is retried.
        { idempotencyKey: sessionKey(request, this.table), ...time },
      );
      if (!session.url) throw new Error('Stripe answered a Checkout Session without a url');
      return { sessionId: session.id, url: session.url };
    } catch (error) {
      const sdk = await stripeSdk();
      if (!sdk.isStripeError(error)) throw error;
      if (sdk.isReplayedServerError(error)) {
        throw new ProviderKeySpentError(`Stripe answered the checkout session of ${request.tripId} with a server error it keeps under the key`, {
          cause: error,
        });
      }
      if (sdk.isTransientStripeError(error)) throw unavailable(sdk, `Stripe did not create the checkout session of ${request.tripId}`, error);
      // The key made a session with other parameters already: that refuses this request, not the trip.
      if (error.type === 'StripeIdempotencyError') throw new SessionKeyReusedError(error.message);
      throw new CheckoutRefusedError(error.code ?? error.type, error.message);
    }
  }

  async retrieveSession(sessionId: string): Promise<ProviderCheckoutSession | undefined> {
    try {
      const { stripe, time } = await readyToCall(this.client, this.deadline, SESSION_LOOKUP, `Stripe was not asked for the checkout session ${sessionId}`);
      const session = await stripe.checkout.sessions.retrieve(sessionId, {}, { ...SESSION_LOOKUP, ...time });
      const mark = session.metadata?.[TRIP_MARK];
      return {
        sessionId: session.id,
        ...(session.status !== null && SESSION_STATUSES.includes(session.status) && { status: session.status as ProviderSessionStatus }),
        ...(PAYMENT_STATUSES.includes(session.payment_status) && { paymentStatus: session.payment_status as ProviderPaymentStatus }),
        ...(mark !== undefined && { tripId: mark }),
        // Its own fields only: the SDK's response (headers, request id) is not part of the session.
        object: JSON.parse(JSON.stringify(session)) as Record<string, unknown>,
      };
    } catch (error) {
      if (error instanceof PaymentGatewayUnavailableError) throw error;
      const sdk = await stripeSdk();
      if (sdk.isStripeError(error) && !sdk.isTransientStripeError(error)) return undefined;
      throw unavailable(sdk, `Stripe did not answer for the checkout session ${sessionId}`, error);
    }
  }
}

/** Stripe's list of the events it sent (`GET /v1/events`, the last 30 days), for the reconciliation sweep. */
export class StripeEventSource implements PaymentEventSource {
  constructor(
    private readonly client: () => Promise<Stripe>,
    private readonly deadline?: CallDeadline,
  ) {}

  async listEvents(query: EventListQuery): Promise<readonly ListedEvent[] | EventListCut> {
    const listed: ListedEvent[] = [];
    try {
      const stripe = await this.client();
      // Page by page (`starting_after`), newest first, to the last page of the range, each page fitted into the time left
      // when it is asked (the SDK's auto-pagination would ask them all with the first page's time).
      let startingAfter: string | undefined = query.after;
      for (;;) {
        const time = callTime(this.deadline, STRIPE_CALL, `Stripe was not asked for its events created from ${isoOf(query.createdFrom)}`);
        const page = await stripe.events.list(
          {
            types: [...query.types],
            created: { gte: query.createdFrom, lte: query.createdTo },
            limit: 100,
            ...(startingAfter !== undefined && { starting_after: startingAfter }),
          },
          time,
        );
        for (const event of page.data)
          listed.push({ id: event.id, type: event.type, created: event.created, pendingDeliveries: event.pending_webhooks, json: event });
        const last = page.data.at(-1);
        if (!page.has_more || last === undefined) break;
        // Newest first: every event listed so far was created at or after the last one's second.
        if (query.atMost !== undefined && listed.length >= query.atMost) return { events: listed.reverse(), listedDownTo: last.created, lastId: last.id };
        startingAfter = last.id;
      }
    } catch (error) {
      const sdk = await stripeSdk();
      // Stripe's final word on a list request is a mistake of ours (a parameter it refuses): not something to wait out.
      if (!sdk.isStripeError(error) || !sdk.isTransientStripeError(error)) throw error;
      // Part of the list is no list: the whole range is asked for again next time.
      throw unavailable(sdk, `Stripe did not list the events created from ${isoOf(query.createdFrom)} to ${isoOf(query.createdTo)}`, error);
    }
    return listed.reverse();
  }
}
