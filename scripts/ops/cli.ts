// The operator CLI (`npm run ops -- …`): slots, trips, bookings, audit and a consistency check, on DynamoDB Local or in AWS.
import { parseArgs } from 'node:util';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats, type PaymentRecord, type Slot } from '../../lambdas/shared/domain/model';
import { addSlot, checkConsistency, setSlotBlocked, setSlotCapacity } from '../../lambdas/shared/domain/operations';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking, checkPayments, resolvePayment, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { resolveUnusableEvent } from '../../lambdas/shared/domain/unusable-events';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';
import { createStripeClient, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { createPrinter, money, refundLine, truncate } from './printing';

export const USAGE = `Usage: npm run ops -- <command> [options]

  slots add --experience ID --date YYYY-MM-DD --time HH:MM --capacity N --price CENTS --currency eur [--id ID]
  slots list [--experience ID]
  slots block ID | slots unblock ID
  slots set-capacity ID N
  trips show TRIP_ID
  holds list                           seats held by checkouts waiting for their payment, soonest expiry first
  bookings list --trip ID | --slot ID | --user ID
  bookings show REFERENCE
  bookings cancel REFERENCE --reason TEXT [--no-refund]   seats back; the booking's share refunded once, ever
  payments show PAYMENT_ID             the payment record, its refunds and audit trail
  payments retry-refund PAYMENT_ID     ask Stripe again (refunds still requested, or refused/failed ones)
  payments resolve PAYMENT_ID --note TEXT   close a payment that needs attention (audited)
  attention list                       payments and unusable events that need a person, oldest first
  attention resolve ID --note TEXT     close one (a payment id, or an evt_ id), audited
  audit list --entity TYPE:ID          (TYPE: booking, trip, slot, payment, event)
  check                                capacity = available + confirmed guests for every slot; refunds add up for every payment

Options: --endpoint URL (DynamoDB Local; default http://127.0.0.1:$DYNAMODB_PORT or :8000)
         --region REGION (AWS, with your credentials) --table NAME (default $TABLE_NAME or ${DEFAULT_LOCAL_TABLE_NAME})
         --json (machine-readable output) --actor NAME (recorded in the audit trail)
Refunds (bookings cancel, payments retry-refund) use STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in).`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** For tests: a gateway instead of one built from STRIPE_API_KEY. */
  readonly gateway?: PaymentGateway;
}

class UsageError extends Error {}

const OPTIONS = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
  table: { type: 'string' },
  json: { type: 'boolean', default: false },
  actor: { type: 'string' },
  experience: { type: 'string' },
  date: { type: 'string' },
  time: { type: 'string' },
  capacity: { type: 'string' },
  price: { type: 'string' },
  currency: { type: 'string' },
  id: { type: 'string' },
  trip: { type: 'string' },
  slot: { type: 'string' },
  user: { type: 'string' },
  reason: { type: 'string' },
  'no-refund': { type: 'boolean', default: false },
  entity: { type: 'string' },
  note: { type: 'string' },
} as const;

/** parseArgs reads `-3` as an option; a negative number is a value here (and then refused with a clear message). */
const NEGATIVE = '\u0000';
const protectNegatives = (argv: string[]): string[] => argv.map((arg) => (/^-\d+$/.test(arg) ? `${NEGATIVE}${arg}` : arg));
const restoreNegative = (value: string): string => (value.startsWith(NEGATIVE) ? value.slice(1) : value);

function wholeNumber(value: string | undefined, name: string): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

