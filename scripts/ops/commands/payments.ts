// Operator commands on payments: show one with its refunds, ask Stripe again for its refunds (or for every refund due), and close one that needs attention.
import { PAYMENT_STATUSES, type PaymentRecord } from '../../../lambdas/shared/domain/model';
import { chargeTotalInDoubt, isOpenFailure, SHARE_IN_ANOTHER_CURRENCY } from '../../../lambdas/shared/domain/payment-ledger';
import { PaymentGatewayUnavailableError } from '../../../lambdas/shared/domain/payment-gateway';
import { resolvePayment, retryRefund, type SeatsLeftHeld } from '../../../lambdas/shared/domain/payment-operations';
import { DUE_LIST_LIMIT, resumeRequestedRefunds, type ResumedRefund } from '../../../lambdas/shared/domain/resume-refunds';
import { defineCommand, defineShowCommand, instantOf, UsageError, wholeNumber, type FlagSpec, type OpsCommand } from '../command';
import type { OpsContext } from '../context';
import { attentionReasons, FIX_THE_STRIPE_KEY, money, refundCurrency, refundLine } from '../printing';
import { AccountMismatchError, accountChecked, accountRefusal, stripeModeRefusal } from '../stripe-mode';
import { printAuditTrail } from './audit';

/** What closing something that needs attention asks of the operator. */
export const NOTE_FLAG = {
  type: 'string',
  value: 'TEXT',
  required: true,
  description: 'what was done about it; kept in the audit trail',
} as const satisfies FlagSpec;

/** The payment record's fields worth reading, in this order, absent ones left out. */
function paymentFields(record: PaymentRecord): [string, unknown][] {
  const { paymentId, status, tripId, sessionId, paidForTripId, setAside, reason, attention, updatedAt } = record;
  const fields = {
    paymentId,
    status,
    tripId,
    sessionId,
    // create-booking booked `tripId` with this payment; its session paid for this trip (paid_for_another_trip).
    paidForTripId,
    setAside,
    reason,
    paid: money(record.amountPaid, record.currency),
    // What is back may be Stripe's total still counting a refund that failed: the person reading it should know.
    refunded: `${money(record.amountRefunded, record.currency)}${chargeTotalInDoubt(record) ? ' (Stripe’s total, which may still count a refund that failed)' : ''}`,
    // A resolved payment keeps what it was in front of a person for: closed, not open.
    attention: attention && `${attentionReasons(attention)} since ${attention.since}${status === 'resolved' ? ' (closed: resolved)' : ''}`,
    updatedAt,
  };
  return Object.entries(fields).filter(([, value]) => value !== undefined);
}

const show = defineShowCommand({
  name: 'payments show',
  target: { synopsis: 'PAYMENT_ID', needs: 'a payment id' },
  summary: 'the payment record, its refunds and audit trail',
  notFound: (paymentId) => ({ errorCode: 'PAYMENT_NOT_FOUND', message: `No payment ${paymentId} is recorded.` }),
  async load({ store }, paymentId) {
    const payment = await store.getPaymentRecord(paymentId);
    return payment && { payment, audit: await store.listAudit('payment', paymentId) };
  },
  printText({ out, printFields, printTable }, { payment, audit }) {
    printFields(paymentFields(payment));
    out('');
    if (payment.refunds.length === 0) out('No refunds.');
    else {
      printTable(
        payment.refunds.map((entry) => ({
          ...entry,
          amount: money(entry.amount, refundCurrency(entry, payment.currency)),
          bookings: entry.bookingReferences.join(' '),
        })),
        ['refundKey', 'status', 'amount', 'stripeRefundId', 'failureCode', 'requestedBy', 'bookings', 'updatedAt'],
      );
    }
    out('');
    if (audit.length === 0) out('No audit entries.');
    else printAuditTrail({ out, printTable }, audit);
  },
});

