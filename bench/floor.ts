// The floor: what a confirmation must leave in the table, written as one bare TransactWriteItems: the same items and index
// keys, built by the same item builders, under the fewest conditions that keep it correct; no handler, verification of the
// trip against the payment, request token, read or log.
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomIds } from '../lambdas/shared/domain/collaborators';
import { guestsPerSlot, type Trip } from '../lambdas/shared/domain/model';
import { confirmedBookingMetadata } from '../lambdas/shared/domain/confirm-trip';
import { newPaymentRecord } from '../lambdas/shared/domain/payment-ledger';
import { GLOBAL_INDEXES } from '../lambdas/shared/dynamodb/table-definition';
import { auditItem, bookingItem, keys, paymentRecordItem, processedEventItem } from '../lambdas/shared/dynamodb/items';

const BY_PARENT = GLOBAL_INDEXES.byParent;
const BY_PAYMENT = GLOBAL_INDEXES.bySlotOrPayment;

let paymentSequence = 0;

/** True when the seats were taken; false when the transaction was cancelled (sold out, blocked, or already paid). */
export async function bareTransaction(documentClient: DynamoDBDocumentClient, tableName: string, trip: Trip): Promise<boolean> {
  const at = new Date().toISOString();
  const paymentId = `pi_floor${paymentSequence++}`;
  const guestsBySlot = guestsPerSlot(trip.items);
  const bookings = trip.items.map((item, index) => ({
    ...item,
    bookingId: randomIds.uuid(),
    reference: randomIds.reference(),
    tripId: trip.tripId,
    userId: trip.userId,
    paymentId,
    status: 'confirmed' as const,
    createdAt: at,
    amount: trip.itemAmounts?.[index] ?? 0,
    currency: trip.currency,
  }));
  const references = bookings.map((booking) => booking.reference);
  try {
    await documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          ...[...guestsBySlot].map(([slotId, guests]) => ({
            Update: {
              TableName: tableName,
              Key: keys.slot(slotId),
              UpdateExpression: 'SET availableCount = availableCount - :n, updatedAt = :at',
              ConditionExpression: 'attribute_exists(pk) AND isBlocked <> :t AND availableCount >= :n',
              ExpressionAttributeValues: { ':n': guests, ':t': true, ':at': at },
            },
          })),
          ...bookings.map((booking) => ({ Put: { TableName: tableName, Item: bookingItem(booking), ConditionExpression: 'attribute_not_exists(pk)' } })),
          ...bookings.map((booking) => ({
            Put: {
              TableName: tableName,
              Item: auditItem({
                auditId: randomIds.uuid(),
                eventType: 'booking.confirmed',
                entityType: 'booking',
                entityId: booking.reference,
                actorType: 'system',
                occurredAt: at,
                metadata: confirmedBookingMetadata(booking),
              }),
            },
          })),
          {
            Update: {
              TableName: tableName,
              Key: keys.trip(trip.tripId),
              // The trip is found from its payment (gsi2) once booked, and names its bookings.
              UpdateExpression: `SET #s = :booked, paymentId = :p, bookingReferences = :refs, updatedAt = :at, ${BY_PAYMENT.partitionKey} = :ppk, ${BY_PAYMENT.sortKey} = :psk`,
              ConditionExpression: '#s = :pending',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: {
                ':booked': 'booked',
                ':pending': 'pending_payment',
                ':p': paymentId,
                ':refs': references,
                ':at': at,
                ':ppk': keys.tripOfPayment(paymentId).partition,
                ':psk': keys.tripOfPayment(paymentId).sort,
              },
            },
          },
          // A trip its checkout held also consumes its hold, as the handler's transaction does.
          ...(trip.holdExpiresAt === undefined
            ? []
            : [
                {
                  Update: {
                    TableName: tableName,
                    Key: keys.hold(trip.tripId),
                    // A consumed hold leaves the index of holds the sweeper reads.
                    UpdateExpression: `SET #s = :consumed, updatedAt = :at REMOVE ${BY_PARENT.partitionKey}, ${BY_PARENT.sortKey}`,
                    ConditionExpression: '#s = :held',
                    ExpressionAttributeNames: { '#s': 'status' },
                    ExpressionAttributeValues: { ':consumed': 'consumed', ':held': 'held', ':at': at },
                  },
                },
              ]),
          // Every confirmation claims its payment with the payment's record.
          {
            Put: {
              TableName: tableName,
              Item: paymentRecordItem(
                newPaymentRecord(
                  {
                    paymentId,
                    status: 'booked',
                    setAside: false,
                    amountPaid: trip.amount,
                    currency: trip.currency,
                    tripId: trip.tripId,
                    ...(trip.checkoutSessionId !== undefined && { sessionId: trip.checkoutSessionId }),
                  },
                  at,
                ),
              ),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: tableName,
              Item: processedEventItem({
                eventId: `evt_${paymentId}`,
                eventType: 'checkout.session.completed',
                outcome: 'booked',
                tripId: trip.tripId,
                references,
                processedAt: at,
                expiresAt: Math.floor(Date.now() / 1000) + 35 * 86_400,
              }),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'TransactionCanceledException') return false;
    throw error;
  }
}
