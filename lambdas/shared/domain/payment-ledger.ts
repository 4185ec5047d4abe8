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

/** What may still be refunded: paid, less what went back, less what is on its way back. */
export function refundableAmount(record: PaymentRecord): number {
  return Math.max(0, record.amountPaid - record.amountRefunded - openRefundAmount(record));
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
  readonly amountRefunded?: number;
  readonly refunds?: readonly RefundEntry[];
  readonly attention?: PaymentRecord['attention'];
}

export function newPaymentRecord(fields: NewRecordFields, at: string): PaymentRecord {
  return { amountRefunded: 0, refunds: [], ...fields, version: 1, createdAt: at, updatedAt: at };
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
  details: { readonly stripeRefundId?: string; readonly failureCode?: string } = {},
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
  let amountRefunded = record.amountRefunded;
  if (status === 'succeeded') amountRefunded = Math.min(record.amountPaid, amountRefunded + entry.amount);
  if ((status === 'failed' || status === 'canceled') && entry.status === 'succeeded') amountRefunded = Math.max(0, amountRefunded - entry.amount);
  let next: PaymentRecord = { ...record, amountRefunded, refunds: record.refunds.map((candidate) => (candidate === entry ? moved : candidate)) };
  const failed = status === 'failed' || status === 'canceled';
  if (failed) next = withAttention(next, 'refund_failed', at, details.failureCode ?? status);
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
    case 'refused': {
      const moved = moveRefund(record, refundKey, 'failed', at, { failureCode: answer.code });
      return { ...moved, record: withAttention(moved.record, 'refund_refused', at, answer.code) };
    }
  }
}

/** Stripe says the whole charge is back: open refunds are superseded and the record settles. */
export function chargeFullyRefunded(record: PaymentRecord, at: string, why: string): RefundChange {
  const refunds = record.refunds.map((entry) =>
    OPEN_REFUND_STATUSES.includes(entry.status) ? { ...entry, status: 'superseded' as const, failureCode: why, updatedAt: at } : entry,
  );
  return {
    record: settle({ ...record, refunds, amountRefunded: record.amountPaid }),
    audit: { eventType: 'payment.fully_refunded', metadata: { amount: record.amountPaid, why } },
    attention: false,
  };
}

/** Stripe's total for the charge, when it is ahead of ours (a refund made in the dashboard). */
export function withChargeTotal(record: PaymentRecord, amountRefunded: number): PaymentRecord {
  return amountRefunded > record.amountRefunded ? { ...record, amountRefunded: Math.min(record.amountPaid, amountRefunded) } : record;
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