const list = defineCommand({
  name: 'payments list',
  summary: 'payment records, latest change first: those set aside, with a refund Stripe has not answered, or of a status',
  flags: {
    'set-aside': { type: 'boolean', description: 'only payments set aside and refunded (no trip of ours, or not matching it: the PaymentsSetAside alarm)' },
    'refund-due': { type: 'boolean', description: 'only payments with a refund stored and not answered by Stripe yet (the OverdueRefunds alarm)' },
    status: { type: 'string', value: 'STATUS', description: `only payments of this status: ${PAYMENT_STATUSES.join(', ')}` },
    since: { type: 'string', value: 'DATE', description: 'only payments changed from then: YYYY-MM-DD (midnight UTC) or a UTC time (2026-11-20T09:30:00Z)' },
  },
  async run({ store, json, out, err, print }, { flags }) {
    const status = flags.status;
    if (status !== undefined && !(PAYMENT_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status must be one of ${PAYMENT_STATUSES.join(', ')}, got "${status}"`);
    }
    const since = flags.since === undefined ? undefined : instantOf(flags.since, '--since');
    const unusable: string[] = [];
    const records = (await store.listAllPaymentRecords((problem) => unusable.push(`unusable payment ${problem.entityId}: ${problem.message}`)))
      .filter((record) => !flags['set-aside'] || record.setAside)
      .filter((record) => !flags['refund-due'] || record.refunds.some((entry) => entry.status === 'requested'))
      .filter((record) => status === undefined || record.status === status)
      .filter((record) => since === undefined || Date.parse(record.updatedAt) >= since)
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    for (const line of unusable) err(line);
    if (!json && records.length === 0) out('No payment matches.');
    else {
      const rows = records.map((record) => {
        const due = record.refunds.filter((entry) => entry.status === 'requested');
        return {
          updatedAt: record.updatedAt,
          paymentId: record.paymentId,
          status: record.status,
          tripId: record.tripId,
          setAside: record.setAside ? 'yes' : '',
          reason: record.reason,
          paid: money(record.amountPaid, record.currency),
          refunded: money(record.amountRefunded, record.currency),
          // The oldest refund Stripe has not answered: `payments retry-refund` asks now, the sweep every run.
          dueSince: due.map((entry) => entry.requestedAt).sort()[0],
        };
      });
      print(records, rows, ['updatedAt', 'paymentId', 'status', 'tripId', 'setAside', 'reason', 'paid', 'refunded', 'dueSince']);
    }
    return unusable.length > 0 ? 1 : 0;
  },
});

const retry = defineCommand({
  name: 'payments retry-refund',
  target: { synopsis: 'PAYMENT_ID', needs: 'a payment id' },
  summary: 'ask Stripe again (refunds still requested, or refused/failed ones)',
  flags: {},
  async run(context, { target: paymentId }) {
    if (!context.canRefund)
      throw new UsageError('payments retry-refund needs STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in), or a running `npm start` for its stand-in');
    const refusal = (await stripeModeRefusal(context)) ?? (await accountRefusal(context, [paymentId], 'the payment'));
    if (refusal) return refusal;
    const result = await retryRefund({ ...context.deps, gateway: context.gateway }, paymentId, context.actor);
    if (!result.ok) return context.refused(result);
    const asked = new Set(result.asked.map((entry) => entry.refundKey));
    const rows = result.record.refunds
      .filter((entry) => asked.has(entry.refundKey))
      .map((entry) => ({ refundKey: entry.refundKey, refund: refundLine(entry, result.record.currency) }));
    context.print(result, rows, ['refundKey', 'refund']);
    context.out(`payment ${paymentId} is now ${result.record.status}`);
    return result.record.status === 'needs_attention' ? 1 : 0;
  },
});

/**
 * One payment of `payments resume-refunds`, told by what became of the refunds it found `requested`: `answered` (each
 * made or on its way), `needs_attention` (one refused or failed for good: in front of a person), `still_due` (one still
 * unanswered: Stripe or DynamoDB could not answer for now), `answered_before` (none was requested any more when it read
 * the payment: nothing asked), `failed` (anything else; still due).
 */
function resumedRow(resumed: ResumedRefund) {
  if (resumed.status === 'unavailable' || resumed.status === 'failed') {
    return {
      paymentId: resumed.paymentId,
      result: resumed.status === 'unavailable' ? 'still_due' : 'failed',
      dueSince: resumed.requestedAt,
      error: resumed.error instanceof Error ? resumed.error.message : String(resumed.error),
    };
  }
  const { record, requested } = resumed;
  if (record === undefined || requested.length === 0) {
    const paymentId = resumed.status === 'answered' ? resumed.record.paymentId : resumed.paymentId;
    return { paymentId, result: 'answered_before', ...(record && { status: record.status, refunded: money(record.amountRefunded, record.currency) }) };
  }
  // Only the refunds it found requested: a payment already in front of a person for an earlier refund is not this run's.
  const found = record.refunds.filter((entry) => requested.includes(entry.refundKey));
  // Not made: refused or failed for good, and nobody has asked again or closed it since; or given up as priced in
  // another currency than the charge (never asked, a person refunds what is owed).
  const notMade = found.some((entry) => isOpenFailure(entry) || (entry.status === 'superseded' && entry.failureCode === SHARE_IN_ANOTHER_CURRENCY));
  const result = notMade ? 'needs_attention' : found.some((entry) => entry.status === 'requested') ? 'still_due' : 'answered';
  return { paymentId: record.paymentId, result, status: record.status, refunded: money(record.amountRefunded, record.currency) };
}

/** How many of the oldest payments due are looked up first: an account that holds none of them is not this table's. */
const ACCOUNT_SAMPLE = 3;

const resumeDue = defineCommand({
  name: 'payments resume-refunds',
  summary: 'ask Stripe now for every refund it has not answered, oldest first, as the sweep does every run (its turn left alone)',
  flags: {
    limit: { type: 'string', value: 'N', description: `payments asked for at most, oldest first, 1 to ${DUE_LIST_LIMIT} (default ${DUE_LIST_LIMIT})` },
  },
  async run(context, { flags }) {
    const limit = flags.limit === undefined ? DUE_LIST_LIMIT : wholeNumber(flags.limit, '--limit');
    if (limit < 1 || limit > DUE_LIST_LIMIT) throw new UsageError(`--limit must be from 1 to ${DUE_LIST_LIMIT}, got ${flags.limit}`);
    if (!context.canRefund)
      throw new UsageError(
        'payments resume-refunds needs STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in), or a running `npm start` for its stand-in',
      );
    const refusal = await stripeModeRefusal(context);
    if (refusal) return refusal;
    const oldest = (await context.store.listRefundsDue(DUE_LIST_LIMIT))
      .map((entry) => entry.paymentId)
      .filter((paymentId) => context.gateway.refundable(paymentId));
    const sample = oldest.slice(0, ACCOUNT_SAMPLE);
    const account = await accountRefusal(context, sample, 'the oldest payments with a refund due');
    if (account !== undefined) return account;
    // Every refund still requested, however young: the operator asks now, and asking beside the call that stored one is
    // safe (its key, the record's version). No sweep named, so the sweep's place in the list is neither read nor moved.
    // The account found holding one of the sample is the table's; none was due to look up, the gateway looks it up before
    // its first ask (a payment that came due since).
    const gateway = accountChecked(context.gateway, { confirmed: sample.length > 0 });
    const result = await resumeRequestedRefunds({ ...context.deps, gateway }, { olderThanMs: 0, limit });
    if (result.payments.length === 0) {
      context.printEmpty([], 'No payment has a refund Stripe has not answered.');
      return 0;
    }
    const rows = result.payments.map(resumedRow);
    context.print(rows, rows, ['paymentId', 'result', 'status', 'refunded', 'dueSince', 'error']);
    const count = (result: string): number => rows.filter((row) => row.result === result).length;
    if (!context.json) {
      context.out(
        `${rows.length} payments with refunds due: ${count('answered')} answered, ${count('answered_before')} answered before this run, ` +
          `${count('needs_attention')} not made (in front of a person), ${count('still_due')} still due, ${count('failed')} failed.`,
      );
    }
    let code = 0;
    const unavailable = result.payments.flatMap((resumed) => (resumed.status === 'unavailable' ? [resumed.error] : []));
    const keyRejected = unavailable.find((error) => error instanceof PaymentGatewayUnavailableError && error.credentialsRejected);
    const notHeld = unavailable.filter((error) => error instanceof AccountMismatchError).map((error) => error.paymentId);
    const stillDue = rows.filter((row) => row.result === 'still_due' || row.result === 'failed').map((row) => row.paymentId);
    if (notHeld.length > 0) {
      context.err(
        `error: ACCOUNT_MISMATCH: the Stripe account of STRIPE_API_KEY holds none of ${notHeld.join(', ')}: is it a key of this deployment's account? ` +
          'nothing was asked of them, and they stay due for the reconciliation sweep',
      );
      code = 1;
    } else if (keyRejected instanceof PaymentGatewayUnavailableError) {
      context.err(`error: STRIPE_KEY_REJECTED: ${keyRejected.message}; ${FIX_THE_STRIPE_KEY}, then run the same command again`);
      code = 1;
    } else if (stillDue.length > 0) {
      context.err(
        `error: REFUNDS_DUE: the refunds of ${stillDue.join(', ')} are still due: the reconciliation sweep asks again every run; ` +
          'run the same command again to ask now',
      );
      code = 1;
    }
    const refused = rows.filter((row) => row.result === 'needs_attention').map((row) => row.paymentId);
    if (refused.length > 0) {
      context.err(
        `warning: a refund of ${refused.join(', ')} was not made (refused for good, or priced in another currency than the charge): each needs a person (attention list)`,
      );
      code = 1;
    }
    // Answered by another call between the list and the read, and in front of a person now (that call's refusal, say):
    // nothing of this run's, but not a payment to leave as done either.
    const waiting = rows.filter((row) => row.result === 'answered_before' && 'status' in row && row.status === 'needs_attention').map((row) => row.paymentId);
    if (waiting.length > 0) {
      context.err(`warning: ${waiting.join(', ')}, answered before this run, needs a person (attention list)`);
      code = 1;
    }
    // More than the limit were due, or the list (read DUE_LIST_LIMIT at a time) was full: more may be behind it.
    if (result.more || rows.length >= DUE_LIST_LIMIT) {
      context.err(`warning: ${rows.length} payments were asked for, and more may be due: run it again`);
      code = 1;
    }
    return code;
  },
});

