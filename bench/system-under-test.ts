// What the benchmark runs against: DynamoDB Local with its table, the real webhook handler over it and the Stripe stand-in, plus slots and trips made in bulk.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { confirmedGuests, guestsPerSlot, type Slot, type Trip } from '../lambdas/shared/domain/model';
import { overwriteSlot } from '../scripts/dev-kit/overwrite-slot';
import { createDocumentClient } from '../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../lambdas/shared/dynamodb/dynamodb-booking-store';
import { holdItem, keys, tripItem } from '../lambdas/shared/dynamodb/items';
import type { StripeWebhookHandler } from '../lambdas/stripe-webhook/webhook-handler';
import { startDynamoDbLocalWithTable } from '../scripts/dev-kit/booking-table';
import { destroyDocumentClient } from '../scripts/dev-kit/document-client';
import { injectFaults, type FaultInjector } from '../scripts/dev-kit/faults';
import { createLocalWebhookHandler } from '../scripts/dev-kit/local-webhook-handler';
import { checkoutSession, SIGNING_SECRET, signedRequest, stripeEvent } from '../scripts/dev-kit/stripe-events';
import { startStripeFake } from '../scripts/local/stripe-fake';
import { runPool } from './measurement';

export const BENCH_TABLE = 'bench';

export interface SlotState {
  readonly left: number | undefined;
  readonly bookings: number;
  readonly oversold: number;
}

export interface BenchSystem {
  /** DynamoDB Local's URL, for the cold-start probes' own clients. */
  readonly endpoint: string;
  /** The document client under the store, for the floor's bare transactions. */
  readonly client: DynamoDBDocumentClient;
  readonly store: DynamoDbBookingStore;
  readonly handler: StripeWebhookHandler;
  /** Counts DynamoDB requests per command (no faults are ever queued). */
  readonly requests: FaultInjector;
  /** Retries the store has made; a workload resets it before it starts. */
  readonly retries: { count: number };
  newSlot(capacity: number): Promise<Slot>;
  /**
   * Pending trips. `opened`: as the front door leaves them, with a Checkout Session recorded and their seats held
   * (their payment then confirms in one request); otherwise as createTrip stores them, with neither.
   */
  newTrips(count: number, itemsOf: (index: number) => { slot: Slot; guests: number }[], opened?: boolean): Promise<Trip[]>;
  /** Through the handler: a signed checkout.session.completed in an API Gateway v2 event; resolves to its outcome. */
  deliver(trip: Trip): Promise<string>;
  slotState(slot: Slot): Promise<SlotState>;
  stop(): Promise<void>;
}

