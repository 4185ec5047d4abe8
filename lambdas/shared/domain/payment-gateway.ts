// The payment port of the booking domain: what the use cases ask of the payment provider (refunds), and its answers.
import type { CheckoutTrip } from './model';

/** Stripe's states of a refund it has created. */
export type ProviderRefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';

export interface RefundRequest {
  /** The payment to refund (a Stripe PaymentIntent id: ask `refundable` first). */
  readonly paymentId: string;
  /** Minor units, always explicit: a share or what is left, never "whatever Stripe thinks". */
  readonly amount: number;
  /** Same refund, same key: a retried refund is answered with the first one instead of refunding twice. */
  readonly refundKey: string;
  /**
   * The key the provider is asked under, when not `refundKey` (which the refund still carries, so it is found by it):
   * the provider kept a failure under the first one (see `key_spent`).
   */
  readonly idempotencyKey?: string;
  readonly tripId?: string;
}

export type RefundAnswer =
  | {
      readonly kind: 'created';
      readonly refundId: string;
      readonly status: ProviderRefundStatus;
      /** When the provider created it (epoch seconds, its clock). */
      readonly created?: number;
      /** When the provider answered (epoch seconds, its clock): the state it reports was reached no later than this. */
      readonly answeredAt?: number;
      /** Answered with the refund an earlier request under the same key made (Stripe's idempotent replay): not made now. */
      readonly replayed?: boolean;
    }
  /** The charge was refunded in full already (by another refund, ours or not). */
  | { readonly kind: 'already_refunded' }
  /** Refused for good: asking again will not help (`code` is the provider's error code). */
  | { readonly kind: 'refused'; readonly code: string; readonly message: string }
  /**
   * The provider answered with a server error it had kept under the key (Stripe keeps a 500 under an idempotency key for
   * a day and replays it to every retry): the request made nothing, and asking again under that key cannot either.
   */
  | { readonly kind: 'key_spent'; readonly spentKey: string; readonly message: string };

export interface FoundRefund {
  readonly refundId: string;
  readonly status: ProviderRefundStatus;
  readonly amount: number;
  /** When the provider created it (epoch seconds, its clock). */
  readonly created?: number;
  /** When the provider answered (epoch seconds, its clock): the state it reports was reached no later than this. */
  readonly answeredAt?: number;
}

/** What the provider counts back of a payment's charge: its refunds made or under way, as of its answer. */
export interface RefundedSoFar {
  readonly amount: number;
  /** When the provider answered (epoch seconds, its clock): a refund created after it is not counted. */
  readonly asOf?: number;
}

export interface PaymentGateway {
  /** Whether this payment id is one the provider can refund (a PaymentIntent, not a session). */
  refundable(paymentId: string): boolean;
  /** Asks for a refund. Throws PaymentGatewayUnavailableError when the answer may be different later. */
  refund(request: RefundRequest): Promise<RefundAnswer>;
  /**
   * The refund made under `refundKey`, if the provider has one: asked before asking again for a refund that
   * was requested but never answered, because the provider forgets idempotency keys after a day.
   */
  findRefund(paymentId: string, refundKey: string): Promise<FoundRefund | undefined>;
  /**
   * Whether the account our key belongs to holds this payment: false only when the provider answers that it has no such
   * payment (a key of another account). Throws PaymentGatewayUnavailableError when it cannot tell for now.
   */
  holdsPayment(paymentId: string): Promise<boolean>;
  /**
   * What the provider counts back of this payment so far (refunds succeeded or under way), read when a payment's first
   * record must start with it; undefined for a payment it does not refund, or when it refuses to say. Throws
   * PaymentGatewayUnavailableError when it cannot tell for now.
   */
  refundedSoFar(paymentId: string): Promise<RefundedSoFar | undefined>;
}

/** The provider could not be reached, or asked us to come back later; the same refund may be asked again. */
export class PaymentGatewayUnavailableError extends Error {
  /** The provider refused our credentials (an API key rolled, deleted or short of a permission): a person must fix them. */
  readonly credentialsRejected: boolean;
  /** The provider was not asked at all: too little of the invocation was left to ask it and record its answer. */
  readonly outOfTime: boolean;
  /**
   * The credentials' account holds no such payment (a key of another account, found out before asking): nothing was
   * asked, and asking again with them cannot help.
   */
  readonly paymentNotHeld: boolean;

  constructor(message: string, options: { cause?: unknown; credentialsRejected?: boolean; outOfTime?: boolean; paymentNotHeld?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PaymentGatewayUnavailableError';
    this.credentialsRejected = options.credentialsRejected ?? false;
    this.outOfTime = options.outOfTime ?? false;
    this.paymentNotHeld = options.paymentNotHeld ?? false;
  }
}

/**
 * The provider answered with a server error it had kept under the request's key (Stripe keeps a 5xx under an idempotency
 * key for a day and replays it to every retry): as unavailable as any 5xx, but asking again under that key cannot help.
 */
export class ProviderKeySpentError extends PaymentGatewayUnavailableError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'ProviderKeySpentError';
  }
}