const resolve = defineCommand({
  name: 'payments resolve',
  target: { synopsis: 'PAYMENT_ID', needs: 'a payment id' },
  summary: 'close a payment that needs attention, audited',
  flags: { note: NOTE_FLAG },
  async run(context, { target: paymentId, flags: { note } }) {
    const result = await resolvePayment(context.deps, paymentId, note, context.actor);
    if (!result.ok) return context.refused(result);
    context.print(result.record, [{ paymentId, status: result.record.status, note }], ['paymentId', 'status', 'note']);
    const seatsLeft = seatsLeftHeld(context, result.seatsLeftHeld);
    const stillNeeded = stillNeedsAttention(context, result.record);
    return seatsLeft || stillNeeded;
  },
});

/** The resolution ended a trip whose checkout's seats could not be given back with it: said on stderr, with why, exit 1. */
export function seatsLeftHeld(context: Pick<OpsContext, 'err'>, left: SeatsLeftHeld | undefined): 0 | 1 {
  if (!left) return 0;
  context.err(
    `warning: trip ${left.tripId} ended, but the seats its checkout holds could not be given back (${left.problem}): ` +
      'its hold stays held; look at its slots (`holds list`, `slots list`): the hold sweeper gives them back once they read again.',
  );
  return 1;
}

/**
 * Exit 0 once the payment is resolved. A reason or a failed refund that came while it was being resolved was left open:
 * said on stderr, exit 1, as a retry that leaves the payment in front of a person.
 */
export function stillNeedsAttention(context: Pick<OpsContext, 'err'>, record: PaymentRecord): 0 | 1 {
  if (record.status !== 'needs_attention' || !record.attention) return 0;
  context.err(
    `warning: payment ${record.paymentId} still needs attention for what came while it was being resolved: ` +
      `${attentionReasons(record.attention)}; what was there before is closed. Look again (payments show ${record.paymentId}).`,
  );
  return 1;
}

export const paymentCommands: readonly OpsCommand[] = [list, show, retry, resumeDue, resolve];
