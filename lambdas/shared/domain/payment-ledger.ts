// The payment record's rules: what is still owed, how a refund moves through its states, and what each answer does.
import type {
  AttentionReason,
  AuditActorType,
  AuditEntry,
  PaymentAttention,
  PaymentRecord,
  PaymentStatus,
  RefundEntry,
  RefundStatus,
  EarlyChargeTotal,
} from './model';
import type { PaymentRecordWrite } from './booking-store';
import type { RefundAnswer } from './payment-gateway';

/** Refunds Stripe has not finished with: their money is neither back nor free to ask for again. */
const OPEN_REFUND_STATUSES: readonly RefundStatus[] = ['requested', 'pending', 'requires_action'];

/**
 * How far a refund has come. A status only ever moves to a higher rank, so Stripe's events, which arrive
 * late and out of order, can never take a refund back to an earlier state. `waived` and `superseded` are ours
 * and final.
 */
const REFUND_RANK: Record<RefundStatus, number> = {
  requested: 0,
  pending: 1,
  requires_action: 1,
  succeeded: 2,
  failed: 3,
  canceled: 3,
  waived: 4,
  // Superseded is not final: if the refund it stood for did exist at Stripe, its failure must still be heard.
  superseded: 2,
};

/** The key of the refund of a whole payment; kept from before records so refunds already asked for are found. */
export function fullRefundKey(paymentId: string): string {
  return `refund-${paymentId}`;
}

/** The key of one booking's share: a share is refunded at most once, ever. */
export function shareRefundKey(paymentId: string, reference: string): string {
  return `refund-${paymentId}-${reference}`;
}

/** Money asked for but not yet back (or refused). */
export function openRefundAmount(record: PaymentRecord): number {
  return sumOf(record.refunds.filter((entry) => OPEN_REFUND_STATUSES.includes(entry.status)));
}

function succeededRefundAmount(record: Pick<PaymentRecord, 'refunds'>): number {
  return sumOf(record.refunds.filter((entry) => entry.status === 'succeeded'));
}

/**
 * What may still be refunded: paid, less what is back or on its way. Stripe's charge total already counts our refunds
 * under way and any made outside, so what it holds beyond the refunds of ours it may count is money paid back outside,
 * added to ours. A refund Stripe created after the total was taken (both by Stripe's clock) is one it cannot count: a
 * total that holds 45.00 from before it is other money, not this refund.
 */
export function refundableAmount(record: PaymentRecord): number {
  return Math.max(0, record.amountPaid - sumOf(record.refunds.filter(isLive)) - beyondOurs(record));
}

/** What Stripe's total holds beyond the refunds of ours back or under way that it can count. */
function beyondOurs(record: PaymentRecord): number {
  return Math.max(0, (record.chargeRefunded ?? 0) - sumOf(record.refunds.filter(isLive).filter((entry) => mayCount(record, entry))));
}

/**
 * Whether the total held may count `entry`: a total said without a time (or stored before its time was kept) counts every
 * refund, and one taken at or after Stripe created the refund may; so may any total a refund of unknown creation.
 */
function mayCount(record: PaymentRecord, entry: RefundEntry): boolean {
  const takenAt = record.chargeRefundedTakenAt;
  return takenAt === undefined || takenAt === COUNTS_EVERY_REFUND || entry.providerCreated === undefined || entry.providerCreated <= takenAt;
}

/** Our own refunds (not the Dashboard's Stripe told us of) whose money is back or on its way. */
function ourLiveRefunds(record: PaymentRecord): RefundEntry[] {
  return record.refunds.filter((entry) => entry.requestedBy !== 'stripe' && isLive(entry));
}

/**
 * The most of the payment that may have come back outside this service: refunds made in the Dashboard, and whatever of
 * Stripe's total no refund of ours is sure to account for. refundedOutside reads a refund of ours Stripe has given no
 * time for (still `requested`: made, its answer lost, or not made yet) as counted in the total; this reads it as money
 * beside it, as a share sized beside bookings that stand must.
 */
export function refundedOutsideAtMost(record: PaymentRecord): number {
  const surelyCounted = ourLiveRefunds(record).filter((entry) => entry.providerCreated !== undefined && mayCount(record, entry));
  return Math.max(refundedOutside(record), (record.chargeRefunded ?? 0) - sumOf(surelyCounted));
}

/** What is left of the payment however Stripe's total is read: paid, less our refunds back or on their way and the most that may be back outside. */
export function surelyRefundable(record: PaymentRecord): number {
  return Math.max(0, record.amountPaid - sumOf(ourLiveRefunds(record)) - refundedOutsideAtMost(record));
}

/** A refund of ours whose money is back or on its way. */
function isLive(entry: RefundEntry): boolean {
  return entry.status === 'succeeded' || OPEN_REFUND_STATUSES.includes(entry.status);
}

function sumOf(entries: readonly RefundEntry[]): number {
  return entries.reduce((sum, entry) => sum + entry.amount, 0);
}

/**
 * Whether the charge total held may still count a refund that has failed since: one whose failure was learned without its
 * time (a later `refund.updated`, looking it up, or Stripe's answer to creating it), taken no later than that event or answer. Whether the total
 * counted that refund or money paid back in the Dashboard cannot be told, so it stays counted (withoutFailedRefund), and
 * what it says is back may not be.
 */
export function chargeTotalInDoubt(record: PaymentRecord): boolean {
  return record.refunds.some((entry) => mayStillCountFailed(record, entry));
}

