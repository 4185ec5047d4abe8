// The key of each entity in the single table, and its index keys: free of the domain and of any import, so the stack
// can scope a role to partitions without loading them.

export interface Key {
  readonly pk: string;
  readonly sk: string;
}

/** Where an item sits in a global index: named parts, never the order of an object's values. */
export interface IndexKey {
  readonly partition: string;
  readonly sort: string;
}

export const keys = {
  slot: (slotId: string): Key => ({ pk: `SLOT#${slotId}`, sk: 'SLOT' }),
  trip: (tripId: string): Key => ({ pk: `TRIP#${tripId}`, sk: 'TRIP' }),
  // Keyed by reference so the table itself guarantees a reference is never issued twice.
  booking: (reference: string): Key => ({ pk: `BOOKING#${reference}`, sk: 'BOOKING' }),
  processedEvent: (eventId: string): Key => ({ pk: `STRIPE_EVENT#${eventId}`, sk: 'STRIPE_EVENT' }),
  unusableEvent: (eventId: string): Key => ({ pk: `STRIPE_EVENT#${eventId}`, sk: 'UNUSABLE' }),
  hold: (tripId: string): Key => ({ pk: `HOLD#${tripId}`, sk: 'HOLD' }),
  /** Index partition of the holds still held, sorted by expiry (sparse: a hold leaves it when consumed or released). */
  holdsPartition: 'HOLDS',
  paymentRecord: (paymentId: string): Key => ({ pk: `PAYMENT#${paymentId}`, sk: 'PAYMENT' }),
  /**
   * Index partition of the payments with a refund stored as `requested` and not yet answered by Stripe, sorted by when
   * it was (sparse: a payment leaves it once every refund has an answer).
   */
  refundsDuePartition: 'REFUNDS_DUE',
  /** Index key under which a trip is found from the payment that booked it (or is being refunded). */
  tripOfPayment: (paymentId: string): IndexKey => ({ partition: `PAYMENT#${paymentId}`, sort: 'TRIP' }),
  auditPartition: (entityType: string, entityId: string): string => `AUDIT#${entityType}#${entityId}`,
  experiencePartition: (experienceId: string): string => `EXPERIENCE#${experienceId}`,
  tripBookingsPartition: (tripId: string): string => `TRIP#${tripId}`,
  userTripsPartition: (userId: string): string => `USER#${userId}`,
  slotBookingsPartition: (slotId: string): string => `SLOT#${slotId}`,
  /** Index partition of the payments that need a person (sparse: only they carry it). */
  attentionPartition: 'ATTENTION',
  /** Where the reconciliation sweep of one event source (e.g. `stripe`) goes on from. */
  eventCursor: (source: string): Key => ({ pk: `CURSOR#${source}`, sk: 'CURSOR' }),
  /** Beside it, where that sweep's last run stopped in the list of payments with refunds due. */
  refundsDuePosition: (sweep: string): Key => ({ pk: `CURSOR#${sweep}`, sk: 'REFUNDS_DUE' }),
  /**
   * The mark a local stack's sessions carry (TABLE_MARK), kept with its data: every developer's local table has the same
   * name. A deployed stack keeps none, its table's name being its own in its account and region.
   */
  deploymentMark: { pk: 'DEPLOYMENT', sk: 'MARK' } as Key,
};