/** Runs one command; resolves to the process exit code (0 done, 1 refused or drift found, 2 bad usage). */
export async function runOps(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: protectNegatives(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    io.err('Run `npm run ops -- help` for the commands.');
    return 2;
  }
  const options = Object.fromEntries(
    Object.entries(parsed.values).map(([key, value]) => [key, typeof value === 'string' ? restoreNegative(value) : value]),
  ) as typeof parsed.values;
  const positionals = parsed.positionals.map(restoreNegative);
  const [noun, verb, ...rest] = positionals;
  if (!noun || noun === 'help') {
    io.out(USAGE);
    return noun ? 0 : 2;
  }
  const endpoint = options.endpoint ?? io.env.DYNAMODB_ENDPOINT ?? (options.region ? undefined : `http://127.0.0.1:${io.env.DYNAMODB_PORT || 8000}`);
  const store = new DynamoDbBookingStore({
    client: createDocumentClient({ ...(endpoint && { endpoint }), ...(options.region && { region: options.region }) }),
    tableName: options.table ?? io.env.TABLE_NAME ?? DEFAULT_LOCAL_TABLE_NAME,
  });
  const deps = { store, clock: systemClock, ids: randomIds };
  const actor = options.actor ?? io.env.USER ?? 'operator';
  const { print, printTable, printFields, refused } = createPrinter(io, options.json);
  const one = (what: string): string => {
    const value = rest[0];
    if (!value) throw new UsageError(`${noun} ${verb} needs ${what}`);
    return value;
  };
  const slotColumns = ['slotId', 'experienceId', 'date', 'time', 'capacity', 'availableCount', 'held', 'isBlocked', 'price'];
  const slotRow = (slot: Slot) => ({ ...slot, held: slot.availableCount - unheldSeats(slot), price: `${(slot.priceAmount / 100).toFixed(2)} ${slot.currency}` });
  const bookingColumns = ['reference', 'status', 'slotId', 'date', 'time', 'guestCount', 'tripId', 'userId'];

  try {
    switch (`${noun} ${verb ?? ''}`.trim()) {
      case 'slots add': {
        const result = await addSlot(
          deps,
          {
            ...(options.id && { slotId: options.id }),
            experienceId: options.experience,
            date: options.date,
            time: options.time,
            capacity: wholeNumber(options.capacity, 'capacity'),
            priceAmount: wholeNumber(options.price, 'price'),
            currency: options.currency,
          },
          actor,
        );
        if (!result.ok) return refused(result);
        print(result.slot, [slotRow(result.slot)], slotColumns);
        return 0;
      }
      case 'slots list': {
        const slots = options.experience
          ? await store.listSlotsOfExperience(options.experience)
          : await store.listAllSlots((problem) => io.err(`warning: ${problem.message}`));
        print(slots, slots.map(slotRow), slotColumns);
        return 0;
      }
      case 'slots block':
      case 'slots unblock': {
        const slotId = one('a slot id');
        const result = await setSlotBlocked(deps, slotId, verb === 'block', actor);
        if (!result.ok) return refused(result);
        print({ slotId, isBlocked: verb === 'block' }, [{ slotId, isBlocked: verb === 'block' }], ['slotId', 'isBlocked']);
        return 0;
      }
      case 'slots set-capacity': {
        const slotId = one('a slot id and a capacity');
        const capacityText = rest[1];
        if (capacityText === undefined || !/^-?\d+$/.test(capacityText)) throw new UsageError(`the capacity must be a whole number, got "${capacityText ?? ''}"`);
        if (Number(capacityText) < 0) throw new UsageError(`the capacity must not be negative, got ${capacityText}`);
        const result = await setSlotCapacity(deps, slotId, Number(capacityText), actor);
        if (!result.ok) return refused(result);
        print(result.slot, [slotRow(result.slot)], slotColumns);
        return 0;
      }
      case 'trips show': {
        const tripId = one('a trip id');
        const trip = await store.getTrip(tripId);
        if (!trip) return refused({ ok: false, errorCode: 'TRIP_NOT_FOUND', message: `Trip ${tripId} does not exist.`, retryable: false });
        const bookings = await store.listBookingsOfTrip(tripId);
        if (options.json) print({ trip, bookings });
        else {
          const { items, bookingReferences, itemAmounts: _amounts, ...fields } = trip;
          printFields([...Object.entries(fields), ['items', `${items.length}, bookings ${bookingReferences.length}`]]);
          printTable(bookings, bookingColumns);
        }
        return 0;
      }
      case 'bookings list': {
        const chosen = [options.trip, options.slot, options.user].filter(Boolean).length;
        if (chosen !== 1) throw new UsageError('bookings list needs exactly one of --trip, --slot or --user');
        const bookings = options.trip
          ? await store.listBookingsOfTrip(options.trip)
          : options.slot
            ? await store.listBookingsOfSlot(options.slot)
            : (await Promise.all((await store.listTripsOfUser(options.user as string)).map((trip) => store.listBookingsOfTrip(trip.tripId)))).flat();
        print(bookings, bookings, bookingColumns);
        return 0;
      }
      case 'bookings show': {
        const reference = one('a booking reference');
        const [booking] = await store.getBookings([reference]);
        if (!booking) return refused({ ok: false, errorCode: 'BOOKING_NOT_FOUND', message: `Booking ${reference} does not exist.`, retryable: false });
        if (options.json) print(booking);
        else printFields(Object.entries(booking));
        return 0;
      }
      case 'bookings cancel': {
        const reference = one('a booking reference');
        if (!options.reason) throw new UsageError('bookings cancel needs --reason (it is kept in the audit trail)');
        const refund = !options['no-refund'];
        const gateway = stripeGateway(io);
        const [booking] = await store.getBookings([reference]);
        if (refund && booking?.status === 'confirmed' && gateway.refundable(booking.paymentId) && booking.amount && !hasStripeKey(io)) {
          throw new UsageError('this booking was paid through Stripe: set STRIPE_API_KEY to refund it, or pass --no-refund');
        }
        const result = await cancelBooking({ ...deps, gateway }, { reference, reason: options.reason, actorId: actor, refund });
        if (!result.ok) return refused(result);
        const refundText = result.refund
          ? refundLine(result.refund, booking?.currency ?? '')
          : result.alreadyReleased
            ? 'none (released before, without a refund of its own)'
            : refund
              ? 'none (nothing paid through Stripe)'
              : 'none (--no-refund)';
        print(result, [{ reference, released: result.released.length > 0, alreadyReleased: result.alreadyReleased, refund: refundText, trip: result.tripStatus ?? '' }], ['reference', 'released', 'alreadyReleased', 'refund', 'trip']);
        return 0;
      }
      case 'payments show': {
        const paymentId = one('a payment id');
        const record = await store.getPaymentRecord(paymentId);
        if (!record) return refused({ ok: false, errorCode: 'PAYMENT_NOT_FOUND', message: `No payment ${paymentId} is recorded.`, retryable: false });
        const audit = await store.listAudit('payment', paymentId);
        if (options.json) print({ payment: record, audit });
        else {
          printFields(paymentFields(record));
          printTable(record.refunds.map((entry) => ({ ...entry, amount: money(entry.amount, record.currency), bookings: entry.bookingReferences.join(' ') })), ['refundKey', 'status', 'amount', 'stripeRefundId', 'failureCode', 'requestedBy', 'bookings', 'updatedAt']);
        }
        return 0;
      }
      case 'payments retry-refund': {
        const paymentId = one('a payment id');
        if (!hasStripeKey(io)) throw new UsageError('payments retry-refund needs STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in)');
        const result = await retryRefund({ ...deps, gateway: stripeGateway(io) }, paymentId, actor);
        if (!result.ok) return refused(result);
        const asked = new Set(result.asked.map((entry) => entry.refundKey));
        const rows = result.record.refunds.filter((entry) => asked.has(entry.refundKey)).map((entry) => ({ refundKey: entry.refundKey, refund: refundLine(entry, result.record.currency) }));
        print(result, rows, ['refundKey', 'refund']);
        io.out(`payment ${paymentId} is now ${result.record.status}`);
        return result.record.status === 'needs_attention' ? 1 : 0;
      }
      case 'payments resolve': {
        const paymentId = one('a payment id');
        if (!options.note) throw new UsageError('payments resolve needs --note (what was done about it; kept in the audit trail)');
        const result = await resolvePayment(deps, paymentId, options.note, actor);
        if (!result.ok) return refused(result);
        print(result.record, [{ paymentId, status: result.record.status, note: options.note }], ['paymentId', 'status', 'note']);
        return 0;
      }
      case 'holds list': {
        const holds = await store.listActiveHolds();
        const rows = holds.map((hold) => ({ expiresAt: hold.expiresAt, tripId: hold.tripId, seats: hold.seats.map(({ slotId, guests }) => `${slotId}:${guests}`).join(' ') }));
        if (!options.json && rows.length === 0) io.out('No seats are held.');
        else print(holds, rows, ['expiresAt', 'tripId', 'seats']);
        return 0;
      }
      case 'attention list': {
        const [payments, events] = await Promise.all([store.listPaymentsNeedingAttention(), store.listEventsNeedingAttention()]);
        const rows = [
          ...payments.map((record) => ({
            since: record.attention?.since ?? record.updatedAt,
            kind: 'payment',
            id: record.paymentId,
            tripId: record.tripId,
            reason: record.attention?.reason,
            code: record.attention?.code,
            paid: money(record.amountPaid, record.currency),
            refunded: money(record.amountRefunded, record.currency),
          })),
          ...events.map((event) => ({ since: event.receivedAt, kind: 'event', id: event.eventId, reason: `unusable ${event.eventType}`, code: truncate(event.problem, 60) })),
        ].sort((a, b) => a.since.localeCompare(b.since));
        if (!options.json && rows.length === 0) io.out('Nothing needs attention.');
        else print({ payments, events }, rows, ['since', 'kind', 'id', 'tripId', 'reason', 'code', 'paid', 'refunded']);
        return 0;
      }
      case 'attention resolve': {
        const id = one('a payment id or an event id');
        if (!options.note) throw new UsageError('attention resolve needs --note (what was done about it; kept in the audit trail)');
        // Payments and events share the attention list; the id says which, whatever its shape.
        const result = (await store.getPaymentRecord(id)) ? await resolvePayment(deps, id, options.note, actor) : await resolveUnusableEvent(deps, id, options.note, actor);
        if (!result.ok) return refused(result);
        print(result, [{ id, status: 'resolved', note: options.note }], ['id', 'status', 'note']);
        return 0;
      }
      case 'audit list': {
        const match = /^(booking|trip|slot|payment|event):(.+)$/.exec(options.entity ?? '');
        if (!match) throw new UsageError('audit list needs --entity TYPE:ID, TYPE one of booking, trip, slot, payment, event');
        const entries = await store.listAudit(match[1] as string, match[2] as string);
        print(entries, entries.map((entry) => ({ ...entry, metadata: JSON.stringify(entry.metadata) })), ['occurredAt', 'eventType', 'actorType', 'actorId', 'metadata']);
        return 0;
      }
      case 'check': {
        const slots = await checkConsistency(store);
        const payments = await checkPayments(store);
        if (options.json) print({ ...slots, payments: payments.payments, paymentProblems: payments.problems });
        else {
          for (const item of slots.unusable) io.err(`unusable ${item.entity} ${item.id}: ${item.problem}`);
          if (slots.drifted.length === 0) io.out(`${slots.slots} slots checked: capacity = available + confirmed guests, and available − held = unheld ≥ 0, everywhere.`);
          else {
            printTable([...slots.drifted], ['slotId', 'experienceId', 'capacity', 'availableCount', 'confirmedGuests', 'drift', 'unheldCount', 'heldGuests', 'holdDrift']);
            io.err(`${slots.drifted.length} of ${slots.slots} slots drifted.`);
          }
          if (payments.problems.length === 0) io.out(`${payments.payments} payments checked: refunds add up everywhere.`);
          else {
            printTable(payments.problems, ['paymentId', 'tripId', 'problem']);
            io.err(`${payments.problems.length} payment problems found.`);
          }
        }
        return slots.drifted.length === 0 && slots.unusable.length === 0 && payments.problems.length === 0 ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof PaymentGatewayUnavailableError) {
      io.err(`error: STRIPE_UNAVAILABLE: ${error.message}; what was decided is stored as requested: run the same command again, or payments retry-refund`);
      return 1;
    }
    const name = (error as { name?: string }).name;
    io.err(`error: ${name === 'StoreUnavailableError' || name === 'ResourceNotFoundException' ? `cannot use the table (${(error as Error).message}); check --endpoint, --region and --table` : (error as Error).message}`);
    return 1;
  } finally {
    store.destroy();
  }
}

function hasStripeKey(io: CliIo): boolean {
  return io.gateway !== undefined || Boolean(io.env.STRIPE_API_KEY);
}

/** Stripe's refund API through STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in); a test's gateway when given. */
function stripeGateway(io: CliIo): PaymentGateway {
  if (io.gateway) return io.gateway;
  return new StripePaymentGateway(async () => {
    if (!io.env.STRIPE_API_KEY) throw new UsageError('set STRIPE_API_KEY to talk to Stripe');
    return createStripeClient({ apiKey: io.env.STRIPE_API_KEY, ...(io.env.STRIPE_API_BASE && { apiBase: io.env.STRIPE_API_BASE }) });
  });
}

/** The payment record's fields worth reading, absent ones left out. */
function paymentFields(record: PaymentRecord): [string, unknown][] {
  const fields: [string, unknown][] = [
    ['paymentId', record.paymentId],
    ['status', record.status],
    ['tripId', record.tripId],
    ['sessionId', record.sessionId],
    ['setAside', record.setAside],
    ['reason', record.reason],
    ['paid', money(record.amountPaid, record.currency)],
    ['refunded', money(record.amountRefunded, record.currency)],
    ['attention', record.attention && `${record.attention.reason}${record.attention.code ? ` (${record.attention.code})` : ''} since ${record.attention.since}`],
    ['updatedAt', record.updatedAt],
  ];
  return fields.filter(([, value]) => value !== undefined);
}
