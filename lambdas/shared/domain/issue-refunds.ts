// Use case: ask the provider for every refund a payment record holds as `requested`, and record each answer on the record.
import { PAYMENT_RECORD_ATTEMPTS, retryWhileStateMoves, STATE_MOVED } from './state-moved';
import type { BookingStore, TripTransition } from './booking-store';
import { auditEntry } from './audit-trail';
import type { PaymentDeps } from './collaborators';
import { StateKeptMovingError, StoredDataError } from './errors';
import { CONFIRMABLE_TRIP_STATUSES, type AuditActorType, type AuditEntry, type PaymentRecord, type RefundEntry, type Trip } from './model';
import {
  allMoneyBack,
  applyRefundAnswer,
  CLAIMED_PAYMENT,
  isClaimedPayment,
  isFailedStatus,
  nextVersion,
  notAskedInAnotherCurrency,
  pricedInAnotherCurrency,
  providerKeyOf,
  supersededUnnamed,
  type RefundChange,
} from './payment-ledger';
import { PaymentGatewayUnavailableError, type RefundAnswer } from './payment-gateway';

export interface IssuedRefunds {
  /** The record as committed after the answers (`needs_attention` when a refund was refused or failed). */
  readonly record: PaymentRecord;
  /**
   * Whether this call recorded answers: on refunds still `requested`, or naming refunds a charge total superseded meanwhile.
   * False when none was left to answer (another call asked and recorded them, or the refunds' own events did).
   */
  readonly recorded: boolean;
  /**
   * Whether the provider made a refund, not failed, when this call asked for it (not one an earlier request under its key
   * made, nor one found by its key), whoever recorded it.
   */
  readonly made: boolean;
  /**
   * Whether what the answers brought about is this call's to count (the metrics of a payment's effects): it recorded an
   * answer on a refund still `requested`, or the provider made the refund on its request and the refund's own `refund.*`
   * recorded it first, which counts nothing. Not when a charge total superseded the refund first (that total's event
   * counted it), nor when its `refund.*` recorded it failed (that event put the payment in front of a person).
   */
  readonly countable: boolean;
}

/**
 * How long after storing a refund its own call may still ask for it without looking it up, by the clock that stamped it.
 * Any ask under its key since (the sweep's, a redelivery's) came after the store, so within this long Stripe still
 * remembers the key; later (a process suspended for a day between its write and its ask), the key may be forgotten.
 */
const OWN_REFUND_FRESH_MS = 5 * 60_000;

/** The refunds a call has just stored: their keys, and the instant it stored them (their `requestedAt`). */
export interface StoredRefunds {
  readonly at: string;
  readonly keys: readonly string[];
}

/**
 * Input: a payment record as just committed. Output: the record after the provider's answers.
 * Steps: for each `requested` refund, ask (or find) it at the provider → one transaction that records every
 * answer on the record (guarded by its version), settles it, and moves the trip to `refunded` when the last
 * of its money is back. A transient provider failure throws PaymentGatewayUnavailableError: the refunds stay
 * `requested`, and the next run asks again with the same keys; so do they when the record keeps changing through every
 * attempt (StateKeptMovingError), and the next run finds them by their keys. With `timeLeft`, no further refund is asked once it is
 * 0 (one at least is): the answers had are recorded, and the rest stay `requested` for the next call.
 *
 * Only a refund this call has just stored itself (`stored`: its key, stamped with the instant of the call's write,
 * no more than OWN_REFUND_FRESH_MS ago by the same clock) is asked for straight away. Any other was stored by a call
 * gone since, or long enough ago that another call may have asked for it meanwhile, under a key Stripe forgets after
 * 24 hours; its stamp, written by whichever clock stored it (an operator's laptop a day ahead), cannot tell how long
 * ago that was. So it is looked up by its key first, and asked for only when Stripe holds no refund under it.
 *
 * A server error the provider kept under the key it was asked under (`key_spent`: Stripe replays it to every retry for
 * a day) is recorded as the refund's next key (`keyRenewals`), and the refund is asked again at once under that key, in
 * a second round; one kept again there, or any failure of the provider there, throws PaymentGatewayUnavailableError as a
 * failure does in the first round, unless a round settled other refunds: then what it recorded is the answer, and the
 * renewed refund stays `requested` for the next run.
 */
