// Operator commands on what needs a person: payments and unusable Stripe events, listed together and closed one at a time.
import { failure } from '../../../lambdas/shared/domain/errors';
import { reasonsOf } from '../../../lambdas/shared/domain/payment-ledger';
import { resolvePayment } from '../../../lambdas/shared/domain/payment-operations';
import { resolveUnusableEvent } from '../../../lambdas/shared/domain/unusable-events';
import { defineCommand, type OpsCommand } from '../command';
import { money, truncate } from '../printing';
import { NOTE_FLAG, seatsLeftHeld, stillNeedsAttention } from './payments';

const list = defineCommand({
  name: 'attention list',
  summary: 'payments and unusable events that need a person, oldest first',
  flags: {},
  async run({ store, json, out, print }) {
    const [payments, events] = await Promise.all([store.listPaymentsNeedingAttention(), store.listEventsNeedingAttention()]);
    const rows = [
      ...payments.map((record) => ({
        since: record.attention?.since ?? record.updatedAt,
        kind: 'payment',
        id: record.paymentId,
        tripId: record.tripId,
        reason: reasonsOf(record.attention)
          .map((known) => known.reason)
          .join(', '),
        // Each reason's code (Stripe's, or the booking a share_unclear names): two bookings' shares cut are two codes.
        code: reasonsOf(record.attention)
          .flatMap((known) => (known.code === undefined ? [] : [known.code]))
          .join(', '),
        paid: money(record.amountPaid, record.currency),
        refunded: money(record.amountRefunded, record.currency),
      })),
      ...events.map((event) => ({
        since: event.receivedAt,
        kind: 'event',
        id: event.eventId,
        reason: `unusable ${event.eventType}`,
        code: truncate(event.problem, 60),
      })),
    ].sort((a, b) => a.since.localeCompare(b.since));
    if (!json && rows.length === 0) out('Nothing needs attention.');
    else print({ payments, events }, rows, ['since', 'kind', 'id', 'tripId', 'reason', 'code', 'paid', 'refunded']);
    return 0;
  },
});

const resolve = defineCommand({
  name: 'attention resolve',
  target: { synopsis: 'ID', needs: 'a payment id or an event id' },
  summary: 'close one (a payment id, or an evt_ id), audited',
  flags: { note: NOTE_FLAG },
  async run(context, { target: id, flags: { note } }) {
    const { store, deps, actor } = context;
    // Payments and events share the attention list; the id says which, whatever its shape.
    const isPayment = (await store.getPaymentRecord(id)) !== undefined;
    if (!isPayment && (await store.getUnusableEvent(id)) === undefined)
      return context.refused(failure('NOT_NEEDING_ATTENTION', `No payment or unusable event ${id} is recorded: give an id that \`attention list\` prints.`));
    const result = isPayment ? await resolvePayment(deps, id, note, actor) : await resolveUnusableEvent(deps, id, note, actor);
    if (!result.ok) return context.refused(result);
    const payment = 'record' in result ? result.record : undefined;
    context.print(result, [{ id, status: payment?.status ?? 'resolved', note }], ['id', 'status', 'note']);
    const seatsLeft = 'seatsLeftHeld' in result ? seatsLeftHeld(context, result.seatsLeftHeld) : 0;
    const stillNeeded = payment ? stillNeedsAttention(context, payment) : 0;
    return seatsLeft || stillNeeded;
  },
});

export const attentionCommands: readonly OpsCommand[] = [list, resolve];
