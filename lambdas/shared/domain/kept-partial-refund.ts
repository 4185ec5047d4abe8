// A partial refund a trip kept for a payment seen before its record, told to a record written without asking Stripe (create-booking's).
import { auditEntry } from './audit-trail';
import type { AtomicWrite } from './booking-store';
import type { PaymentDeps } from './collaborators';
import type { PaymentRecord, Trip } from './model';
import { recordWrite, withChargeTotal } from './payment-ledger';

/** Who tells it: a Stripe event (the payment's completion), or an operator's command about to size a refund. */
export type Teller = { readonly eventId: string } | { readonly operator: true; readonly actorId?: string | undefined };

/**
 * Input: the trip as read, keeping a partial refund of `record`'s payment (`chargeRefundedEarly`), and the record as read
 * (`unwritten`: one made for a payment booked before payment records existed, which has none).
 * Output: whether the write committed; refused, another writer moved the record or the trip first, and the caller reads again.
 * Steps: a record whose own total does not say all of the payment is back asks Stripe what it counts back of the payment
 * now (never the kept total, which a refund failed since would leave counting money that never went back) → one write:
 * that total on the record, under its version, and the kept entry off the trip, under its entries as read (the others
 * stay). A record whose total says all of it is back, or a payment Stripe refuses to say anything of for good, only has
 * the entry taken off. Stripe unable to say for now throws PaymentGatewayUnavailableError: nothing is written.
 */
export async function tellKeptPartialRefund(
  deps: PaymentDeps,
  trip: Trip,
  record: PaymentRecord,
  teller: Teller,
  options: { readonly unwritten?: boolean } = {},
): Promise<boolean> {
  const { paymentId } = record;
  const soFar = knowsKeptRefund(record) ? undefined : await deps.gateway.refundedSoFar(paymentId);
  const at = deps.clock.now().toISOString();
  const keptOff: AtomicWrite = { at, tripChargeRefundedEarlyAsRead: { tripId: trip.tripId, paymentId, asRead: trip.chargeRefundedEarly ?? null } };
  if (soFar === undefined) return (await deps.store.commit(keptOff)).committed;
  const byEvent = 'eventId' in teller;
  const told: AtomicWrite = {
    ...keptOff,
    // One made for a payment booked before records existed is written under "must not exist".
    paymentRecord: recordWrite(options.unwritten ? undefined : record, withChargeTotal(record, soFar.amount, soFar.asOf), at),
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
 * Whether the record's own total counts the partial refund the trip kept: only when it says all of the payment is back.
 * Its time says nothing sure of it: an earlier refund's total delivered late may be of the same second, and a refund
 * failure moves it past its own second.
 */
function knowsKeptRefund(record: PaymentRecord): boolean {
  return record.chargeRefunded !== undefined && record.chargeRefunded >= record.amountPaid;
}