export async function issueRequestedRefunds(
  deps: PaymentDeps,
  record: PaymentRecord,
  actorType: AuditActorType,
  options: IssueOptions = {},
): Promise<IssuedRefunds> {
  const first = await issueOnce(deps, record, actorType, options);
  if (!first.keySpent) return first.issued;
  // Stripe kept a server error under a refund's key: recorded, the refund is asked again at once under its next key
  // (looked up by its own key first). Kept again under that one too, it waits for the next run, as any Stripe failure.
  const { stored: _askedAlready, ...rest } = options;
  // The first round settled other refunds (answered, not only renewed): that is this call's to report and count, and the
  // renewed refund, still `requested`, is the next run's when the second round cannot get it made.
  const settledFirst = first.issued.countable;
  const again = await issueOnce(deps, first.issued.record, actorType, rest).catch((error: unknown) => {
    if (settledFirst && error instanceof PaymentGatewayUnavailableError) return undefined;
    throw error;
  });
  if (again === undefined) return first.issued;
  // Kept again with nothing settled in either round: as unavailable as any Stripe failure. What the second round settled
  // (another refund made or refused) is this call's answer, as what the first round settled would be.
  if (again.keySpent && !settledFirst && !again.issued.countable) {
    throw new PaymentGatewayUnavailableError(`Stripe answered the refunds of ${record.paymentId} with server errors it kept under two keys in turn`);
  }
  return {
    record: again.issued.record,
    recorded: first.issued.recorded || again.issued.recorded,
    made: first.issued.made || again.issued.made,
    countable: first.issued.countable || again.issued.countable,
  };
}

interface IssueOptions {
  readonly timeLeft?: () => number;
  readonly stored?: StoredRefunds;
  /** The person asking (an operator's `--actor`), kept on the audit entries of the answers. */
  readonly actorId?: string | undefined;
}

/** One round of asking and recording; `keySpent` when Stripe answered a refund with a server error kept under its key. */
async function issueOnce(
  deps: PaymentDeps,
  record: PaymentRecord,
  actorType: AuditActorType,
  options: IssueOptions,
): Promise<{ readonly issued: IssuedRefunds; readonly keySpent: boolean }> {
  const answers = new Map<string, RefundAnswer>();
  // Priced in another currency than the charge, and found under no key of Stripe's: never asked for.
  const notAsked = new Set<string>();
  // The keys of the refunds the provider made (and did not fail) when this call asked for them.
  const made = new Set<string>();
  const issued = (written: PaymentRecord, answeredHere: readonly RefundEntry[], namedHere: readonly RefundEntry[]) => {
    const madeRecordedByItsEvent = [...made].some((key) => {
      const answer = answers.get(key);
      const entry = written.refunds.find((candidate) => candidate.refundKey === key);
      return answer?.kind === 'created' && entry?.stripeRefundId === answer.refundId && !namedHere.some((named) => named.refundKey === key);
    });
    // A key renewed brings nothing about: only the answers that settle a refund are this call's to count.
    const settledHere = answeredHere.some((entry) => answers.get(entry.refundKey)?.kind !== 'key_spent');
    return {
      issued: {
        record: written,
        recorded: answeredHere.length > 0 || namedHere.length > 0,
        made: made.size > 0,
        countable: settledHere || madeRecordedByItsEvent,
      },
      keySpent: [...answers.values()].some((answer) => answer.kind === 'key_spent'),
    };
  };
  let current = record;
  return retryWhileStateMoves(
    PAYMENT_RECORD_ATTEMPTS,
    async (attempt) => {
      // Read again after the pause, not kept from the refusal: another writer may have moved the record during it.
      if (attempt > 1) current = (await deps.store.getPaymentRecord(record.paymentId)) ?? current;
      const requested = current.refunds.filter((entry) => entry.status === 'requested');
      // Superseded meanwhile by a total that counted it (its charge.refunded came first): the answer names the refund it stood for.
      const namedLate = current.refunds.filter((entry) => supersededUnnamed(entry) && answers.get(entry.refundKey)?.kind === 'created');
      if (requested.length === 0 && namedLate.length === 0) return issued(current, [], []);
      const answered = (entry: RefundEntry): boolean => answers.has(entry.refundKey) || notAsked.has(entry.refundKey);
      for (const entry of requested) {
        if (answered(entry)) continue;
        // One still requested is always asked; answers of shares another call has recorded since do not count.
        const oneAnswered = requested.some(answered);
        if (oneAnswered && options.timeLeft !== undefined && options.timeLeft() <= 0) break;
        if (pricedInAnotherCurrency(entry, current)) {
          const found = await foundUnderItsKey(deps, current, entry);
          if (found) answers.set(entry.refundKey, found);
          else notAsked.add(entry.refundKey);
          continue;
        }
        const asked = await askProvider(deps, current, entry, !justStoredHere(deps, entry, options.stored));
        answers.set(entry.refundKey, asked.answer);
        if (asked.made) made.add(entry.refundKey);
      }
      const at = deps.clock.now().toISOString();
      let next = current;
      const changes: RefundChange[] = [];
      const answeredRequested = requested.filter(answered);
      for (const entry of [...answeredRequested, ...namedLate]) {
        const answer = answers.get(entry.refundKey);
        const change = answer ? applyRefundAnswer(next, entry.refundKey, answer, at) : notAskedInAnotherCurrency(next, entry.refundKey, at);
        changes.push(change);
        next = change.record;
      }
      const audits = changes.flatMap((change): AuditEntry[] =>
        change.audit
          ? [auditEntry(deps, { entityType: 'payment', entityId: current.paymentId, actorType, actorId: options.actorId, at, ...change.audit })]
          : [],
      );
      const tripTransition = tripRefundedBy(current, next) ?? (await claimedSessionTripRefunded(deps.store, current, next));
      const written = nextVersion(next, at);
      const tripAudit: AuditEntry[] = tripTransition
        ? [
            auditEntry(deps, {
              eventType: 'trip.refunded',
              entityType: 'trip',
              entityId: tripTransition.tripId,
              actorType,
              actorId: options.actorId,
              at,
              metadata: { paymentId: current.paymentId, refundId: tripTransition.refundId ?? null, reason: next.reason ?? reasonsOf(requested, answers) },
            }),
          ]
        : [];
      const result = await deps.store.commit({
        at,
        paymentRecord: { record: written, expectedVersion: current.version },
        audits: [...audits, ...tripAudit],
        ...(tripTransition && { tripTransition }),
      });
      if (result.committed) return issued(written, answeredRequested, namedLate);
      // Another delivery wrote the record first; the answers are kept (same key, same refund) and applied to what it left.
      if (result.rejection.paymentRecord?.current) return STATE_MOVED;
      // The trip was not where a last refund leaves it: the record is still written, the trip left to its own state.
      const withoutTrip = await deps.store.commit({ at, paymentRecord: { record: written, expectedVersion: current.version }, audits });
      if (withoutTrip.committed) return issued(written, answeredRequested, namedLate);
      return STATE_MOVED;
    },
    () => {
      throw new StateKeptMovingError(`The payment record ${record.paymentId} kept changing while Stripe's answers to its refunds were recorded`);
    },
  );
}

