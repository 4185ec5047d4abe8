// The floor: a confirmation's writes as one bare TransactWriteItems, without handler, verification, validation, read of the trip or logs.
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomIds } from '../lambdas/shared/domain/collaborators';
import { guestsPerSlot, type Trip } from '../lambdas/shared/domain/model';
import { auditItem, bookingItem, keys, processedEventItem } from '../lambdas/shared/dynamodb/items';

let paymentSequence = 0;

/** True when the seats were taken; false when the transaction was cancelled (sold out, blocked, or already paid). */
export async function bareTransaction(documentClient: DynamoDBDocumentClient, tableName: string, trip: Trip): Promise<boolean> {
  const at = new Date().toISOString();
  const paymentId = `pi_floor${paymentSequence++}`;
  const guestsBySlot = guestsPerSlot(trip.items);
  const bookings = trip.items.map((item) => ({
    ...item,
    bookingId: randomIds.uuid(),
    reference: randomIds.reference(),
    tripId: trip.tripId,
    userId: trip.userId,
    paymentId,
    status: 'confirmed' as const,
    createdAt: at,
  }));
  try {
    await documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          ...[...guestsBySlot].map(([slotId, guests]) => ({
            Update: {
              TableName: tableName,
              Key: keys.slot(slotId),
              UpdateExpression: 'SET availableCount = availableCount - :n',
              ConditionExpression: 'attribute_exists(pk) AND isBlocked <> :t AND availableCount >= :n',
              ExpressionAttributeValues: { ':n': guests, ':t': true },
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
                metadata: { paymentId },
              }),
            },
          })),
          {
            Update: {
              TableName: tableName,
              Key: keys.trip(trip.tripId),
              UpdateExpression: 'SET #s = :booked, paymentId = :p',
              ConditionExpression: '#s = :pending',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':booked': 'booked', ':pending': 'pending_payment', ':p': paymentId },
            },
          },
          // A trip its checkout held also consumes its hold and claims its payment, as the handler's transaction does.
          ...(trip.holdExpiresAt === undefined
            ? []
            : [
                {
                  Update: {
                    TableName: tableName,
                    Key: keys.hold(trip.tripId),
                    UpdateExpression: 'SET #s = :consumed',
                    ConditionExpression: '#s = :held',
                    ExpressionAttributeNames: { '#s': 'status' },
                    ExpressionAttributeValues: { ':consumed': 'consumed', ':held': 'held' },
                  },
                },
                {
                  Put: {
                    TableName: tableName,
                    Item: { ...keys.paymentRecord(paymentId), paymentId, status: 'booked', tripId: trip.tripId, amountPaid: trip.amount },
                    ConditionExpression: 'attribute_not_exists(pk)',
                  },
                },
              ]),
          {
            Put: {
              TableName: tableName,
              Item: processedEventItem({ eventId: `evt_${paymentId}`, eventType: 'floor', outcome: 'booked', references: [], processedAt: at, expiresAt: 0 }),
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