export async function startBenchSystem(): Promise<BenchSystem> {
  const dynamo = await startDynamoDbLocalWithTable(BENCH_TABLE);
  const client = createDocumentClient({ endpoint: dynamo.endpoint });
  const requests = injectFaults(client);
  const retries = { count: 0 };
  const store = new DynamoDbBookingStore({ client, tableName: BENCH_TABLE, retryObserver: { onRetry: () => void retries.count++ } });
  const fake = await startStripeFake({ acceptUnknownPaymentIntents: true });
  const handler: StripeWebhookHandler = createLocalWebhookHandler({
    table: BENCH_TABLE,
    store,
    stripeClient: () => fake.client(),
    signingSecrets: async () => [SIGNING_SECRET],
    mode: 'test',
    logger: new Logger({ serviceName: 'bench', logLevel: 'INFO' }),
    metrics: new Metrics({ namespace: 'bench', serviceName: 'bench' }),
  });

  let slotSequence = 0;
  async function newSlot(capacity: number): Promise<Slot> {
    const slot: Slot = {
      slotId: `bench-slot-${slotSequence++}`,
      experienceId: 'bench-experience',
      date: '2027-01-01',
      time: '10:00',
      capacity,
      availableCount: capacity,
      isBlocked: false,
      priceAmount: 1_000,
      currency: 'eur',
      updatedAt: new Date().toISOString(),
    };
    await overwriteSlot(client, BENCH_TABLE, slot);
    return slot;
  }

  let tripSequence = 0;
  /**
   * Trips written 25 to a batch, with their holds and the held seats taken off the slots' unheld counts: setting up
   * thousands of trips is not what is measured, and one use-case call each would take longer than the workloads.
   */
  async function newTrips(count: number, itemsOf: (index: number) => { slot: Slot; guests: number }[], opened = false): Promise<Trip[]> {
    const now = new Date().toISOString();
    const holdExpiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const trips: Trip[] = Array.from({ length: count }, (_, index) => {
      const parts = itemsOf(index);
      const itemAmounts = parts.map(({ slot, guests }) => slot.priceAmount * guests);
      const tripId = `bench-trip-${tripSequence++}`;
      return {
        tripId,
        userId: `bench-user-${index}`,
        items: parts.map(({ slot, guests }) => ({
          experienceId: slot.experienceId,
          slotId: slot.slotId,
          guestCount: guests,
          date: slot.date,
          time: slot.time,
        })),
        amount: itemAmounts.reduce((a, b) => a + b, 0),
        itemAmounts,
        currency: 'eur',
        status: 'pending_payment',
        bookingReferences: [],
        ...(opened && { checkoutSessionId: `cs_bench_${tripId.replace(/-/g, '_')}`, holdExpiresAt }),
        createdAt: now,
        updatedAt: now,
      };
    });
    const items = trips.flatMap((trip) => {
      if (trip.holdExpiresAt === undefined) return [tripItem(trip)];
      const seats = [...guestsPerSlot(trip.items)].map(([slotId, guests]) => ({ slotId, guests }));
      return [tripItem(trip), holdItem({ tripId: trip.tripId, seats, expiresAt: trip.holdExpiresAt, status: 'held', createdAt: now, updatedAt: now })];
    });
    const batches = Array.from({ length: Math.ceil(items.length / 25) }, (_, i) => items.slice(i * 25, i * 25 + 25));
    await runPool(batches, 8, async (batch) => {
      let pending: Record<string, unknown>[] = batch.map((item) => ({ PutRequest: { Item: item } }));
      while (pending.length > 0) {
        const result = await client.send(new BatchWriteCommand({ RequestItems: { [BENCH_TABLE]: pending as never } }));
        pending = (result.UnprocessedItems?.[BENCH_TABLE] ?? []) as Record<string, unknown>[];
      }
    });
    for (const trip of trips) preparedRequests.set(trip.tripId, requestFor(trip));
    if (opened) {
      // What the holds took: no longer for sale to anyone else, still available to their own trips.
      const held = guestsPerSlot(trips.flatMap((trip) => trip.items));
      await runPool([...held], 8, async ([slotId, guests]) => {
        await client.send(
          new UpdateCommand({
            TableName: BENCH_TABLE,
            Key: keys.slot(slotId),
            UpdateExpression: 'SET unheldCount = if_not_exists(unheldCount, availableCount) - :held',
            ExpressionAttributeValues: { ':held': guests },
          }),
        );
      });
    }
    return trips;
  }

  let paymentSequence = 0;
  /** Stripe's signed POST of a trip's paid session, as API Gateway hands it over. */
  const requestFor = (trip: Trip) =>
    signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: `pi_bench${paymentSequence++}` })));
  // Made with the trips, before the timed part, as the floor's trips are: making and signing the event is Stripe's work.
  const preparedRequests = new Map<string, ReturnType<typeof requestFor>>();

  async function deliver(trip: Trip): Promise<string> {
    const request = preparedRequests.get(trip.tripId) ?? requestFor(trip);
    preparedRequests.delete(trip.tripId);
    const response = await handler(request);
    if (response.statusCode !== 200) throw new Error(`webhook answered ${response.statusCode}`);
    return (JSON.parse(response.body ?? '{}') as { outcome: string }).outcome;
  }

  async function slotState(slot: Slot): Promise<SlotState> {
    const now = (await store.getSlots([slot.slotId])).get(slot.slotId);
    const bookings = await store.listBookingsOfSlot(slot.slotId);
    const confirmed = bookings.filter((booking) => booking.status === 'confirmed').length;
    return { left: now?.availableCount, bookings: confirmed, oversold: Math.max(0, confirmedGuests(bookings) - slot.capacity) };
  }

  return {
    endpoint: dynamo.endpoint,
    client,
    store,
    handler,
    requests,
    retries,
    newSlot,
    newTrips,
    deliver,
    slotState,
    stop: async () => {
      await fake.close();
      destroyDocumentClient(client);
      await dynamo.stop();
    },
  };
}
