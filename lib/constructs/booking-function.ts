// A Lambda function of this stack: bundled locally by esbuild, ARM64, Node.js 24, its own role and log group.
import { AssetHashType, DockerImage, Duration, RemovalPolicy, type ILocalBundling } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal, type IGrantable, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/shared/observability-contract';
import { ENTRY_NAME } from '../bundling';
import { bundleFunction } from '../function-bundle';
import type { BookingTable, BookingTableAccess } from './booking-table';
import type { StripeSecret } from './stripe-secret';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The memory size at which Lambda gives a function one full vCPU; above it, a second vCPU a single Node thread leaves idle. */
export const ONE_VCPU_MB = 1769;

/** The booking table as one function uses it. */
export interface BookingTableUse {
  readonly table: BookingTable;
  /** The grants the function gets, in the order of its role's statements. */
  readonly access: readonly BookingTableAccess[];
}

export interface BookingFunctionProps {
  /** The entry file, relative to the project root (e.g. `lambdas/stripe-webhook/handler.ts`). */
  readonly entry: string;
  readonly description: string;
  /**
   * The booking table: its name becomes `TABLE_NAME` and `access` is granted on it, both here, so a function never
   * knows the table without a permission to use it, nor holds a permission on a table it does not know.
   * @default - no table: no `TABLE_NAME` and no permission on it
   */
  readonly table?: BookingTableUse;
  /**
   * The Stripe secret: its ARN (never a value) becomes `STRIPE_SECRET_ARN` and the function may read it. The values are
   * read from Secrets Manager at cold start and cached.
   * @default - no secret: no `STRIPE_SECRET_ARN` and no permission on it
   */
  readonly stripeSecret?: StripeSecret;
  /**
   * Further environment variables, after the Powertools settings, `TABLE_NAME` and `STRIPE_SECRET_ARN`.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Lambda gives CPU in proportion to memory, one full vCPU at ONE_VCPU_MB; 512 MB is a share of 0.29 of it. The bench's
   * cost × latency model (bench/README.md) weighs a size for a confirmation; the functions it has not measured keep 512.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Long enough for DynamoDB's bounded retries plus a Stripe call and one of its retries (8 s each); short enough
   * that a stuck invocation ends in an error Stripe redelivers. Each Stripe call is fitted into the time left of the
   * invocation (lambdas/shared/stripe/stripe-call-time.ts), so a slow Stripe ends in a 500, not at this timeout.
   * @default Duration.seconds(20)
   */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Retries Lambda makes of a failed asynchronous invocation (a schedule's). 0 for a function whose next scheduled run does
   * the same work, so a retry never runs beside it.
   * @default 2 (Lambda's own)
   */
  readonly retryAttempts?: number;
}

/**
 * A function with its role and log group. The ids of its children (`Logs`, `Role`, `Function`) are part of the stack's
 * contract, like the id the stack gives the construct: the resources' logical ids derive from them, and a new id would
 * make CloudFormation replace the resource (a new function ARN for callers, a new log group without the old logs).
 */
export class BookingFunction extends Construct implements IGrantable {
  readonly function: LambdaFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;
  /** Whether the function reads the Stripe secret (and so may log that it could not read it again). */
  readonly readsStripeSecret: boolean;

  constructor(scope: Construct, id: string, props: BookingFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of its own instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.role.addToPolicy(
      new PolicyStatement({ sid: 'OwnLogGroup', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );
    this.grantPrincipal = this.role;
    const { table, stripeSecret } = props;
    this.readsStripeSecret = stripeSecret !== undefined;
    if (table) for (const access of table.access) table.table.grant(this, access);
    stripeSecret?.grantRead(this);
    this.function = new LambdaFunction(this, 'Function', {
      code: bundledCode(props.entry),
      handler: `${ENTRY_NAME}.handler`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(20),
      role: this.role,
      logGroup: this.logGroup,
      ...(props.retryAttempts !== undefined && { retryAttempts: props.retryAttempts }),
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        // No NODE_OPTIONS=--enable-source-maps: it costs every cold start (bench/README.md); traces are mapped offline
        // with the maps kept beside the bundle (npm run map-stack-trace).
        ...(table && { TABLE_NAME: table.table.tableName }),
        ...(stripeSecret && { STRIPE_SECRET_ARN: stripeSecret.secretArn }),
        ...props.environment,
      },
    });
  }
}

/**
 * The function's code: its entry bundled by esbuild in this process with the settings the bench measures
 * (lib/bundling.ts). Not NodejsFunction: it writes one file (`--outfile`), and the bundles are split into chunks.
 */
function bundledCode(entry: string): Code {
  return Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    // Never pulled: local bundling always succeeds (esbuild is a dependency of this project).
    bundling: { image: DockerImage.fromRegistry('dummy'), local: new LocalEsbuild(entry) },
  });
}

/**
 * Bundles one entry. A class with the entry as a field, not a bare callback: the CDK caches staged assets under a key
 * built from the bundling options' JSON, so functions of different entries must not serialise alike.
 */
class LocalEsbuild implements ILocalBundling {
  constructor(readonly entry: string) {}

  tryBundle(outputDir: string): boolean {
    bundleFunction({ entry: this.entry, outdir: outputDir, projectRoot: PROJECT_ROOT });
    return true;
  }
}
