// Use case: ask the provider again for the refunds stored as `requested` that no call is asking for any more (its answer
// was a 5xx, a timeout, or the run died), so a refund once decided is made without a redelivery or a person.
import type { BookingStore } from './booking-store';
import type { PaymentDeps } from './collaborators';
import { StoreUnavailableError } from './errors';
import { issueRequestedRefunds } from './issue-refunds';
import type { PaymentRecord } from './model';
import { hasRequestedRefunds } from './payment-ledger';
import { PaymentGatewayUnavailableError } from './payment-gateway';

/**
 * A refund younger than this is left to the call that stored it, which is asking Stripe right now (a webhook delivery
 * and its redeliveries, an operator's command). Asking as well would be safe (the same idempotency key, the record's
 * version), only wasteful.
 */
export const RESUME_AFTER_MS = 5 * 60_000;

/** A refund still unanswered this long after it was stored is overdue: Stripe has been failing it for that long. */
export const OVERDUE_AFTER_MS = 3_600_000;

/**
 * A refund stamped later than this ahead of the sweep's clock was stored by a writer whose clock runs ahead (an operator's
 * laptop): its stamp says nothing of its age, so it is asked for at once rather than when that clock's time comes.
 */
export const CLOCK_AHEAD_MS = 60_000;

/** How many of the payments with refunds due a run reads, oldest first (keys only): far more than ever wait at once. */
export const DUE_LIST_LIMIT = 1_000;

/**
 * Payments resumed in one run at most, oldest first (and fewer when the run runs out of time): the rest in the next run.
 * Past this many that Stripe keeps failing, newer ones wait behind them; OverdueRefunds has alarmed long before.
 */
export const RESUME_LIMIT = 100;

/** A payment with a refund stored as `requested`, as the store's sparse list of them holds it. */
export interface DueRefund {
  readonly paymentId: string;
  /** When its oldest refund still `requested` was stored. */
  readonly requestedAt: string;
}

/** The store's list of payments with refunds due (a port, beside BookingStore). */
export interface RefundsDueQuery {
  /** Payments with a refund still `requested`, by when their oldest such refund was stored, oldest first. */
  listRefundsDue(limit: number): Promise<DueRefund[]>;
}

export interface ResumeRefundsDeps extends PaymentDeps {
  readonly store: BookingStore & RefundsDueQuery;
}

export interface ResumeRefundsInput {
  /** Milliseconds left to work in: no payment is begun once it is 0. */
  readonly timeLeft?: () => number;
  /** @default RESUME_LIMIT */
  readonly limit?: number;
}

export type ResumedRefund =
  /**
   * Stripe answered the requested refunds it was asked for (all of them, unless the time ran out first), and the answers
   * are on the record (`needs_attention` when it said no).
   */
  | { readonly status: 'answered'; readonly record: PaymentRecord }
  /** Another call answered them between the list and this one: nothing was asked. */
  | { readonly status: 'already_answered'; readonly paymentId: string }
  /** Stripe or DynamoDB could not answer for now: still due, asked again by the next run. */
  | { readonly status: 'unavailable'; readonly paymentId: string; readonly requestedAt: string; readonly error: unknown }
  /** Anything else: still due, and a person should look (the error is logged). */
  | { readonly status: 'failed'; readonly paymentId: string; readonly requestedAt: string; readonly error: unknown };

export interface ResumedRefunds {
  readonly payments: readonly ResumedRefund[];
  /** Payments whose refunds are still unanswered after this run and were stored more than OVERDUE_AFTER_MS ago. */
  readonly overdue: number;
  /** Time ran out (or the limit was reached) before every due payment was begun. */
  readonly more: boolean;
}

/**
 * Input: the time left. Output: what became of every payment with refunds due, and how many stay overdue.
 * Steps: list the payments whose oldest `requested` refund is older than RESUME_AFTER_MS (or stamped ahead of this clock
 * by more than CLOCK_AHEAD_MS), oldest first → for each, read its record (the list is an index, a moment behind) → ask
 * Stripe for its requested refunds and record the answers (issueRequestedRefunds: each refund looked up by its own key
 * first, none being this call's, then asked for under it; the record's version, so a delivery or a person doing the
 * same at the same time never refunds twice). One payment failing never holds the others back: each is tried in every
 * run until Stripe answers.
 */
export async function resumeRequestedRefunds(deps: ResumeRefundsDeps, input: ResumeRefundsInput = {}): Promise<ResumedRefunds> {
  const now = deps.clock.now().getTime();
  const limit = input.limit ?? RESUME_LIMIT;
  const stampOf = (entry: DueRefund): number => Date.parse(entry.requestedAt);
  const stampedAhead = (entry: DueRefund): boolean => stampOf(entry) > now + CLOCK_AHEAD_MS;
  const due = (await deps.store.listRefundsDue(DUE_LIST_LIMIT)).filter((entry) => stampOf(entry) <= now - RESUME_AFTER_MS || stampedAhead(entry));
  // One stamped ahead has no age to tell: still unanswered once asked, it counts as overdue (a clock is wrong somewhere).
  const isOverdue = (entry: DueRefund): boolean => stampOf(entry) <= now - OVERDUE_AFTER_MS || stampedAhead(entry);
  const payments: ResumedRefund[] = [];
  let overdue = 0;
  let begun = 0;
  for (const entry of due.slice(0, limit)) {
    if (input.timeLeft !== undefined && input.timeLeft() <= 0) break;
    begun++;
    const resumed = await resumeOne(deps, entry, input.timeLeft);
    payments.push(resumed);
    if ((resumed.status === 'unavailable' || resumed.status === 'failed') && isOverdue(entry)) overdue++;
  }
  // Those not begun are counted from the list alone: still due, and overdue when old enough.
  for (const entry of due.slice(begun)) if (isOverdue(entry)) overdue++;
  return { payments, overdue, more: due.length > begun };
}

async function resumeOne(deps: ResumeRefundsDeps, entry: DueRefund, timeLeft: (() => number) | undefined): Promise<ResumedRefund> {
  try {
    const record = await deps.store.getPaymentRecord(entry.paymentId);
    if (record === undefined || !hasRequestedRefunds(record)) return { status: 'already_answered', paymentId: entry.paymentId };
    // A payment of many shares (bookings cancelled one by one while Stripe was down) stops asking when the time is up.
    // No refund here was stored by this call: each is looked up by its key before it is asked for.
    const issued = await issueRequestedRefunds(deps, record, 'system', { ...(timeLeft !== undefined && { timeLeft }) });
    return issued.recorded ? { status: 'answered', record: issued.record } : { status: 'already_answered', paymentId: entry.paymentId };
  } catch (error) {
    const unavailable = error instanceof PaymentGatewayUnavailableError || error instanceof StoreUnavailableError;
    return { status: unavailable ? 'unavailable' : 'failed', paymentId: entry.paymentId, requestedAt: entry.requestedAt, error };
  }
}