/** Whether the total held may still count `entry`, a refund whose failure was learned without its time (chargeTotalInDoubt). */
function mayStillCountFailed(record: PaymentRecord, entry: RefundEntry): boolean {
  const takenAt = record.chargeRefundedTakenAt;
  if (record.chargeRefunded === undefined || takenAt === undefined || entry.failedNoLaterThan === undefined) return false;
  // Taken before Stripe created the refund, a total never counted it (withoutFailedRefund says the same); the total the
  // failure came off when it was learned counts it no more.
  return takenAt <= entry.failedNoLaterThan && (entry.providerCreated === undefined || takenAt >= entry.providerCreated) && takenAt !== entry.offTotalTakenAt;
}

/**
 * Money back or on its way that none of our own refunds accounts for: refunds a person made in the Stripe Dashboard,
 * recorded from Stripe's events or only counted in the charge's total. Nothing says which booking it was for.
 */
export function refundedOutside(record: PaymentRecord): number {
  const ours = sumOf(ourLiveRefunds(record));
  return Math.max(0, record.amountPaid - refundableAmount(record) - ours);
}

/** `amountRefunded` as it follows from the refunds and the charge's total. */
function recounted(record: PaymentRecord): PaymentRecord {
  const amountRefunded = Math.min(record.amountPaid, Math.max(succeededRefundAmount(record), record.chargeRefunded ?? 0));
  return amountRefunded === record.amountRefunded ? record : { ...record, amountRefunded };
}

/**
 * The record with what Stripe says the payment charged (a record written before Stripe was heard, by create-booking,
 * holds its trip's price), `amountRefunded` recounted against it. Charged in another currency than a confirmation's
 * record said, its refunds not made yet keep the currency they were priced in (`pricedIn`).
 */
export function withCharge(record: PaymentRecord, amountPaid: number, currency: string): PaymentRecord {
  const elsewhere = chargedInAnotherCurrency(record, currency);
  // Every refund of ours so far was priced in it, made or not (one on its way may fail later); Stripe's own (made in the
  // Dashboard) are in the charge's.
  const ours = (entry: RefundEntry): boolean => entry.pricedIn === undefined && entry.requestedBy !== 'stripe';
  const refunds = elsewhere ? record.refunds.map((entry) => (ours(entry) ? { ...entry, pricedIn: record.currency } : entry)) : record.refunds;
  return recounted({ ...record, refunds, amountPaid, currency });
}

/**
 * The record, a confirmation's (the one kind whose currency is known: one of the format before versions reads as eur,
 * whatever its trip's), says its charge is in another currency than `currency` (a session that charged otherwise).
 */
export function chargedInAnotherCurrency(record: PaymentRecord, currency: string): boolean {
  return writtenByAConfirmation(record) && currency !== record.currency;
}

/** Why a payment is in front of a person when a booking's share, priced in another currency than its charge, was asked back. */
export const SHARE_IN_ANOTHER_CURRENCY = 'share_in_another_currency';

/** Why again, when such a share, given up as never made, turns out to have been made by Stripe after all. */
export const SHARE_MADE_LATE = 'share_made_late';

/**
 * A refund priced in another currency than its payment's charge: the same number of the charge's units is no share of
 * it. Stripe may have made it before that was known (its answer lost), so it is looked up by its key; it is never asked
 * for, nor asked for again under a new key: a person refunds what is owed.
 */
export function pricedInAnotherCurrency(entry: RefundEntry, record: PaymentRecord): boolean {
  return entry.pricedIn !== undefined && entry.pricedIn !== record.currency;
}

/**
 * Such a refund, of which Stripe holds none under its key: never asked for, it is superseded and the payment is before
 * a person. Superseded, not failed: were the request that stored it still on its way to Stripe, Stripe's word naming it
 * under its key (its answer, its `refund.*` event) still records it as the refund it is, never to be paid twice. All of
 * the charge back already, it is superseded as Stripe's `charge_already_refunded` would have had it.
 */
export function notAskedInAnotherCurrency(record: PaymentRecord, refundKey: string, at: string): RefundChange {
  if (record.amountRefunded >= record.amountPaid) return chargeFullyRefunded(record, at, 'charge_already_refunded');
  const entry = record.refunds.find((candidate) => candidate.refundKey === refundKey);
  if (entry?.status !== 'requested') return { record, attention: false };
  const superseded: RefundEntry = { ...entry, status: 'superseded', failureCode: SHARE_IN_ANOTHER_CURRENCY, updatedAt: at };
  const refunds = record.refunds.map((candidate) => (candidate === entry ? superseded : candidate));
  return {
    record: withAttention({ ...record, refunds }, SHARE_IN_ANOTHER_CURRENCY, at, undefined, true),
    audit: {
      eventType: 'payment.refund_not_asked',
      metadata: { refundKey, amount: entry.amount, pricedIn: entry.pricedIn ?? null, reason: SHARE_IN_ANOTHER_CURRENCY },
    },
    attention: true,
  };
}

/** The attention reason of a payment create-booking claimed for a trip it did not pay, and why its session's trip ended. */
export const CLAIMED_PAYMENT = 'paid_for_another_trip';

/**
 * A payment create-booking claimed for a trip it did not pay (`tripId`), as its session's event found it: money back
 * on it is its session's traveller's, so it never releases `tripId` nor makes that trip `refunded`.
 */
