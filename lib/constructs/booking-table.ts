// The booking table in AWS, built from the one table definition the code, the local server and the tests use, and the
// grants that say what each function may do to it.
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, type CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { keys } from '../../lambdas/shared/dynamodb/item-keys';
import { GLOBAL_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../lambdas/shared/dynamodb/table-definition';

/** The table's logical id is part of the stack's contract: a new id would make CloudFormation replace it, data and all. */
export const BOOKING_TABLE_LOGICAL_ID = 'BookingTable';

/**
 * What the webhook, create-booking and checkout do to items: reads, conditional writes, and the per-item actions a
 * transaction (TransactWriteItems) is authorised by. No DeleteItem, Scan or Query on the table.
 */
export const ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'];

/** The partitions the hold sweeper may write: holds, slots (their seat counters) and trips' audit entries. */
export const SWEEPER_PARTITIONS = [keys.hold('*').pk, keys.slot('*').pk, keys.auditPartition('trip', '*')];

/** One way a function uses the table; each names one of BookingTable's grants. */
export type BookingTableAccess = 'bookingWrites' | 'tripOfPaymentQuery' | 'expiredHoldsQuery' | 'holdReleases';

export interface BookingTableProps {
  /**
   * Keep the table when the stack is deleted, and turn on deletion protection. Turn off only for
   * throwaway development stacks.
   * @default true
   */
  readonly retainData?: boolean;
}

/**
 * The table, and one grant per way a function uses it. The grants add statements of their own rather than use
 * Table.grant*: each carries a Sid that names the permission in the role's policy, and allows exactly the actions listed
 * (Table.grantReadWriteData would add Scan, Query and DeleteItem).
 */
export class BookingTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: BookingTableProps = {}) {
    super(scope, id);
    const retainData = props.retainData ?? true;
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      // On demand: no capacity to plan and nothing billed while idle.
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: retainData,
      removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of Object.values(GLOBAL_INDEXES)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
    // Pinned: the logical id no longer depends on this construct's id or place in the tree.
    (this.table.node.defaultChild as CfnTable).overrideLogicalId(BOOKING_TABLE_LOGICAL_ID);
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** The ARN of one of the table's indexes, for a Query permission scoped to it. */
  indexArn(indexName: string): string {
    return `${this.table.tableArn}/index/${indexName}`;
  }

  /** Grants one way of using the table (see the grant methods). */
  grant(grantee: IGrantable, access: BookingTableAccess): void {
    switch (access) {
      case 'bookingWrites':
        this.grantBookingWrites(grantee);
        return;
      case 'tripOfPaymentQuery':
        this.grantTripOfPaymentQuery(grantee);
        return;
      case 'expiredHoldsQuery':
        this.grantExpiredHoldsQuery(grantee);
        return;
      case 'holdReleases':
        this.grantHoldReleases(grantee);
        return;
    }
    access satisfies never;
  }

  /** Reads and conditional writes of any item, one at a time or in a transaction (ITEM_ACTIONS): Sid `BookingItems`. */
  grantBookingWrites(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ sid: 'BookingItems', actions: ITEM_ACTIONS, resources: [this.table.tableArn] }));
  }

  /**
   * Query on the index that finds the trip a payment paid for (and bookings of a slot, and the payments with refunds due
   * the reconciliation sweep asks for again): Sid `TripOfPayment`.
   */
  grantTripOfPaymentQuery(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'TripOfPayment', actions: ['dynamodb:Query'], resources: [this.indexArn(GLOBAL_INDEXES.bySlotOrPayment.indexName)] }),
    );
  }

  /** Query on the index whose holds partition lists the holds still held, by expiry: Sid `ExpiredHolds`. */
  grantExpiredHoldsQuery(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'ExpiredHolds', actions: ['dynamodb:Query'], resources: [this.indexArn(GLOBAL_INDEXES.byParent.indexName)] }),
    );
  }

  /**
   * Writes of holds, slots' seat counters and trips' audit entries, and nothing else (no trip, booking or payment): each
   * item of a TransactWriteItems is authorised as its own PutItem/UpdateItem, partition key included. Sid `ReleaseHolds`.
   */
  grantHoldReleases(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReleaseHolds',
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': SWEEPER_PARTITIONS } },
      }),
    );
  }
}