/** Stored by this call (its key, its stamp) and still within OWN_REFUND_FRESH_MS of it by this call's clock. */
function justStoredHere(deps: PaymentDeps, entry: RefundEntry, stored: StoredRefunds | undefined): boolean {
  if (stored === undefined || entry.requestedAt !== stored.at || !stored.keys.includes(entry.refundKey)) return false;
  return deps.clock.now().getTime() - Date.parse(stored.at) < OWN_REFUND_FRESH_MS;
}

/** The provider's answer for `entry`, and whether it made the refund then, not failed (neither found by its key nor replayed under it). */
async function askProvider(
  deps: PaymentDeps,
  record: PaymentRecord,
  entry: RefundEntry,
  lookUpFirst: boolean,
): Promise<{ readonly answer: RefundAnswer; readonly made: boolean }> {
  if (!deps.gateway.refundable(record.paymentId)) {
    return { answer: { kind: 'refused', code: 'not_a_payment_intent', message: `${record.paymentId} is not a payment the provider can refund` }, made: false };
  }
  if (lookUpFirst) {
    const found = await foundUnderItsKey(deps, record, entry);
    if (found) return { answer: found, made: false };
  }
  const providerKey = providerKeyOf(entry);
  const answer = await deps.gateway.refund({
    paymentId: record.paymentId,
    amount: entry.amount,
    refundKey: entry.refundKey,
    ...(providerKey !== entry.refundKey && { idempotencyKey: providerKey }),
    ...(record.tripId !== undefined && { tripId: record.tripId }),
  });
  if (answer.kind === 'key_spent' && !lookUpFirst) {
    // Another call asked under this key first (this one stored the refund only just): its refund may be Stripe's.
    const found = await foundUnderItsKey(deps, record, entry);
    if (found) return { answer: found, made: false };
  }
  return { answer, made: answer.kind === 'created' && answer.replayed !== true && !isFailedStatus(answer.status) };
}

/** The refund the provider holds under `entry`'s key, as an answer to asking for it; undefined when it holds none. */
async function foundUnderItsKey(deps: PaymentDeps, record: PaymentRecord, entry: RefundEntry): Promise<RefundAnswer | undefined> {
  if (!deps.gateway.refundable(record.paymentId)) return undefined;
  const found = await deps.gateway.findRefund(record.paymentId, entry.refundKey);
  if (!found) return undefined;
  const { refundId, status, created, answeredAt } = found;
  return { kind: 'created', refundId, status, ...(created !== undefined && { created }), ...(answeredAt !== undefined && { answeredAt }) };
}

