// The payment record's rules: what is still owed, how a refund moves through its states, and what each answer does.
import type { AuditActorType, AuditEntry, PaymentRecord, PaymentStatus, RefundEntry, RefundStatus } from './model';
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
  superseded: 4,
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
  return record.refunds.filter((entry) => OPEN_REFUND_STATUSES.includes(entry.status)).reduce((sum, entry) => sum + entry.amount, 0);
}

function succeededRefundAmount(record: Pick<PaymentRecord, 'refunds'>): number {
  return record.refunds.filter((entry) => entry.status === 'succeeded').reduce((sum, entry) => sum + entry.amount, 0);
}

/**
 * What may still be refunded: paid, less what is back or on its way. Stripe's charge total already counts
 * our pending refunds and any made outside, so the two sources are compared, never added.
 */
export function refundableAmount(record: PaymentRecord): number {
  const committed = Math.max(succeededRefundAmount(record) + openRefundAmount(record), record.chargeRefunded ?? 0);
  return Math.max(0, record.amountPaid - committed);
}

/** `amountRefunded` as it follows from the refunds and the charge's total. */
function recounted(record: PaymentRecord): PaymentRecord {
  const amountRefunded = Math.min(record.amountPaid, Math.max(succeededRefundAmount(record), record.chargeRefunded ?? 0));
  return amountRefunded === record.amountRefunded ? record : { ...record, amountRefunded };
}

export function hasRequestedRefunds(record: PaymentRecord): boolean {
  return record.refunds.some((entry) => entry.status === 'requested');
}

export interface NewRecordFields {
  readonly paymentId: string;
  readonly status: PaymentStatus;
  readonly tripId?: string;
  readonly sessionId?: string;
  readonly setAside: boolean;
  readonly reason?: string;
  readonly amountPaid: number;
  readonly currency: string;
  /** The charge's refunded total, when Stripe reported one (a refund seen before the record existed). */
  readonly chargeRefunded?: number;
  readonly refunds?: readonly RefundEntry[];
  readonly attention?: PaymentRecord['attention'];
}

export function newPaymentRecord(fields: NewRecordFields, at: string): PaymentRecord {
  return recounted({ amountRefunded: 0, refunds: [], ...fields, version: 1, createdAt: at, updatedAt: at });
}

/** The record as the next write stores it: one version on, stamped. */
export function nextVersion(record: PaymentRecord, at: string): PaymentRecord {
  return { ...record, version: record.version + 1, updatedAt: at };
}

export interface RefundEntryFields {
  readonly refundKey: string;
  readonly amount: number;
  readonly requestedBy: AuditActorType;
  readonly actorId?: string;
  readonly reason: string;
  readonly bookingReferences?: readonly string[];
  readonly status?: Extract<RefundStatus, 'requested' | 'waived'>;
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
    requestedAt: at,
    updatedAt: at,
  };
}

/** A refund of everything still refundable, when there is anything: the entry a set-aside or unbookable payment starts with. */
export function fullRefundEntries(paymentId: string, amount: number, reason: string, at: string): RefundEntry[] {
  return amount > 0 ? [refundEntry({ refundKey: fullRefundKey(paymentId), amount, requestedBy: 'system', reason }, at)] : [];
}

/** Moves the record to `needs_attention`, remembering where it was so a retry can go back there. */
export function withAttention(record: PaymentRecord, reason: string, at: string, code?: string): PaymentRecord {
  if (record.status === 'needs_attention') return record;
  return { ...record, status: 'needs_attention', attention: { reason, ...(code !== undefined && { code }), since: at, previousStatus: record.status } };
}

/** Whether a refund in state `from` may move to `to` (never backwards, never out of a final state). */
export function refundMovesForward(from: RefundStatus, to: RefundStatus): boolean {
  return REFUND_RANK[to] > REFUND_RANK[from];
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
  details: { readonly stripeRefundId?: string; readonly failureCode?: string; readonly attentionReason?: string } = {},
): RefundChange {
  const entry = record.refunds.find((candidate) => candidate.refundKey === refundKey);
  if (!entry || !refundMovesForward(entry.status, status)) return { record, attention: false };
  const moved: RefundEntry = {
    ...entry,
    status,
    updatedAt: at,
    ...(details.stripeRefundId !== undefined && { stripeRefundId: details.stripeRefundId }),
    ...(details.failureCode !== undefined && { failureCode: details.failureCode }),
  };
  const failed = status === 'failed' || status === 'canceled';
  // A refund that fails after Stripe counted it leaves the charge's total too.
  const chargeRefunded = failed && entry.status !== 'requested' && record.chargeRefunded !== undefined ? Math.max(0, record.chargeRefunded - entry.amount) : record.chargeRefunded;
  let next: PaymentRecord = recounted({
    ...record,
    ...(chargeRefunded !== undefined && { chargeRefunded }),
    refunds: record.refunds.map((candidate) => (candidate === entry ? moved : candidate)),
  });
  if (failed) next = withAttention(next, details.attentionReason ?? 'refund_failed', at, details.failureCode ?? status);
  return {
    record: failed ? next : settle(next),
    audit: {
      eventType: failed ? 'payment.refund_failed' : `payment.refund_${status}`,
      metadata: {
        refundKey,
        amount: entry.amount,
        stripeRefundId: moved.stripeRefundId ?? null,
        ...(details.failureCode !== undefined && { code: details.failureCode }),
      },
    },
    attention: failed,
  };
}

/** What Stripe's answer to a refund request does to that refund. */
export function applyRefundAnswer(record: PaymentRecord, refundKey: string, answer: RefundAnswer, at: string): RefundChange {
  switch (answer.kind) {
    case 'created':
      return moveRefund(record, refundKey, answer.status, at, { stripeRefundId: answer.refundId });
    case 'already_refunded':
      // The charge went back in full by another refund: nothing of this one is needed.
      return chargeFullyRefunded(record, at, 'charge_already_refunded');
    case 'refused':
      return moveRefund(record, refundKey, 'failed', at, { failureCode: answer.code, attentionReason: 'refund_refused' });
  }
}

/** Stripe says the whole charge is back: open refunds are superseded and the record settles. */
export function chargeFullyRefunded(record: PaymentRecord, at: string, why: string): RefundChange {
  const refunds = record.refunds.map((entry) =>
    OPEN_REFUND_STATUSES.includes(entry.status) ? { ...entry, status: 'superseded' as const, failureCode: why, updatedAt: at } : entry,
  );
  return {
    record: settle(recounted({ ...record, refunds, chargeRefunded: record.amountPaid })),
    audit: { eventType: 'payment.fully_refunded', metadata: { amount: record.amountPaid, why } },
    attention: false,
  };
}

/** Stripe's total for the charge, when it is ahead of ours (a refund made in the dashboard). */
export function withChargeTotal(record: PaymentRecord, chargeRefunded: number): PaymentRecord {
  return chargeRefunded > (record.chargeRefunded ?? 0) ? recounted({ ...record, chargeRefunded }) : record;
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
 * A record owing money settles as `refunded` once everything paid is back and nothing is on its way;
 * a booked payment stays booked (its other bookings are still live).
 */
export function settle(record: PaymentRecord): PaymentRecord {
  const owing = record.status === 'refund_pending' || record.status === 'cancelled';
  if (!owing || openRefundAmount(record) > 0 || record.amountRefunded < record.amountPaid) return record;
  return { ...record, status: 'refunded' };
}
