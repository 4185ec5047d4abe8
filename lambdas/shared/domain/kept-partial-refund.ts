// A partial refund a trip kept for a payment seen before its record, told to a record written without asking Stripe (create-booking's).
import { auditEntry } from './audit-trail';
import type { AtomicWrite } from './booking-store';
import type { PaymentDeps } from './collaborators';
import type { PaymentRecord, Trip } from './model';
import { nextVersion, withAskedTotalWhileHeld } from './payment-ledger';

/** Who tells it: a Stripe event (the payment's completion), or an operator's command about to size a refund. */
export type Teller = { readonly eventId: string } | { readonly operator: true; readonly actorId?: string | undefined };

/**
 * Input: the trip as read, keeping a partial refund of `record`'s payment (`chargeRefundedEarly`), and the record as read.
 * Output: whether the write committed; refused, another writer moved the record or the trip first, and the caller reads again.
 * Steps: a record whose own total does not count the kept refund asks Stripe what it counts back of the payment now (never
 * the kept total, which a refund failed since would leave counting money that never went back) → one write: that total on
 * the record, under its version, while some of the payment is still held (`withAskedTotalWhileHeld`), and the kept entry
 * off the trip, under its entries as read (the others stay). A record whose total counts it already, a payment all of
 * whose money Stripe says is back (its full refund's own `charge.refunded` acts on it), or one Stripe refuses to say
 * anything of for good, only has the entry taken off. Stripe unable to say for now throws PaymentGatewayUnavailableError:
 * nothing is written.
 */
export async function tellKeptPartialRefund(deps: PaymentDeps, trip: Trip, record: PaymentRecord, teller: Teller): Promise<boolean> {
  const { paymentId } = record;
  const soFar = knowsKeptRefund(record, trip) ? undefined : await deps.gateway.refundedSoFar(paymentId);
  const after = withAskedTotalWhileHeld(record, soFar);
  const at = deps.clock.now().toISOString();
  const keptOff: AtomicWrite = { at, tripChargeRefundedEarlyAsRead: { tripId: trip.tripId, paymentId, asRead: trip.chargeRefundedEarly ?? null } };
  if (soFar === undefined || after === record) return (await deps.store.commit(keptOff)).committed;
  const byEvent = 'eventId' in teller;
  const told: AtomicWrite = {
    ...keptOff,
    paymentRecord: { record: nextVersion(after, at), expectedVersion: record.version },
    audits: [
      auditEntry(deps, {
        eventType: 'payment.charge_total_recorded',
        entityType: 'payment',
        entityId: paymentId,
        actorType: byEvent ? 'stripe' : 'operator',
        ...(!byEvent && { actorId: teller.actorId }),
        at,
        metadata: { amountRefunded: soFar.amount, asOf: soFar.asOf ?? null, tripId: trip.tripId, eventId: byEvent ? teller.eventId : null },
      }),
    ],
  };
  return (await deps.store.commit(told)).committed;
}

/**
 * Whether the record's own total counts the partial refund the trip kept: it says all of the payment is back, or it was
 * taken no earlier than the kept one (a `charge.refunded` recorded on it since). An older total (an earlier refund's event
 * delivered late) does not.
 */
function knowsKeptRefund(record: PaymentRecord, trip: Trip): boolean {
  if (record.chargeRefunded === undefined) return false;
  if (record.chargeRefunded >= record.amountPaid) return true;
  const kept = trip.chargeRefundedEarly?.find((entry) => entry.paymentId === record.paymentId);
  return kept?.asOf !== undefined && record.chargeRefundedAsOf !== undefined && record.chargeRefundedAsOf >= kept.asOf;
}