/**
 * When the last money of a payment that owned its trip comes back, the trip says so: the record settles as `refunded`,
 * or, resolved by a person while a refund was still on its way, it stays `resolved` with all of it back.
 */
export function tripRefundedBy(before: PaymentRecord, after: PaymentRecord): TripTransition | undefined {
  const settled = after.status === 'refunded' && before.status !== 'refunded';
  const backAfterResolving = after.status === 'resolved' && allMoneyBack(after) && !allMoneyBack(before);
  // A claimed payment's money went back to its session's traveller, not to the trip create-booking booked with it.
  if (!(settled || backAfterResolving) || after.setAside || after.tripId === undefined || isClaimedPayment(after)) return undefined;
  const refundId = lastStripeRefundId(after);
  return { tripId: after.tripId, from: ['refund_pending', 'cancelled'], to: 'refunded', ...(refundId !== undefined && { refundId }) };
}

/**
 * The trip a claimed payment's session was opened for, which that payment never booked (create-booking booked another
 * with it) and nothing else will once its session's payment is decided. A person resolving the payment (`resolving`)
 * ends it while it still waits on that session — `refunded` when all of the money is back, `cancelled` when some is
 * kept — so its traveller's page says so and stops asking Stripe; one so `cancelled` moves on to `refunded` once the
 * rest is back: while the payment stays resolved (Stripe's total, a refund's success), or at its next resolution.
 */
export function claimedSessionTripEnd(record: PaymentRecord, trip: Trip | undefined, resolving: boolean): TripTransition | undefined {
  if (!isClaimedPayment(record) || trip === undefined || trip.tripId !== record.paidForTripId) return undefined;
  // Only the trip still on that very session and never paid by anything: one booked since by another payment is left.
  if (record.sessionId === undefined || trip.checkoutSessionId !== record.sessionId || trip.paymentId !== undefined) return undefined;
  const back = allMoneyBack(record);
  const waiting = CONFIRMABLE_TRIP_STATUSES.includes(trip.status);
  const endedWithMoneyKept = trip.status === 'cancelled' && trip.statusReason === CLAIMED_PAYMENT;
  // Without a person resolving it, only as an ordinary trip moves on after a resolution (tripRefundedBy): the payment
  // still resolved (reopened, the next resolution decides). A total that may count a refund failed since never moves
  // a resolved payment's record (`full-refund-settled`).
  const moves = resolving ? waiting || (endedWithMoneyKept && back) : endedWithMoneyKept && back && record.status === 'resolved';
  if (!moves) return undefined;
  const refundId = back ? lastStripeRefundId(record) : undefined;
  return {
    tripId: trip.tripId,
    from: [trip.status],
    to: back ? 'refunded' : 'cancelled',
    statusReason: CLAIMED_PAYMENT,
    recordedSessionNoneOr: record.sessionId,
    ...(refundId !== undefined && { refundId }),
  };
}

/**
 * When the last of a claimed payment's money comes back (`before` → `after`), the trip its session was opened for, if a
 * resolution ended it `cancelled` with money kept: read here, as only this rare path needs it.
 */
export async function claimedSessionTripRefunded(store: BookingStore, before: PaymentRecord, after: PaymentRecord): Promise<TripTransition | undefined> {
  if (!isClaimedPayment(after) || after.paidForTripId === undefined || !allMoneyBack(after) || allMoneyBack(before)) return undefined;
  return claimedSessionTripEnd(after, await readableTrip(store, after.paidForTripId), false);
}

/** The trip, or nothing when it no longer reads: such a trip is left as it is, never a reason its payment cannot move. */
export async function readableTrip(store: BookingStore, tripId: string): Promise<Trip | undefined> {
  try {
    return await store.getTrip(tripId);
  } catch (error) {
    if (error instanceof StoredDataError) return undefined;
    throw error;
  }
}

/**
 * The trip's `refundId` once its money is back: Stripe's id of the payment's latest refund that has one and did not fail
 * (one that failed brought nothing back; money counted only in Stripe's total is tied to none of them).
 */
export function lastStripeRefundId(record: PaymentRecord): string | undefined {
  const broughtBack = (entry: RefundEntry): boolean => entry.stripeRefundId !== undefined && !isFailedStatus(entry.status);
  return [...record.refunds].reverse().find(broughtBack)?.stripeRefundId;
}

/** Why the refunds answered were asked for (an operator's reasons for a booked payment, which has none of its own). */
function reasonsOf(requested: readonly RefundEntry[], answers: ReadonlyMap<string, RefundAnswer>): string | null {
  const reasons = [...new Set(requested.filter((entry) => answers.has(entry.refundKey)).map((entry) => entry.reason))];
  return reasons.length === 0 ? null : reasons.join('; ');
}
