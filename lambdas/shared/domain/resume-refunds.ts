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

/**
 * How many of the payments with refunds due a run reads at once, from its place and from the oldest (keys only): far
 * more than ever wait at once, and past them a turn goes on from its place.
 */
export const DUE_LIST_LIMIT = 1_000;

/**
 * Payments resumed in one run at most (fewer when the run runs out of time). A run that cannot begin them all keeps its
 * place, and the next begins after it: however many payments Stripe keeps failing, each is asked for in turn, and none
 * waits behind them for good.
 */
export const RESUME_LIMIT = 100;

/** A payment with a refund stored as `requested`, as the store's sparse list of them holds it. */
export interface DueRefund {
  readonly paymentId: string;
  /** When its oldest refund still `requested` was stored. */
  readonly requestedAt: string;
}

/** Where a sweep's last run that could not begin every payment due stopped. */
export interface RefundsDuePosition {
  /** The sweep it belongs to (its event cursor's source): each keeps its own place. */
  readonly sweep: string;
  /** The last payment that run began, the next run beginning after it; absent, the next run begins at the oldest. */
  readonly after?: DueRefund;
  readonly updatedAt: string;
}

/** The store's list of payments with refunds due, and a sweep's place in it (a port, beside BookingStore). */
export interface RefundsDueQuery {
  /**
   * Payments with a refund still `requested`, by when their oldest such refund was stored, oldest first; only those
   * listed after `after` when it is given.
   */
  listRefundsDue(limit: number, after?: DueRefund): Promise<DueRefund[]>;
  getRefundsDuePosition(sweep: string): Promise<RefundsDuePosition | undefined>;
  /** Stores the position as given (the last writer wins: two runs at once only ever ask for some payment sooner). */
  keepRefundsDuePosition(position: RefundsDuePosition): Promise<void>;
}

export interface ResumeRefundsDeps extends PaymentDeps {
  readonly store: BookingStore & RefundsDueQuery;
}

export interface ResumeRefundsInput {
  /**
   * Whose place in the list to begin at and keep (the reconciliation sweep's event source). Absent (an operator asking
   * now), the run begins at the oldest and keeps no place: the sweep's turn is left as it was.
   */
  readonly sweep?: string;
  /**
   * How old a refund must be to be asked for. @default RESUME_AFTER_MS; an operator asking now gives 0, as asking beside
   * the call that stored it is safe (its key, the record's version), only wasteful.
   */
  readonly olderThanMs?: number;
  /** Milliseconds left to work in: no payment is begun once it is 0. */
  readonly timeLeft?: () => number;
  /** @default RESUME_LIMIT */
  readonly limit?: number;
}

export type ResumedRefund =
  /**
   * Stripe answered the requested refunds it was asked for (all of them, unless the time ran out first), and the answers
   * are on the record (`needs_attention` when it said no). `requested`: the keys of its refunds still `requested` when
   * this call read the record, the ones it asked for (unless its time ran out first).
   */
  | { readonly status: 'answered'; readonly record: PaymentRecord; readonly requested: readonly string[] }
  /**
   * Another call answered them first: between the list and this read (nothing asked, `requested` empty), or between this
   * call's ask and its write (Stripe's answer under the same key, recorded by the other; `requested` not empty). `record`
   * as last read.
   */
  | { readonly status: 'already_answered'; readonly paymentId: string; readonly record?: PaymentRecord; readonly requested: readonly string[] }
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
  /**
   * The sweep's place in the list could not be read (the run began at the oldest) or kept (the next run begins where this
   * one began): DynamoDB failing, or a stored place that does not read as one. Some payments wait a run longer; nothing
   * is lost, and the next write of the place replaces one that did not read.
   */
  readonly positionError?: unknown;
}

/**
 * Input: the sweep whose place to keep (none for an operator's run), the time left, the age asked for. Output: what
 * became of every payment with refunds due, and how many stay overdue.
 * Steps: list the payments whose oldest `requested` refund is older than RESUME_AFTER_MS (or stamped ahead of this clock
 * by more than CLOCK_AHEAD_MS), oldest first → begin after the payment the sweep's last run stopped at, if one did,
 * going round to the oldest → for each, read its record (the list is an index, a moment behind) → ask Stripe for its
 * requested refunds and record the answers (issueRequestedRefunds: each refund looked up by its own key first, none
 * being this call's, then asked for under it; the record's version, so a delivery or a person doing the same at the
 * same time never refunds twice) → keep the last payment begun when some were not, so the next run begins after it.
 * One payment failing never holds the others back: each is tried in turn until Stripe answers.
 */