/** One event as the provider lists it: the raw JSON the webhook's parser reads, and when the provider created it. */
export interface ListedEvent {
  readonly id: string;
  readonly type: string;
  /** Epoch seconds (the provider counts whole seconds: several events may share one). */
  readonly created: number;
  /**
   * How many of the account's webhook endpoints have not taken it (answered 2xx) yet, as the provider says when it lists
   * it (Stripe's `pending_webhooks`): 0 once every delivery went through, whatever the webhook then wrote.
   */
  readonly pendingDeliveries: number;
  readonly json: unknown;
}

export interface EventListQuery {
  /** The event types wanted (Stripe takes at most 20). */
  readonly types: readonly string[];
  /** Epoch seconds, both included. */
  readonly createdFrom: number;
  readonly createdTo: number;
  /**
   * Stop once at least this many are listed and more are left, answering what was listed and where to go on from
   * (`after`): a long listing comes in pieces, none listed twice.
   */
  readonly atMost?: number;
  /** Go on with the listing of the same span after this event (the last of the piece before), as Stripe's `starting_after`. */
  readonly after?: string;
}

/**
 * A listing stopped past `atMost` events, newest first: `events` (oldest first) reach back to `listedDownTo` (epoch
 * seconds); the rest of the span is listed after `lastId`.
 */
export interface EventListCut {
  readonly events: readonly ListedEvent[];
  readonly listedDownTo: number;
  readonly lastId: string;
}

/** The provider's own record of the events it sent (Stripe keeps 30 days of them), read back by the reconciliation sweep. */
export interface PaymentEventSource {
  /**
   * Every matching event, oldest first; or, past `query.atMost`, where the listing was cut. Throws
   * PaymentGatewayUnavailableError when the answer may be different later.
   */
  listEvents(query: EventListQuery): Promise<readonly ListedEvent[] | EventListCut>;
}

export interface CheckoutSessionRequest {
  readonly tripId: string;
  readonly userId: string;
  readonly currency: string;
  /** One line per trip item: what the traveller sees on the payment page. */
  readonly lines: readonly { readonly name: string; readonly unitAmount: number; readonly quantity: number }[];
  /** The trip's items, carried in the session so that its payment confirms without reading the trip. */
  readonly trip: CheckoutTrip;
  readonly expiresAt: Date;
  readonly successUrl: string;
  readonly cancelUrl: string;
}

export interface CheckoutSession {
  readonly sessionId: string;
  readonly url: string;
}

/** The provider's hosted payment page: one session per trip, whatever the number of attempts. */
export interface CheckoutSessions {
  /** Throws PaymentGatewayUnavailableError when the answer may be different later. */
  createSession(request: CheckoutSessionRequest): Promise<CheckoutSession>;
}

/** The provider refused to open a payment page for good (its error code says why): asking again will not help. */
export class CheckoutRefusedError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'CheckoutRefusedError';
    this.code = code;
  }
}

/**
 * The provider already holds the trip's session key for other parameters: a request under the same Idempotency-Key asked
 * for another page while the first was being made. Not a refusal of the trip: the first request's page stands.
 */
export class SessionKeyReusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionKeyReusedError';
  }
}

/** Stripe's states of a Checkout Session: open for payment, complete (paid, or paying later), or expired unpaid. */
export type ProviderSessionStatus = 'open' | 'complete' | 'expired';

/** Whether a session's money has arrived: `no_payment_required` is a session with nothing to pay. */
export type ProviderPaymentStatus = 'paid' | 'unpaid' | 'no_payment_required';

/** A Checkout Session as the provider holds it now, read back when its traveller returns. */
export interface ProviderCheckoutSession {
  readonly sessionId: string;
  /** Absent when the provider gives none (a status added in a later version is not ours to guess at). */
  readonly status?: ProviderSessionStatus;
  readonly paymentStatus?: ProviderPaymentStatus;
  /** The trip our mark names; absent on a session another product made. */
  readonly tripId?: string;
  /** The session as the provider answered it: what its own events carry, for the parser they go through. */
  readonly object: Readonly<Record<string, unknown>>;
}

/** Reading a payment page back: what the provider says of it now, when its webhook may still be on the way. */
export interface CheckoutSessionLookup {
  /**
   * The session, or undefined when the provider refuses for good (no such session). Throws
   * PaymentGatewayUnavailableError when the answer may be different later; answers within a few seconds either way.
   */
  retrieveSession(sessionId: string): Promise<ProviderCheckoutSession | undefined>;
}
