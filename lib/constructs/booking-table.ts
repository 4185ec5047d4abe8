// The booking table in AWS, built from the one table definition the code, the local server and the tests use.
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, type CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { GLOBAL_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../lambdas/shared/dynamodb/table-definition';

/** The table's logical id is part of the stack's contract: a new id would make CloudFormation replace it, data and all. */
export const BOOKING_TABLE_LOGICAL_ID = 'BookingTable';

export interface BookingTableProps {
  /**
   * Keep the table when the stack is deleted, and turn on deletion protection. Turn off only for
   * throwaway development stacks.
   * @default true
   */
  readonly retainData?: boolean;
}

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
    (this.table.node.defaultChild as CfnTable).overrideLogicalId(BOOKING_TABLE_LOGICAL_ID);
  }

  /** The ARN of one of the table's indexes, for a Query permission scoped to it. */
  indexArn(indexName: string): string {
    return `${this.table.tableArn}/index/${indexName}`;
  }
}