export function isClaimedPayment(record: PaymentRecord): boolean {
  return record.paidForTripId !== undefined && record.paidForTripId !== record.tripId;
}

/**
 * Written by a confirmation (create-booking's, or an event's): the one kind of record that names no `reason`. Every other
 * says why it was written (set aside, refunded first, put in front of a person, or of the format before versions, whose
 * currency is unknown and reads as eur), and only a confirmation's learns what its charge was after it was written.
 */
export function writtenByAConfirmation(record: PaymentRecord): boolean {
  return record.reason === undefined;
}

export function hasRequestedRefunds(record: PaymentRecord): boolean {
  return record.refunds.some((entry) => entry.status === 'requested');
}

/** What a new record is made of; the rest (version, amounts refunded, times) follows. */
/** No charge total: a record takes one only with the time it was taken (`withChargeTotal`), or a refund's failure could not come off it. */
export type NewRecordFields = Pick<PaymentRecord, 'paymentId' | 'status' | 'setAside' | 'amountPaid' | 'currency'> &
  Partial<Pick<PaymentRecord, 'tripId' | 'sessionId' | 'reason' | 'refunds' | 'attention'>>;

export function newPaymentRecord(fields: NewRecordFields, at: string): PaymentRecord {
  return recounted({ amountRefunded: 0, refunds: [], ...fields, version: 1, createdAt: at, updatedAt: at });
}

/**
 * A payment's first record from Stripe's word that all of its charge is back: `refunded`, with Stripe's total and the
 * time it was taken, so that a refund of it failing later comes off it.
 */
export function refundedFirstRecord(
  charge: {
    readonly paymentId: string;
    readonly amount: number;
    readonly amountRefunded: number;
    readonly currency: PaymentRecord['currency'];
    readonly occurredAt?: number;
  },
  fields: Pick<NewRecordFields, 'tripId' | 'reason'>,
  at: string,
): PaymentRecord {
  const record = newPaymentRecord(
    { paymentId: charge.paymentId, status: 'refunded', setAside: false, amountPaid: charge.amount, currency: charge.currency, ...fields },
    at,
  );
  return withChargeTotal(record, charge.amountRefunded, charge.occurredAt);
}

/** The record as the next write stores it: one version on, stamped. */
export function nextVersion(record: PaymentRecord, at: string): PaymentRecord {
  return { ...record, version: record.version + 1, updatedAt: at };
}

/** The write that replaces `before` with `after`, or creates `after` when there was no record. */
export function recordWrite(before: PaymentRecord | undefined, after: PaymentRecord, at: string): PaymentRecordWrite {
  return before ? { record: nextVersion(after, at), expectedVersion: before.version } : { record: after };
}

export interface RefundEntryFields {
  readonly refundKey: string;
  readonly amount: number;
  readonly requestedBy: AuditActorType;
  readonly actorId?: string;
  readonly reason: string;
  readonly bookingReferences?: readonly string[];
  readonly status?: Extract<RefundStatus, 'requested' | 'waived'>;
  readonly pricedIn?: string;
}

export function refundEntry(fields: RefundEntryFields, at: string): RefundEntry {
  return {
    refundKey: fields.refundKey,
    amount: fields.amount,
    status: fields.status ?? 'requested',
    requestedBy: fields.requestedBy,
    ...(fields.actorId !== undefined && { actorId: fields.actorId }),
    reason: fields.reason,
    bookingReferences: fields.bookingReferences ?? [],
    ...(fields.pricedIn !== undefined && { pricedIn: fields.pricedIn }),
    requestedAt: at,
    updatedAt: at,
  };
}

/** A refund of everything still refundable, when there is anything: the entry a set-aside or unbookable payment starts with. */
export function fullRefundEntries(paymentId: string, amount: number, reason: string, at: string): RefundEntry[] {
  return amount > 0 ? [refundEntry({ refundKey: fullRefundKey(paymentId), amount, requestedBy: 'system', reason }, at)] : [];
}

/**
 * Moves the record to `needs_attention`, remembering where to go back to once a person has dealt with it: a
 * refunded payment whose money did not come back owes it again. A reason `recurring` stands for something new each time
 * it is found (a booking's share): found again, it is marked (`again`), where another one found again (a redelivery)
 * leaves the record as it is.
 */
export function withAttention(record: PaymentRecord, reason: string, at: string, code?: string, recurring = false): PaymentRecord {
  if (record.status === 'needs_attention') {
    // Already in front of a person: the new reason joins the others, once, so settling the first does not drop it.
    const { attention } = record;
    if (!attention) return record;
    const same = (known: AttentionReason): boolean => sameReason(known, { reason, code });
    if (same(attention)) return recurring ? { ...record, attention: { ...attention, again: at } } : record;
    if (attention.more?.some(same)) {
      if (!recurring) return record;
      return { ...record, attention: { ...attention, more: attention.more.map((known) => (same(known) ? { ...known, again: at } : known)) } };
    }
    const more = [...(attention.more ?? []), { reason, ...(code !== undefined && { code }), since: at }];
    return { ...record, attention: { ...attention, more } };
  }
  const previousStatus = record.status === 'refunded' && record.amountRefunded < record.amountPaid ? 'refund_pending' : record.status;
  return { ...record, status: 'needs_attention', attention: { reason, ...(code !== undefined && { code }), since: at, previousStatus } };
}

/** Every reason a payment is in front of a person for, the first one first. */
export function reasonsOf(attention: PaymentAttention | undefined): AttentionReason[] {
  return attention ? [attention, ...(attention.more ?? [])] : [];
}

