// Pure builders of the transaction's items: every condition a named guard, every refusal tagged with its meaning.
import { randomUUID } from 'node:crypto';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type {
  AtomicWrite,
  BookingCancellation,
  BookingShareChange,
  PaymentRecordWrite,
  SeatChange,
  SlotSettingsChange,
  TripTransition,
} from '../domain/booking-store';
import {
  auditItem,
  bookingItem,
  holdItem,
  indexAttributes,
  keys,
  paymentRecordItem,
  processedEventItem,
  RETURN_CHECKED_AT,
  slotItem,
  tripItem,
  unusableEventItem,
} from './items';
import type { EarlyChargeTotal } from '../domain/model';
import { GLOBAL_INDEXES } from './table-definition';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Values = Record<string, unknown>;

/** DynamoDB's limit on one TransactWriteItems call. */
export const MAX_TRANSACTION_ITEMS = 100;

/**
 * Transaction items a confirmation of these items needs: per item one booking and one audit entry, one update
 * per distinct slot, then the trip, the processed-event record, the payment record and (for a trip checkout
 * held) its hold. The domain's MAX_TRIP_ITEMS must fit: a unit test holds the two together.
 */
export function countConfirmationWrites(items: readonly { slotId: string }[]): number {
  const distinctSlots = new Set(items.map((item) => item.slotId)).size;
  return distinctSlots + 2 * items.length + 4;
}

/**
 * The text fields of a stored trip that a confirmation built without reading it neither compares nor rewrites
 * (every other field of `stored-items.ts`'s trip is one or the other: a unit test holds the two together).
 */
export const TRIP_FIELDS_LEFT_AS_STORED = {
  required: ['tripId', 'createdAt'],
  optional: ['checkoutUrl', 'returnUrlsDigest', 'holdExpiresAt', 'statusReason', 'refundId'],
} as const;

