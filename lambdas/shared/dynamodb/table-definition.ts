// The booking table, defined once: the CDK construct, the local server and the tests all build it from here.

/** Generic key names: the table is a single-table design, so keys carry prefixed values (see docs/data-model.md). */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly purpose: string;
}

export const GLOBAL_INDEXES = {
  /** Children of a parent: slots of an experience, bookings of a trip, trips of a user. */
  byParent: {
    indexName: 'gsi1',
    partitionKey: 'gsi1pk',
    sortKey: 'gsi1sk',
    purpose: 'slots of an experience, bookings of a trip, trips of a user',
  },
  /**
   * Bookings of a slot (the consistency check, `bookings list --slot`), the trip a payment paid for, and the payments with
   * a refund Stripe has not answered yet (the reconciliation sweep asks again).
   */
  bySlotOrPayment: {
    indexName: 'gsi2',
    partitionKey: 'gsi2pk',
    sortKey: 'gsi2sk',
    purpose: 'bookings of a slot, the trip of a payment, payments with refunds due',
  },
} as const satisfies Record<string, GlobalIndexDefinition>;

/** Epoch seconds; DynamoDB deletes the item some time after it passes. Only processed-event records set it. */
export const TTL_ATTRIBUTE = 'expiresAt';

/** The table's name when none is configured (local runs and tests). */
export const DEFAULT_LOCAL_TABLE_NAME = 'pulau-bookings';