/** The same reason, Stripe's code included, whenever it was found. */
function sameReason(
  a: { readonly reason: string; readonly code?: string | undefined },
  b: { readonly reason: string; readonly code?: string | undefined },
): boolean {
  return a.reason === b.reason && a.code === b.code;
}

/** What asking Stripe again settles: a refund it refused or failed. Any other reason stays a person's. */
const SETTLED_BY_RETRY: readonly string[] = ['refund_refused', 'refund_failed'];

/**
 * The record once its failed refunds are asked for again: back where it was when none of its reasons is left for a
 * person, still in front of one otherwise, with only the reasons a retry does not settle.
 */
export function afterRetry(record: PaymentRecord): PaymentRecord {
  const { attention, ...rest } = record;
  if (!attention) return { ...rest, status: 'refund_pending' };
  const [first, ...more] = reasonsOf(attention).filter((known) => !SETTLED_BY_RETRY.includes(known.reason));
  if (first === undefined) return { ...rest, status: attention.previousStatus };
  return { ...rest, status: 'needs_attention', attention: attentionOf(first, more, attention.previousStatus) };
}

/** The attention of a payment in front of a person for `first`, then `more`. */
function attentionOf(first: AttentionReason, more: readonly AttentionReason[], previousStatus: PaymentStatus): PaymentAttention {
  const reasonOnly = (known: AttentionReason): AttentionReason => ({
    reason: known.reason,
    ...(known.code !== undefined && { code: known.code }),
    since: known.since,
    ...(known.again !== undefined && { again: known.again }),
  });
  return { ...reasonOnly(first), previousStatus, ...(more.length > 0 && { more: more.map(reasonOnly) }) };
}

/** A refund state in which nothing came back: failed at the bank, or canceled before it was made. */
export function isFailedStatus(status: RefundStatus): boolean {
  return status === 'failed' || status === 'canceled';
}

/** A refund that failed and that nobody has asked for again or closed: what retry-refund asks for once more. */
export function isOpenFailure(entry: RefundEntry): boolean {
  return isFailedStatus(entry.status) && entry.retriedAs === undefined && entry.resolvedAt === undefined;
}

/** What a person resolving a payment has before them: its reasons, and its failed refunds still open (by key). */
export interface AttentionSeen {
  readonly reasons: readonly AttentionReason[];
  readonly failures: readonly string[];
}

/** A reason as found at one moment: found again since (`again`), or anew after a resolution (`since`), it is another. */
const reasonKey = (known: AttentionReason): string => [known.reason, known.code ?? '', known.since, known.again ?? ''].join('#');

export function attentionSeen(record: PaymentRecord): AttentionSeen {
  return { reasons: reasonsOf(record.attention), failures: record.refunds.filter(isOpenFailure).map((entry) => entry.refundKey) };
}

export interface Resolution {
  readonly record: PaymentRecord;
  /** What the person closed: the reasons and failed refunds they had before them. */
  readonly closed: { readonly reasons: readonly AttentionReason[]; readonly refundKeys: readonly string[] };
}

/** The refund reasons a failure puts a payment in front of a person for (its code Stripe's, or the refund's state). */
const REFUND_REASONS: readonly string[] = ['refund_failed', 'refund_refused'];

/**
 * The record once a person resolves what they had before them (`seen`): those failed refunds are closed (settled by them,
 * or not owed: never asked for again) and the payment is `resolved`. A reason or a failed refund that came since (a
 * refund failing while the command ran) is nobody's decision yet: it is left open, and the payment stays in front of a
 * person for it alone, as if it had come just after the resolution (which it goes back to once that is dealt with).
 */
export function resolvedAsSeen(record: PaymentRecord, seen: AttentionSeen, at: string): Resolution {
  const known = reasonsOf(record.attention);
  const closing = (entry: RefundEntry): boolean => isOpenFailure(entry) && seen.failures.includes(entry.refundKey);
  const refunds = record.refunds.map((entry) => (closing(entry) ? { ...entry, resolvedAt: at } : entry));
  const seenKeys = seen.reasons.map(reasonKey);
  // What the person read is what they closed, unless it went meanwhile (a retry settled it); one found again since is
  // still theirs to have closed, the finding since is not.
  const closed = {
    reasons: seen.reasons.filter((reason) => known.some((still) => sameReason(still, reason))),
    refundKeys: record.refunds.filter(closing).map((entry) => entry.refundKey),
  };
  // Left open, a reason found again dates from then: it came after what the person closed.
  const newReasons = known
    .filter((reason) => !seenKeys.includes(reasonKey(reason)))
    .map(({ again, ...reason }) => ({ ...reason, since: again ?? reason.since }));
  const [failure] = refunds.filter(isOpenFailure);
  if (newReasons.length === 0 && failure === undefined) return { record: { ...record, status: 'resolved', refunds }, closed };
  // A failure whose reason was already there (the same code) added none of its own: it is named after that one.
  const code = failure?.failureCode ?? failure?.status;
  const [first, ...more]: AttentionReason[] =
    newReasons.length > 0 || failure === undefined
      ? newReasons
      : [
          {
            reason: known.find((reason) => REFUND_REASONS.includes(reason.reason) && reason.code === code)?.reason ?? 'refund_failed',
            ...(code !== undefined && { code }),
            since: failure.updatedAt,
          },
        ];
  const attention = attentionOf(first ?? { reason: 'refund_failed', since: at }, more, 'resolved');
  return { record: { ...record, refunds, attention }, closed };
}