/** Named guards; each line says what it protects. Joined with AND into one ConditionExpression. */
export const guard = {
  /** The item is there at all (an Update would otherwise create it). */
  exists: 'attribute_exists(pk)',
  /** Nothing with this key exists yet: a reference, an audit entry or an event is written once. */
  isNew: 'attribute_not_exists(pk)',
  /** The slot is the one the trip was priced for, not another experience's slot with the same id. */
  slotIsForExperience: 'experienceId = :experienceId',
  /** Operators can close a slot; a closed slot sells nothing. */
  slotNotBlocked: 'isBlocked <> :true',
  /** A block or an unblock changes the slot: of two at once, one writes (and is audited), the other finds it already so. */
  slotBlockChanges: 'isBlocked <> :blocked',
  /** The decrement never takes availability below zero: this is what stops overselling. */
  enoughSeats: 'availableCount >= :guests',
  /** Nor the seats neither booked nor held: what stops a hold, or an unheld confirmation, from taking a held seat. */
  enoughUnheldSeats: '(unheldCount >= :guests OR (attribute_not_exists(unheldCount) AND availableCount >= :guests))',
  /** A release is computed against the capacity it read; a concurrent capacity change makes it re-read. */
  capacityUnchanged: '#capacity = :capacity',
  /** After the release availability is still at most capacity. */
  roomToGiveBack: 'availableCount <= :ceiling',
  /** A capacity cut removes only free seats, never sold or held ones. */
  seatsLeftToRemove: '(unheldCount >= :mustBeFree OR (attribute_not_exists(unheldCount) AND availableCount >= :mustBeFree))',
  /** A hold is consumed or released once, by whoever finds it still held. */
  holdIsHeld: '#status = :held',
  /** The sweeper releases a hold only once it has run out: a retry may have held it on since the sweeper found it. */
  holdRanOutBy: 'expiresAt <= :expiredBy',
  /** A hold is renewed from the expiry its renewer read: of two renewals at once, one. */
  holdExpiresAt: 'expiresAt = :from',
  /** Only a confirmed booking can be cancelled, so seats come back once. */
  bookingConfirmed: '#status = :confirmed',
  /** A booking's share is changed, or its cancellation's refund decided, from the figure read: of the two at once, one decides. */
  shareAsRead: 'amount = :from',
  /** The trip belongs to the paying user. */
  tripOwnedBy: 'userId = :userId',
  /** The trip was opened for this Checkout Session (the one whose metadata described its items)… */
  tripSessionIs: 'checkoutSessionId = :checkoutSession',
  /** …priced at what the session charged before discounts, in its currency… */
  tripPriceIs: '#amount = :price AND #currency = :currency',
  /** …for exactly the items the session carried (lists compare whole, in order): nothing in its metadata is taken on trust… */
  tripItemsAre: '#items = :items AND itemAmounts = :itemAmounts',
  /** …and whose other fields still read as a trip's: a trip booked unread must not be one that no later path can read. */
  tripFieldsReadable: [
    ...TRIP_FIELDS_LEFT_AS_STORED.required.map((field) => `attribute_type(${field}, :text)`),
    ...TRIP_FIELDS_LEFT_AS_STORED.optional.map((field) => `(attribute_not_exists(${field}) OR attribute_type(${field}, :text))`),
  ].join(' AND '),
  /** The payment record is still the version this step read: no other path moved its money meanwhile. */
  recordVersionIs: '#version = :version',
  /** A record written before versions were kept, still as read. */
  recordUnversioned: 'attribute_not_exists(#version)',
  /** An unusable event is resolved once, by whoever read it waiting. */
  eventStatusIs: '#status = :status',
  /** The trip is in a state this change may move it from: what makes a second confirmation impossible. */
  tripStatusIn: (placeholders: readonly string[]): string => `#status IN (${placeholders.join(', ')})`,
  /** The trip has no payment page recorded, or only this one: a page answered is neither ended nor replaced. */
  noOtherSessionRecorded: '(attribute_not_exists(checkoutSessionId) OR checkoutSessionId = :onlySession)',
  /** The trip's hold still ends when the decision read it would: not held on by a retry meanwhile. */
  tripHeldUntil: 'holdExpiresAt = :heldUntil',
  /** The trip has no payment page recorded. */
  noSessionRecorded: 'attribute_not_exists(checkoutSessionId)',
  /** No early charge total is kept on the trip: a confirmation that did not read it starts its record knowing none. */
  noChargeRefundedEarly: 'attribute_not_exists(chargeRefundedEarly)',
  /** The trip's early charge total is the one read: a payment's first record starts with what the trip holds. */
  chargeRefundedEarlyIs: 'chargeRefundedEarly = :chargeRefundedEarly',
  /** No traveller's return asked Stripe about the trip since `:since`: of polls arriving together, one asks. */
  tripNotCheckedSince: `(attribute_not_exists(${RETURN_CHECKED_AT}) OR ${RETURN_CHECKED_AT} <= :since)`,
} as const;

export function allOf(...fragments: string[]): string {
  return fragments.join(' AND ');
}

/** One operation of the transaction and what its refusal means. */
export type TransactionPart =
  | { kind: 'seat'; change: SeatChange; item: TransactItem }
  | { kind: 'slot'; item: TransactItem }
  | { kind: 'new-booking'; reference: string; item: TransactItem }
  | { kind: 'cancellation'; reference: string; item: TransactItem }
  | { kind: 'share'; reference: string; item: TransactItem }
  | { kind: 'trip'; item: TransactItem }
  | { kind: 'event'; item: TransactItem }
  | { kind: 'payment-record'; item: TransactItem }
  | { kind: 'unusable-event'; item: TransactItem }
  | { kind: 'new-trip'; item: TransactItem }
  | { kind: 'hold'; item: TransactItem }
  | { kind: 'audit'; item: TransactItem };