export async function resumeRequestedRefunds(deps: ResumeRefundsDeps, input: ResumeRefundsInput): Promise<ResumedRefunds> {
  const now = deps.clock.now().getTime();
  const limit = input.limit ?? RESUME_LIMIT;
  // One stamped ahead of this clock has no age to tell: asked for now, and still unanswered once asked, overdue (a clock
  // is wrong somewhere).
  const stampedAhead = (requestedAt: string): boolean => Date.parse(requestedAt) > now + CLOCK_AHEAD_MS;
  const { sweep } = input;
  const olderThanMs = input.olderThanMs ?? RESUME_AFTER_MS;
  const position: { found?: RefundsDuePosition | undefined; error?: unknown } =
    sweep === undefined
      ? {}
      : await deps.store.getRefundsDuePosition(sweep).then(
          (found) => ({ found }),
          (error: unknown) => ({ found: undefined, error }),
        );
  // No age asked for, every one listed is due, one stamped a little ahead of this clock too.
  const due = (await inTurn(deps.store, position.found?.after)).filter(
    (entry) => olderThanMs <= 0 || Date.parse(entry.requestedAt) <= now - olderThanMs || stampedAhead(entry.requestedAt),
  );
  const isOverdue = (requestedAt: string): boolean => Date.parse(requestedAt) <= now - OVERDUE_AFTER_MS || stampedAhead(requestedAt);
  // Answered in part (the time was up between its shares), a payment still has requested refunds of its own stamps.
  const leftOverdue = (resumed: ResumedRefund, entry: DueRefund): boolean =>
    resumed.status === 'answered'
      ? resumed.record.refunds.some((refund) => refund.status === 'requested' && isOverdue(refund.requestedAt))
      : (resumed.status === 'unavailable' || resumed.status === 'failed') && isOverdue(entry.requestedAt);
  const payments: ResumedRefund[] = [];
  let overdue = 0;
  let begun = 0;
  for (const entry of due.slice(0, limit)) {
    if (input.timeLeft !== undefined && input.timeLeft() <= 0) break;
    begun++;
    const resumed = await resumeOne(deps, entry, input.timeLeft);
    payments.push(resumed);
    if (leftOverdue(resumed, entry)) overdue++;
  }
  // Those not begun are counted from the list alone: still due, and overdue when old enough.
  for (const entry of due.slice(begun)) if (isOverdue(entry.requestedAt)) overdue++;
  const more = due.length > begun;
  // A place that did not read counts as one kept: the run's own (or none) replaces it.
  const hadPlace = 'error' in position || position.found?.after !== undefined;
  // A run whose time was up before its first payment keeps the place it found; an operator's run keeps none.
  const notKept = sweep === undefined || (more && begun === 0) ? undefined : await keepPosition(deps, sweep, hadPlace, more ? due[begun - 1] : undefined);
  const positionError = 'error' in position ? position.error : notKept;
  return { payments, overdue, more, ...(positionError !== undefined && { positionError }) };
}

/**
 * The payments due, begun after `after` (by the list's own order, so a payment that left it since still places the turn)
 * and going round to the oldest up to it: each part read from the store, so a turn reaches past the DUE_LIST_LIMIT
 * oldest too.
 */
async function inTurn(store: RefundsDueQuery, after: DueRefund | undefined): Promise<DueRefund[]> {
  if (after === undefined) return store.listRefundsDue(DUE_LIST_LIMIT);
  const rest = await store.listRefundsDue(DUE_LIST_LIMIT, after);
  const fromOldest = (await store.listRefundsDue(DUE_LIST_LIMIT)).filter((entry) => listOrder(entry) <= listOrder(after));
  return [...rest, ...fromOldest];
}

/** The order of the store's list: by the oldest requested refund's stamp, then by payment. */
const listOrder = (entry: DueRefund): string => `${entry.requestedAt}#${entry.paymentId}`;

/**
 * Keeps the last payment begun when some were not (`stoppedAfter`), or forgets a kept place once a run began every
 * payment due; writes nothing when there is no place to keep or forget. Answers the error when the write failed.
 */
async function keepPosition(deps: ResumeRefundsDeps, sweep: string, hadPlace: boolean, stoppedAfter: DueRefund | undefined): Promise<unknown> {
  if (stoppedAfter === undefined && !hadPlace) return undefined;
  const updatedAt = deps.clock.now().toISOString();
  try {
    await deps.store.keepRefundsDuePosition({ sweep, ...(stoppedAfter !== undefined && { after: stoppedAfter }), updatedAt });
    return undefined;
  } catch (error) {
    return error;
  }
}

async function resumeOne(deps: ResumeRefundsDeps, entry: DueRefund, timeLeft: (() => number) | undefined): Promise<ResumedRefund> {
  try {
    const record = await deps.store.getPaymentRecord(entry.paymentId);
    if (record === undefined || !hasRequestedRefunds(record)) {
      return { status: 'already_answered', paymentId: entry.paymentId, ...(record && { record }), requested: [] };
    }
    // The refunds this call asks for: what became of them is what a person reading its answer needs.
    const requested = record.refunds.filter((refund) => refund.status === 'requested').map((refund) => refund.refundKey);
    // A payment of many shares (bookings cancelled one by one while Stripe was down) stops asking when the time is up.
    // No refund here was stored by this call: each is looked up by its key before it is asked for.
    const issued = await issueRequestedRefunds(deps, record, 'system', { ...(timeLeft !== undefined && { timeLeft }) });
    // A refund this run made is its answer even when the refund's own events recorded it first (not one made failed: that
    // event put the payment in front of a person, and counted it).
    return issued.recorded || issued.made
      ? { status: 'answered', record: issued.record, requested }
      : { status: 'already_answered', paymentId: entry.paymentId, record: issued.record, requested };
  } catch (error) {
    const unavailable = error instanceof PaymentGatewayUnavailableError || error instanceof StoreUnavailableError;
    return { status: unavailable ? 'unavailable' : 'failed', paymentId: entry.paymentId, requestedAt: entry.requestedAt, error };
  }
}