/** Whether a refund in state `from` may move to `to` (never backwards, never out of a final state). */
function refundMovesForward(from: RefundStatus, to: RefundStatus): boolean {
  return REFUND_RANK[to] > REFUND_RANK[from];
}

/**
 * Whether Stripe's word on a refund (an answer, an event) moves our entry of it: to a state further on, or, for one
 * superseded by a charge total before Stripe had named it, to the state of the refund Stripe names under its key. That
 * refund existed: it was what brought the charge back (its `charge.refunded` came before its `refund.created`, or before
 * the answer to the request that made it), and it is recorded as itself, with Stripe's id, not as not needed.
 */
export function refundChangeMoves(entry: RefundEntry, status: RefundStatus, stripeRefundId: string | undefined): boolean {
  const namedAfterSuperseded = supersededUnnamed(entry) && stripeRefundId !== undefined && !isFailedStatus(status);
  return namedAfterSuperseded || refundMovesForward(entry.status, status);
}

/** Superseded by a charge total before Stripe named it: Stripe's word naming it under its key records it as that refund. */
export function supersededUnnamed(entry: RefundEntry): boolean {
  return entry.status === 'superseded' && entry.stripeRefundId === undefined;
}

export interface RefundChange {
  readonly record: PaymentRecord;
  /** Present when the refund's state moved: what to write in the audit trail. */
  readonly audit?: { readonly eventType: string; readonly metadata: AuditEntry['metadata'] };
  /** The refund failed or was refused for good: a person must look. */
  readonly attention: boolean;
}

/**
 * Moves one refund of the record to `status`, if that is forward. Money is credited when a refund
 * succeeds and taken back when a succeeded refund fails later; a failure puts the payment in front of a person.
 */
export function moveRefund(
  record: PaymentRecord,
  refundKey: string,
  status: RefundStatus,
  at: string,
  details: {
    readonly stripeRefundId?: string;
    readonly failureCode?: string;
    readonly attentionReason?: string;
    /** False when Stripe refused to create the refund: the charge's total never counted it. @default true */
    readonly countedByCharge?: boolean;
    /** When Stripe said it (the event's `created`, epoch seconds). */
    readonly asOf?: number;
    /** When Stripe created the refund (epoch seconds). */
    readonly providerCreated?: number;
    /** Without `asOf`: when Stripe answered with this state (epoch seconds, its clock), which it reached no later than that. */
    readonly knownBy?: number;
    /** `asOf` is the moment the refund failed (Stripe's `refund.failed`, or the `refund.updated` of that change), not that of any later update of it. */
    readonly failureEvent?: boolean;
  } = {},
): RefundChange {
  const entry = record.refunds.find((candidate) => candidate.refundKey === refundKey);
  if (!entry) return { record, attention: false };
  if (!refundChangeMoves(entry, status, details.stripeRefundId)) {
    const dated = details.asOf === undefined || !details.failureEvent ? undefined : withFailureDated(record, entry, status, details.asOf);
    return dated
      ? { record: dated, audit: { eventType: 'payment.refund_failure_dated', metadata: { refundKey, failedAt: details.asOf ?? null } }, attention: false }
      : { record, attention: false };
  }
  const failed = isFailedStatus(status);
  // A refund that existed at Stripe: its failure takes it out of the charge's total (a refusal never entered it).
  const counted = failed && (details.countedByCharge ?? true);
  // Superseded, it carried why (the charge went back in full): named by Stripe since, it is the refund that did.
  const { failureCode: _whySuperseded, ...named } = entry;
  const moved: RefundEntry = {
    ...(entry.status === 'superseded' && !failed ? named : entry),
    status,
    updatedAt: at,
    ...(details.stripeRefundId !== undefined && { stripeRefundId: details.stripeRefundId }),
    ...(details.failureCode !== undefined && { failureCode: details.failureCode }),
    ...(entry.providerCreated === undefined && details.providerCreated !== undefined && { providerCreated: details.providerCreated }),
    // Learned without the failure's time (a later refund.updated, a lookup), it is known only to have happened by that event or
    // answer: Stripe's clock when it says when, else ours.
    ...(counted && details.asOf === undefined && { failedNoLaterThan: details.knownBy ?? Math.floor(Date.parse(at) / 1000) }),
    ...(counted && details.asOf !== undefined && { failedAt: details.asOf }),
  };
  let next: PaymentRecord = { ...record, refunds: record.refunds.map((candidate) => (candidate === entry ? moved : candidate)) };
  // A refund that existed at Stripe and failed leaves the charge's total too; a snapshot of the charge from
  // the same second or before may still count it, so it is not believed over this.
  if (counted) next = withoutFailedRefund(next, moved, details.asOf);
  next = recounted(next);
  if (failed) next = withAttention(next, details.attentionReason ?? 'refund_failed', at, details.failureCode ?? status);
  // A share priced in another currency than the charge, which Stripe made (its request was on its way when the charge's
  // currency was learned, or already given up as not made): so many of the charge's units went back for it. The person
  // settling the payment, maybe by hand, must know, before the traveller is paid twice or short.
  const madeLate = !failed && (entry.status === 'requested' || entry.status === 'superseded') && pricedInAnotherCurrency(entry, record);
  if (madeLate) next = withAttention(next, SHARE_MADE_LATE, at, undefined, true);
  return {
    record: failed || madeLate ? next : settle(next),
    audit: {
      eventType: failed ? 'payment.refund_failed' : `payment.refund_${status}`,
      metadata: {
        refundKey,
        amount: entry.amount,
        stripeRefundId: moved.stripeRefundId ?? null,
        ...(details.failureCode !== undefined && { code: details.failureCode }),
      },
    },
    attention: failed || madeLate,
  };
}