/** Every part of `write` as a transaction item, tagged with what its refusal means. */
export function buildTransaction(table: string, write: AtomicWrite): TransactionPart[] {
  const at = write.at;
  const tagged: TransactionPart[] = [];
  if (write.newSlot) tagged.push({ kind: 'slot', item: putNewItem(table, slotItem(write.newSlot), true) });
  if (write.slotSettings) tagged.push({ kind: 'slot', item: slotSettingsItem(table, write.slotSettings, at) });
  for (const change of write.seatChanges ?? []) tagged.push({ kind: 'seat', change, item: seatChangeItem(table, change, at) });
  for (const booking of write.newBookings ?? []) {
    tagged.push({ kind: 'new-booking', reference: booking.reference, item: putNewItem(table, bookingItem(booking)) });
  }
  for (const cancellation of write.cancellations ?? []) {
    tagged.push({ kind: 'cancellation', reference: cancellation.reference, item: cancellationItem(table, cancellation, at) });
  }
  for (const change of write.shareChanges ?? []) tagged.push({ kind: 'share', reference: change.reference, item: shareChangeItem(table, change) });
  for (const audit of write.audits ?? []) tagged.push({ kind: 'audit', item: putNewItem(table, auditItem(audit)) });
  if (write.tripTransition) tagged.push({ kind: 'trip', item: tripTransitionItem(table, write.tripTransition, at) });
  if (write.paymentRecord) tagged.push({ kind: 'payment-record', item: paymentRecordPutItem(table, write.paymentRecord) });
  if (write.unusableEvent) tagged.push({ kind: 'unusable-event', item: unusableEventPutItem(table, write.unusableEvent) });
  if (write.newTrip) tagged.push({ kind: 'new-trip', item: putNewItem(table, tripItem(write.newTrip)) });
  if (write.newHold) tagged.push({ kind: 'hold', item: putNewItem(table, holdItem(write.newHold), true) });
  if (write.holdTransition) tagged.push({ kind: 'hold', item: holdTransitionItem(table, write.holdTransition, at) });
  if (write.holdRenewal) tagged.push({ kind: 'hold', item: holdRenewalItem(table, write.holdRenewal, at) });
  if (write.processedEvent) tagged.push({ kind: 'event', item: putNewItem(table, processedEventItem(write.processedEvent)) });
  if (write.chargeRefundedEarly) tagged.push({ kind: 'trip', item: chargeRefundedEarlyItem(table, write.chargeRefundedEarly, at) });
  if (write.tripChargeRefundedEarlyAsRead) tagged.push({ kind: 'trip', item: tripEarlyTotalCheckItem(table, write.tripChargeRefundedEarlyAsRead) });
  if (write.paymentRecordAbsent !== undefined) {
    tagged.push({
      kind: 'payment-record',
      item: {
        ConditionCheck: {
          TableName: table,
          Key: keys.paymentRecord(write.paymentRecordAbsent),
          ConditionExpression: guard.isNew,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    });
  }
  return tagged;
}

/** The guard that the trip's early charge total is `asRead` (`null`: none), its value added to `values`. */
function chargeRefundedEarlyAsRead(asRead: readonly EarlyChargeTotal[] | null, values: Values): string {
  if (asRead === null) return guard.noChargeRefundedEarly;
  values[':chargeRefundedEarly'] = asRead;
  return guard.chargeRefundedEarlyIs;
}

function chargeRefundedEarlyItem(table: string, write: NonNullable<AtomicWrite['chargeRefundedEarly']>, at: string): TransactItem {
  const values: Values = { ':kept': write.kept, ':at': at };
  return {
    Update: {
      TableName: table,
      Key: keys.trip(write.tripId),
      UpdateExpression: 'SET chargeRefundedEarly = :kept, updatedAt = :at',
      ConditionExpression: allOf(guard.exists, chargeRefundedEarlyAsRead(write.asRead, values)),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function tripEarlyTotalCheckItem(table: string, check: NonNullable<AtomicWrite['tripChargeRefundedEarlyAsRead']>): TransactItem {
  const values: Values = {};
  const condition = chargeRefundedEarlyAsRead(check.asRead, values);
  const ownOff = ownEntryOff(check.asRead, check.paymentId, values);
  // Its own partial refund has served, the record it was kept for being this write's: the others are set back.
  if (ownOff !== undefined) {
    return {
      Update: {
        TableName: table,
        Key: keys.trip(check.tripId),
        UpdateExpression: 'set' in ownOff ? `SET ${ownOff.set}` : `REMOVE ${ownOff.remove}`,
        ConditionExpression: allOf(guard.exists, condition),
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }
  return {
    ConditionCheck: {
      TableName: table,
      Key: keys.trip(check.tripId),
      ConditionExpression: condition,
      ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Slots stored before holds carry no unheldCount: for them it is availableCount. */
const UNHELD = 'if_not_exists(unheldCount, availableCount)';

function seatUpdate(table: string, slotId: string, update: string, conditions: string[], values: Values, names?: Record<string, string>): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.slot(slotId),
      UpdateExpression: update,
      ConditionExpression: allOf(...conditions),
      ...(names && { ExpressionAttributeNames: names }),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function seatChangeItem(table: string, change: SeatChange, at: string): TransactItem {
  switch (change.kind) {
    case 'take':
    case 'hold': {
      const conditions: string[] = [guard.exists, guard.slotNotBlocked];
      const values: Values = { ':guests': change.guests, ':true': true, ':at': at };
      if (change.experienceId !== undefined) {
        conditions.splice(1, 0, guard.slotIsForExperience);
        values[':experienceId'] = change.experienceId;
      }
      if (change.kind === 'hold') {
        conditions.push(guard.enoughUnheldSeats);
        return seatUpdate(table, change.slotId, `SET unheldCount = ${UNHELD} - :guests, updatedAt = :at`, conditions, values);
      }
      conditions.push(guard.enoughSeats);
      // Seats this trip held are in availableCount only; any other seats must also be neither booked nor held.
      if (change.held) return seatUpdate(table, change.slotId, 'SET availableCount = availableCount - :guests, updatedAt = :at', conditions, values);
      conditions.push(guard.enoughUnheldSeats);
      return seatUpdate(
        table,
        change.slotId,
        `SET availableCount = availableCount - :guests, unheldCount = ${UNHELD} - :guests, updatedAt = :at`,
        conditions,
        values,
      );
    }
    case 'unhold':
      // The hold's own transition (held → released, in the same transaction) is what makes this happen once.
      return seatUpdate(table, change.slotId, `SET unheldCount = ${UNHELD} + :guests, updatedAt = :at`, [guard.exists], {
        ':guests': change.guests,
        ':at': at,
      });
    case 'give':
      return seatUpdate(
        table,
        change.slotId,
        `SET availableCount = availableCount + :guests, unheldCount = ${UNHELD} + :guests, updatedAt = :at`,
        [guard.exists, guard.capacityUnchanged, guard.roomToGiveBack],
        { ':guests': change.guests, ':capacity': change.capacity, ':ceiling': change.capacity - change.guests, ':at': at },
        { '#capacity': 'capacity' }, // a reserved word in expressions
      );
  }
}

function slotSettingsItem(table: string, change: SlotSettingsChange, at: string): TransactItem {
  const names: Record<string, string> = {};
  const values: Values = { ':at': at };
  const sets = ['updatedAt = :at'];
  const conditions: string[] = [guard.exists];
  if (change.isBlocked !== undefined) {
    sets.push('isBlocked = :blocked');
    conditions.push(guard.slotBlockChanges);
    values[':blocked'] = change.isBlocked;
  }
  if (change.capacity) {
    const delta = change.capacity.to - change.capacity.from;
    names['#capacity'] = 'capacity';
    sets.push('#capacity = :to', 'availableCount = availableCount + :delta', `unheldCount = ${UNHELD} + :delta`);
    conditions.push(guard.capacityUnchanged, guard.seatsLeftToRemove);
    Object.assign(values, { ':capacity': change.capacity.from, ':to': change.capacity.to, ':delta': delta, ':mustBeFree': Math.max(0, -delta) });
  }
  return {
    Update: {
      TableName: table,
      Key: keys.slot(change.slotId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: allOf(...conditions),
      ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function putNewItem(table: string, item: Record<string, unknown>, returnOld = false): TransactItem {
  return {
    Put: {
      TableName: table,
      Item: item,
      ConditionExpression: guard.isNew,
      ...(returnOld && { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const }),
    },
  };
}

/** The whole record, new or replacing exactly the version read, so two paths about one payment never both write. */
function paymentRecordPutItem(table: string, write: PaymentRecordWrite): TransactItem {
  if (write.expectedVersion === undefined) return putNewItem(table, paymentRecordItem(write.record), true);
  const versioned = write.expectedVersion > 0;
  return {
    Put: {
      TableName: table,
      Item: paymentRecordItem(write.record),
      ConditionExpression: allOf(guard.exists, versioned ? guard.recordVersionIs : guard.recordUnversioned),
      ExpressionAttributeNames: { '#version': 'version' },
      ...(versioned && { ExpressionAttributeValues: { ':version': write.expectedVersion } }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function holdTransitionItem(table: string, transition: NonNullable<AtomicWrite['holdTransition']>, at: string): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.hold(transition.tripId),
      // Leaving `held`, the hold leaves the index the sweeper reads.
      UpdateExpression: `SET #status = :to, updatedAt = :at REMOVE ${GLOBAL_INDEXES.byParent.partitionKey}, ${GLOBAL_INDEXES.byParent.sortKey}`,
      ConditionExpression: allOf(guard.exists, guard.holdIsHeld, ...(transition.expiredBy === undefined ? [] : [guard.holdRanOutBy])),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':to': transition.to,
        ':held': 'held',
        ':at': at,
        ...(transition.expiredBy !== undefined && { ':expiredBy': transition.expiredBy }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function holdRenewalItem(table: string, renewal: NonNullable<AtomicWrite['holdRenewal']>, at: string): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.hold(renewal.tripId),
      // The sweeper finds held holds by their expiry in the index: it moves with it.
      UpdateExpression: `SET expiresAt = :to, ${GLOBAL_INDEXES.byParent.sortKey} = :sort, updatedAt = :at`,
      ConditionExpression: allOf(guard.exists, guard.holdIsHeld, guard.holdExpiresAt),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':to': renewal.to, ':from': renewal.from, ':sort': `${renewal.to}#${renewal.tripId}`, ':held': 'held', ':at': at },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function unusableEventPutItem(table: string, write: NonNullable<AtomicWrite['unusableEvent']>): TransactItem {
  if (write.expectedStatus === undefined) return putNewItem(table, unusableEventItem(write.event), true);
  return {
    Put: {
      TableName: table,
      Item: unusableEventItem(write.event),
      ConditionExpression: allOf(guard.exists, guard.eventStatusIs),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':status': write.expectedStatus },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function cancellationItem(table: string, cancellation: BookingCancellation, at: string): TransactItem {
  const values: Values = { ':cancelled': 'cancelled', ':confirmed': 'confirmed', ':at': at, ':reason': cancellation.reason };
  const conditions: string[] = [guard.exists, guard.bookingConfirmed];
  if (cancellation.shareAsRead !== undefined) {
    conditions.push(guard.shareAsRead);
    values[':from'] = cancellation.shareAsRead;
  }
  return {
    Update: {
      TableName: table,
      Key: keys.booking(cancellation.reference),
      UpdateExpression: 'SET #status = :cancelled, cancelledAt = :at, cancellationReason = :reason',
      ConditionExpression: allOf(...conditions),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: values,
    },
  };
}

function shareChangeItem(table: string, change: BookingShareChange): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.booking(change.reference),
      UpdateExpression: 'SET amount = :to',
      ConditionExpression: allOf(guard.exists, guard.bookingConfirmed, guard.shareAsRead),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':confirmed': 'confirmed', ':from': change.from, ':to': change.to },
    },
  };
}

function tripTransitionItem(table: string, transition: TripTransition, at: string): TransactItem {
  const names: Record<string, string> = { '#status': 'status' };
  const values: Values = { ':to': transition.to, ':at': at };
  const fromPlaceholders = transition.from.map((status, index) => {
    values[`:from${index}`] = status;
    return `:from${index}`;
  });
  const conditions = [guard.exists, guard.tripStatusIn(fromPlaceholders)];
  if (transition.userId !== undefined) {
    conditions.push(guard.tripOwnedBy);
    values[':userId'] = transition.userId;
  }
  if (transition.recordedSessionNoneOr === null) conditions.push(guard.noSessionRecorded);
  if (typeof transition.recordedSessionNoneOr === 'string') {
    conditions.push(guard.noOtherSessionRecorded);
    values[':onlySession'] = transition.recordedSessionNoneOr;
  }
  if (transition.heldUntil !== undefined) {
    conditions.push(guard.tripHeldUntil);
    values[':heldUntil'] = transition.heldUntil;
  }
  if (transition.chargeRefundedEarlyAsRead !== undefined) conditions.push(chargeRefundedEarlyAsRead(transition.chargeRefundedEarlyAsRead, values));
  if (transition.paidFor !== undefined) {
    const { paidFor } = transition;
    conditions.push(guard.tripSessionIs, guard.tripPriceIs, guard.tripItemsAre, guard.noChargeRefundedEarly, guard.tripFieldsReadable);
    values[':text'] = 'S';
    values[':checkoutSession'] = paidFor.checkoutSessionId;
    values[':price'] = paidFor.amount;
    values[':currency'] = paidFor.currency;
    // Each item as the trip stores it (these fields, no others), so the whole-list comparison can match.
    values[':items'] = paidFor.items.map(({ experienceId, slotId, guestCount, date, time }) => ({ experienceId, slotId, guestCount, date, time }));
    values[':itemAmounts'] = paidFor.itemAmounts;
    names['#amount'] = 'amount';
    names['#currency'] = 'currency';
    names['#items'] = 'items';
  }
  const sets = ['#status = :to', 'updatedAt = :at'];
  const removes: string[] = [RETURN_CHECKED_AT];
  // The partial refund kept for this transition's payment has served: the record it was kept for is this write's.
  const ownOff = transition.paymentId === undefined ? undefined : ownEntryOff(transition.chargeRefundedEarlyAsRead, transition.paymentId, values);
  if (ownOff && 'set' in ownOff) sets.push(ownOff.set);
  if (ownOff && 'remove' in ownOff) removes.push(ownOff.remove);
  const optional: [keyof TripTransition, unknown][] = [
    ['paymentId', transition.paymentId],
    ['bookingReferences', transition.bookingReferences],
    ['statusReason', transition.statusReason],
    ['checkoutSessionId', transition.checkoutSessionId],
    ['checkoutUrl', transition.checkoutUrl],
    ['refundId', transition.refundId],
    ['holdExpiresAt', transition.holdExpiresAt],
  ];
  for (const [name, value] of optional) {
    if (value === undefined) continue;
    sets.push(`${name} = :${name}`);
    values[`:${name}`] = value;
  }
  if (transition.paymentId !== undefined) {
    // Indexed so that a refund event, which names only the payment, finds the trip.
    for (const [attribute, value] of Object.entries(indexAttributes(GLOBAL_INDEXES.bySlotOrPayment, keys.tripOfPayment(transition.paymentId)))) {
      sets.push(`${attribute} = :${attribute}`);
      values[`:${attribute}`] = value;
    }
  }
  return {
    Update: {
      TableName: table,
      Key: keys.trip(transition.tripId),
      // A return's check of Stripe was about the trip as it was: moved, it may be asked about again at once.
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      ConditionExpression: allOf(...conditions),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * How an update of the trip takes `paymentId`'s own partial refund off those it kept (`kept`, as read), its first record
 * being this write's: the others set back, or the attribute removed when none is left (never an empty list); undefined
 * when none of them is that payment's. The others' value is added to `values`.
 */
function ownEntryOff(
  kept: readonly EarlyChargeTotal[] | null | undefined,
  paymentId: string,
  values: Values,
): { set: string } | { remove: string } | undefined {
  if (kept === undefined || kept === null || !kept.some((entry) => entry.paymentId === paymentId)) return undefined;
  const others = kept.filter((entry) => entry.paymentId !== paymentId);
  if (others.length === 0) return { remove: 'chargeRefundedEarly' };
  values[':othersKept'] = others;
  return { set: 'chargeRefundedEarly = :othersKept' };
}

/**
 * A commit's ClientRequestToken (36 characters, DynamoDB's limit), drawn once per commit and sent again by each of its
 * retries: a retry after a lost response is answered as the commit it was. Another commit, even of the same items
 * (two sweeps releasing one hold in the same millisecond), gets its own, so its conditions decide it and the caller
 * learns that someone else did it; a hash of the items would have answered both "committed".
 */
export function requestToken(): string {
  return randomUUID();
}