/** What Stripe's answer to a refund request does to that refund. */
export function applyRefundAnswer(record: PaymentRecord, refundKey: string, answer: RefundAnswer, at: string): RefundChange {
  switch (answer.kind) {
    case 'created':
      return moveRefund(record, refundKey, answer.status, at, {
        stripeRefundId: answer.refundId,
        ...(answer.created !== undefined && { providerCreated: answer.created }),
        ...(answer.answeredAt !== undefined && { knownBy: answer.answeredAt }),
      });
    case 'already_refunded':
      // The charge went back in full by another refund: nothing of this one is needed.
      return chargeFullyRefunded(record, at, 'charge_already_refunded');
    case 'refused':
      return moveRefund(record, refundKey, 'failed', at, { failureCode: answer.code, attentionReason: 'refund_refused', countedByCharge: false });
    case 'key_spent':
      return renewProviderKey(record, refundKey, at, answer);
  }
}

/**
 * The key Stripe is asked under for a refund: its own `refundKey` (also in the refund's metadata, which finds it), then,
 * once Stripe kept a server error under that one, a new key per such error.
 */
export function providerKeyOf(entry: RefundEntry): string {
  return entry.keyRenewals === undefined ? entry.refundKey : `${entry.refundKey}~${entry.keyRenewals}`;
}

/**
 * Stripe answered a refund still `requested` with a server error it kept under the key (and found no refund under its
 * `refundKey`): nothing was made under that key, nor will be for the day Stripe keeps it. The refund stays `requested`
 * and is asked under the next key. Only the key the record still names moves on: an answer about a key another caller
 * has renewed since is old news (a refund may be on its way under the new one).
 */
function renewProviderKey(record: PaymentRecord, refundKey: string, at: string, answer: { readonly spentKey: string; readonly message: string }): RefundChange {
  const entry = record.refunds.find((candidate) => candidate.refundKey === refundKey);
  if (entry?.status !== 'requested' || providerKeyOf(entry) !== answer.spentKey) return { record, attention: false };
  const renewed: RefundEntry = { ...entry, keyRenewals: (entry.keyRenewals ?? 0) + 1, updatedAt: at };
  const refunds = record.refunds.map((candidate) => (candidate === entry ? renewed : candidate));
  return {
    record: { ...record, refunds },
    audit: {
      eventType: 'payment.refund_key_renewed',
      metadata: { refundKey, spentKey: answer.spentKey, nextKey: providerKeyOf(renewed), error: answer.message },
    },
    attention: false,
  };
}

/**
 * Stripe says the whole charge is back: all the record counts as paid, or more when Stripe's event names more (a record
 * create-booking wrote holds its trip's price until its session says what was charged, which may be more: kept, so
 * that charge then reads all back too). Refunds we asked for but never heard of are superseded (not needed any more);
 * pending ones stay open, because Stripe counts a pending refund in the charge's total and it can still fail. The
 * record settles.
 */
export function chargeFullyRefunded(record: PaymentRecord, at: string, why: string, asOf?: number, total = record.amountPaid): RefundChange {
  const refunds = record.refunds.map((entry) =>
    entry.status === 'requested' ? { ...entry, status: 'superseded' as const, failureCode: why, updatedAt: at } : entry,
  );
  return {
    record: settle(recounted(withChargeTotal({ ...record, refunds }, Math.max(record.amountPaid, total), asOf))),
    audit: { eventType: 'payment.fully_refunded', metadata: { amount: record.amountPaid, why } },
    attention: false,
  };
}

/** The time of a total said without one (Stripe's charge_already_refunded: the whole charge is back): it counts every refund. */
const COUNTS_EVERY_REFUND = Number.MAX_SAFE_INTEGER;

/**
 * Stripe's total for the charge, as of `asOf` (the event's `created`): a newer snapshot replaces the one we hold,
 * an older one is ignored (events arrive out of order), one of the same second can only add.
 */
export function withChargeTotal(record: PaymentRecord, chargeRefunded: number, asOf?: number): PaymentRecord {
  const heldAsOf = record.chargeRefundedAsOf;
  if (asOf !== undefined && heldAsOf !== undefined && asOf < heldAsOf) {
    const believed = totalBeforeFailures(record, chargeRefunded, asOf);
    if (!believed) return record;
    // The failures it was taken off without their time are marked, so dating them later takes them off it no more.
    const refunds = withoutMarks(record.refunds).map((entry) => (believed.marked.includes(entry.refundKey) ? { ...entry, offTotalTakenAt: asOf } : entry));
    return recounted({ ...record, refunds, chargeRefunded: believed.value, chargeRefundedTakenAt: asOf });
  }
  // Of the second a failure moved `chargeRefundedAsOf` to (the one after it), a total is still newer than one held of an
  // earlier second: only another total of its own second can only add to it.
  const heldTakenAt = record.chargeRefundedTakenAt;
  const afterHeld = asOf !== undefined && heldTakenAt !== undefined && heldTakenAt !== COUNTS_EVERY_REFUND && asOf > heldTakenAt;
  const newer = asOf !== undefined && (heldAsOf === undefined || asOf > heldAsOf || afterHeld);
  const total = newer ? chargeRefunded : Math.max(chargeRefunded, record.chargeRefunded ?? 0);
  // The time the total held was taken: this snapshot's when it is the one kept; one said without a time counts every refund.
  const takenChanged = newer || total !== record.chargeRefunded;
  const takenAt = takenChanged ? (asOf ?? COUNTS_EVERY_REFUND) : record.chargeRefundedTakenAt;
  // Another value now: the failures marked as taken off the one held (offTotalTakenAt) were not taken off this one.
  const refunds = total === record.chargeRefunded ? record.refunds : withoutMarks(record.refunds);
  return recounted({
    ...record,
    refunds,
    chargeRefunded: total,
    ...(asOf !== undefined && { chargeRefundedAsOf: Math.max(asOf, heldAsOf ?? asOf) }),
    ...(takenAt !== undefined && { chargeRefundedTakenAt: takenAt }),
  });
}

/**
 * The partial refunds a trip keeps (one per payment) once Stripe's `total` of a payment with no record yet is heard, or
 * undefined when it keeps them as they are. They are what makes a first record ask Stripe what is back (never a figure
 * that record starts with); changed, they make a first record decided on them before decide again. Of the payment's own,
 * as `withChargeTotal` has it: a newer total replaces it, an older one is ignored, one of the same second (or of no known
 * time) can only add. Another payment's stay, each until its own payment's first record.
 */
export function nextEarlyChargeTotals(held: readonly EarlyChargeTotal[] | undefined, total: EarlyChargeTotal): readonly EarlyChargeTotal[] | undefined {
  const others = (held ?? []).filter((entry) => entry.paymentId !== total.paymentId);
  const own = (held ?? []).find((entry) => entry.paymentId === total.paymentId);
  const next = nextEarlyChargeTotal(own, total);
  return next === undefined ? undefined : [...others, next];
}

/** The payment's own entry of `nextEarlyChargeTotals`, or undefined when it stays as it is. */
export function nextEarlyChargeTotal(held: EarlyChargeTotal | undefined, total: EarlyChargeTotal): EarlyChargeTotal | undefined {
  if (held === undefined) return total;
  if (held.asOf !== undefined && total.asOf !== undefined && total.asOf !== held.asOf) return total.asOf > held.asOf ? total : undefined;
  return total.amount > held.amount ? { ...total, ...(held.asOf !== undefined && { asOf: Math.max(held.asOf, total.asOf ?? held.asOf) }) } : undefined;
}

/** The refunds without the marks of the total each failure was taken off (offTotalTakenAt): for another total. */
function withoutMarks(refunds: readonly RefundEntry[]): RefundEntry[] {
  return refunds.map(({ offTotalTakenAt: _held, ...entry }) => entry);
}

/**
 * A total taken before a failure Stripe reported with its time (so older than `chargeRefundedAsOf`), yet no older than the
 * total held: newer word of money paid back, made untrustworthy only for the failed refunds it may count. Every one it may
 * count (created by then and not failed before it) is taken off, whether it did or not (a refund created or failed in the
 * total's own second, a failure without its time, one stored before failure times were kept): what is left is money
 * surely back, never more. It replaces the total held only when it says more is surely back beyond our own refunds (each
 * total against the refunds of ours it can count by its time, the one held less the failed refunds it may still count): a
 * higher total of a later second may hold only refunds of ours made since; undefined otherwise.
 */
function totalBeforeFailures(record: PaymentRecord, total: number, asOf: number): { readonly value: number; readonly marked: readonly string[] } | undefined {
  const heldTakenAt = record.chargeRefundedTakenAt;
  const held = record.chargeRefunded;
  if (held !== undefined && (heldTakenAt === undefined || heldTakenAt === COUNTS_EVERY_REFUND || asOf < heldTakenAt)) return undefined;
  let value = total;
  const marked: string[] = [];
  for (const entry of record.refunds) {
    // Never made at Stripe (refused), created after the total was taken, or failed before it: the total never counted it.
    const existed = entry.stripeRefundId !== undefined || entry.providerCreated !== undefined;
    if (!isFailedStatus(entry.status) || !existed || (entry.providerCreated !== undefined && entry.providerCreated > asOf)) continue;
    if ((entry.failedAt ?? entry.failedNoLaterThan ?? asOf) < asOf) continue;
    value -= entry.amount;
    if (entry.failedNoLaterThan !== undefined) marked.push(entry.refundKey);
  }
  value = Math.max(0, value);
  // The total held may still count failed refunds (in doubt): what it surely holds beyond ours is less those.
  const heldSurely = Math.max(0, beyondOurs(record) - sumOf(record.refunds.filter((entry) => mayStillCountFailed(record, entry))));
  if (held !== undefined && beyondOurs({ ...record, chargeRefunded: value, chargeRefundedTakenAt: asOf }) <= heldSurely) return undefined;
  return { value, marked };
}

/**
 * A failure learned without its time (`failedNoLaterThan`: a later refund.updated, a lookup, or the answer to creating the refund), told again by
 * Stripe's event with the time it failed (`failedAt`): the doubt that time settles is settled. A total held that was taken
 * after the refund's creation and no later than its failure counted it, and the lookup could not tell, so it left it
 * counted: it comes off now. Totals of the failure's second or before are no longer believed, as for any failure reported
 * with its time, and the refund no longer makes the totals until the lookup doubtful. Answers undefined when there is
 * nothing to date (another state, or a failure whose time was known).
 */
export function withFailureDated(record: PaymentRecord, entry: RefundEntry, status: RefundStatus, failedAt: number): PaymentRecord | undefined {
  if (entry.failedNoLaterThan === undefined || !isFailedStatus(entry.status) || !isFailedStatus(status)) return undefined;
  const { failedNoLaterThan, offTotalTakenAt, ...rest } = entry;
  // Stripe's refund.failed is created when the refund fails, which was no later than the answer that showed it: one
  // created after that answer cannot be right, and dates nothing.
  if (failedAt > failedNoLaterThan) return undefined;
  const takenAt = record.chargeRefundedTakenAt;
  // Counted by the total held: timed, taken from the refund's creation (unknown: assumed, as withoutFailedRefund does) to
  // its failure, and not the very total the failure already came off when it was learned.
  const counted =
    record.chargeRefunded !== undefined &&
    takenAt !== undefined &&
    takenAt !== COUNTS_EVERY_REFUND &&
    takenAt !== offTotalTakenAt &&
    (entry.providerCreated === undefined || takenAt >= entry.providerCreated) &&
    takenAt <= failedAt;
  return recounted({
    ...record,
    refunds: record.refunds.map((candidate) => (candidate === entry ? { ...rest, failedAt } : candidate)),
    ...(counted && { chargeRefunded: Math.max(0, (record.chargeRefunded ?? 0) - entry.amount) }),
    chargeRefundedAsOf: Math.max(failedAt + 1, record.chargeRefundedAsOf ?? 0),
  });
}

function withoutFailedRefund(record: PaymentRecord, refund: RefundEntry, asOf?: number): PaymentRecord {
  // Any snapshot of the charge taken before the next second may predate the failure, even one not seen yet.
  const chargeRefundedAsOf = asOf === undefined ? record.chargeRefundedAsOf : Math.max(asOf + 1, record.chargeRefundedAsOf ?? 0);
  // The refund comes off the total held only when that total counted it. One taken before Stripe created the refund, or
  // after the second it failed (delivered before the failure's event), never did: what it holds is other money (a refund
  // made in the Dashboard), which stays counted. Whether one counted it cannot be told when the total's time is unknown
  // (stored before it was kept) or, without the failure's time (a lookup), taken after the refund's creation: it stays
  // counted too, and the retry asks a person rather than pay twice. A refund of unknown creation is taken off.
  const takenAt = record.chargeRefundedTakenAt;
  const timed = takenAt !== undefined && takenAt !== COUNTS_EVERY_REFUND;
  const takenAfter = timed && (asOf !== undefined ? takenAt > asOf : refund.providerCreated !== undefined && takenAt > refund.providerCreated);
  const countedIt = !takenAfter && (refund.providerCreated === undefined || (takenAt !== undefined && takenAt >= refund.providerCreated));
  // A total said without a time counted every refund until this failure, and none Stripe creates after it.
  const dated = takenAt === COUNTS_EVERY_REFUND && asOf !== undefined ? asOf : takenAt;
  const takenOff = record.chargeRefunded !== undefined && countedIt;
  // Learned without its time, the failure may be dated later by Stripe's event: which total it already came off is kept.
  const marked = takenOff && asOf === undefined && takenAt !== undefined;
  // The same total, now dated: the marks of failures it already came off follow it.
  const redated = dated !== takenAt ? dated : undefined;
  const refunds = record.refunds.map((entry) => {
    if (marked && entry.refundKey === refund.refundKey) return { ...entry, offTotalTakenAt: takenAt };
    if (redated !== undefined && entry.offTotalTakenAt !== undefined && entry.offTotalTakenAt === takenAt) return { ...entry, offTotalTakenAt: redated };
    return entry;
  });
  return {
    ...record,
    refunds,
    ...(takenOff && { chargeRefunded: Math.max(0, (record.chargeRefunded ?? 0) - refund.amount) }),
    ...(chargeRefundedAsOf !== undefined && { chargeRefundedAsOf }),
    ...(dated !== undefined && { chargeRefundedTakenAt: dated }),
  };
}

/** The status the payment lives in, or will go back to once a person has dealt with it. */
export function liveStatus(record: PaymentRecord): PaymentStatus {
  return record.status === 'needs_attention' ? (record.attention?.previousStatus ?? 'refund_pending') : record.status;
}

/** Moves the live status: directly, or (while a person must look) the one the payment goes back to. */
export function withLiveStatus(record: PaymentRecord, status: PaymentStatus): PaymentRecord {
  if (record.status !== 'needs_attention' || !record.attention) return { ...record, status };
  return { ...record, attention: { ...record.attention, previousStatus: status } };
}

/**
 * A record owing money settles as `refunded` once everything paid is back (or counted by Stripe on its way);
 * a booked payment stays booked (its other bookings are still live).
 */
export function settle(record: PaymentRecord): PaymentRecord {
  const owing = record.status === 'refund_pending' || record.status === 'cancelled';
  if (!owing || !allMoneyBack(record)) return record;
  return { ...record, status: 'refunded' };
}

/** All of the money is back, or counted by Stripe; a refund still only `requested` may yet be made (a pending one is already in Stripe's total). */
export function allMoneyBack(record: PaymentRecord): boolean {
  return record.amountRefunded >= record.amountPaid && !hasRequestedRefunds(record);
}
