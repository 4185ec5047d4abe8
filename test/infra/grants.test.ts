// The grants of the constructs that own the resources, and the ids that are part of the stack's contract: each grant
// allows exactly its actions under its Sid, a function's table and secret bring their names and permissions together,
// and no refactor renames what a replacement would cost.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import { BookingFunction } from '../../lib/constructs/booking-function';
import { BOOKING_TABLE_LOGICAL_ID, BookingTable, ITEM_ACTIONS, SWEEPER_PARTITIONS, type BookingTableAccess } from '../../lib/constructs/booking-table';
import { StripeSecret } from '../../lib/constructs/stripe-secret';
import { actionsOf, functionOf, roleOf, statementsOf, synth, type Statement, type Synthesized } from './stack-fixture';

const TABLE_ARN = { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] };
const indexArn = (indexName: string) => ({ 'Fn::Join': ['', [TABLE_ARN, `/index/${indexName}`]] });

/** A stack of the table, the secret and one bare role, with `grant` applied to the role; the role's statements. */
function statementsGranted(grant: (resources: { table: BookingTable; secret: StripeSecret; role: Role }) => void): Statement[] {
  const stack = new Stack(new App(), 'Grants');
  const resources = {
    table: new BookingTable(stack, 'Bookings'),
    secret: new StripeSecret(stack, 'StripeSecret'),
    role: new Role(stack, 'Grantee', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }),
  };
  grant(resources);
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

describe('BookingTable grants', () => {
  it.each<[BookingTableAccess, Statement]>([
    ['bookingWrites', { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: TABLE_ARN }],
    ['tripOfPaymentQuery', { Sid: 'TripOfPayment', Effect: 'Allow', Action: 'dynamodb:Query', Resource: indexArn('gsi2') }],
    ['expiredHoldsQuery', { Sid: 'ExpiredHolds', Effect: 'Allow', Action: 'dynamodb:Query', Resource: indexArn('gsi1') }],
    [
      'holdReleases',
      {
        Sid: 'ReleaseHolds',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: TABLE_ARN,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': SWEEPER_PARTITIONS } },
      },
    ],
  ])('%s allows exactly its actions on its resource, under its Sid', (access, statement) => {
    expect(statementsGranted(({ table, role }) => table.grant(role, access))).toEqual([statement]);
  });

  it('grantBookingWrites, grantTripOfPaymentQuery and the access names grant the same statements', () => {
    const byMethod = statementsGranted(({ table, role }) => {
      table.grantBookingWrites(role);
      table.grantTripOfPaymentQuery(role);
    });
    const byName = statementsGranted(({ table, role }) => {
      table.grant(role, 'bookingWrites');
      table.grant(role, 'tripOfPaymentQuery');
    });
    expect(byMethod.map((statement) => statement.Sid)).toEqual(['BookingItems', 'TripOfPayment']);
    expect(byMethod).toEqual(byName);
  });

  it('lets the sweeper write the partitions of holds, slots and trip audit entries only', () => {
    expect(SWEEPER_PARTITIONS).toEqual(['HOLD#*', 'SLOT#*', 'AUDIT#trip#*']);
  });
});

describe('StripeSecret', () => {
  it('grantRead allows GetSecretValue on this secret only (no DescribeSecret), under the Sid StripeSecret', () => {
    expect(statementsGranted(({ secret, role }) => secret.grantRead(role))).toEqual([
      { Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
  });

  it('keeps the logical id of the Secret it wraps, so the secret and its values are never replaced', () => {
    const logicalIdOf = (build: (stack: Stack) => void): string[] => {
      const stack = new Stack(new App(), 'Secrets');
      build(stack);
      return Object.keys(Template.fromStack(stack).findResources('AWS::SecretsManager::Secret'));
    };
    expect(logicalIdOf((stack) => new StripeSecret(stack, 'StripeSecret'))).toEqual(logicalIdOf((stack) => new Secret(stack, 'StripeSecret')));
  });
});

describe('BookingFunction', () => {
  it('gets TABLE_NAME and STRIPE_SECRET_ARN only with the table and the secret, and their permissions with them', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Functions');
    const table = new BookingTable(stack, 'Bookings');
    const stripeSecret = new StripeSecret(stack, 'StripeSecret');
    new BookingFunction(stack, 'Bare', { entry: 'lambdas/hold-sweeper/handler.ts', description: 'no table, no secret' });
    new BookingFunction(stack, 'Both', {
      entry: 'lambdas/hold-sweeper/handler.ts',
      description: 'table and secret',
      table: { table, access: ['bookingWrites'] },
      stripeSecret,
    });
    const synthesized = { template: Template.fromStack(stack) };
    const bare = functionOf(synthesized, 'Bare').fn.Properties.Environment.Variables;
    expect(bare).not.toHaveProperty('TABLE_NAME');
    expect(bare).not.toHaveProperty('STRIPE_SECRET_ARN');
    expect(actionsOf(synthesized, roleOf(synthesized, 'Bare'))).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(functionOf(synthesized, 'Both').fn.Properties.Environment.Variables).toMatchObject({
      TABLE_NAME: { Ref: BOOKING_TABLE_LOGICAL_ID },
      STRIPE_SECRET_ARN: { Ref: expect.stringMatching(/^StripeSecret/) },
    });
    expect(statementsOf(synthesized, roleOf(synthesized, 'Both')).map((statement) => statement.Sid)).toEqual(['OwnLogGroup', 'BookingItems', 'StripeSecret']);
  });
});

describe('construct ids that are part of the contract', () => {
  let main: Synthesized;
  beforeAll(() => {
    main = synth();
  });

  // A new logical id makes CloudFormation replace the resource: the table's data, the secret's values, the functions'
  // ARNs (callers of create-booking hold it), their logs, the API's URL (Stripe calls it) and the alarms' subscriptions.
  it.each([
    ['AWS::DynamoDB::Table', [BOOKING_TABLE_LOGICAL_ID]],
    ['AWS::SecretsManager::Secret', ['StripeSecret80A38A68']],
    [
      'AWS::Lambda::Function',
      [
        'StripeWebhookFunction7888DC24',
        'CreateBookingFunction38C67884',
        'CheckoutFunction4A74BA1F',
        'HoldSweeperFunction16F57607',
        'StripeReconcilerFunctionE8C6FE4B',
      ],
    ],
    [
      'AWS::Logs::LogGroup',
      [
        'StripeWebhookLogsE35BDC6E',
        'CreateBookingLogsD4C89F4D',
        'CheckoutLogs93FA7FDB',
        'HoldSweeperLogsEAA55A62',
        'StripeReconcilerLogs831BE3C6',
        'WebhookApiAccessLogs7F990121',
      ],
    ],
    ['AWS::ApiGatewayV2::Api', ['WebhookApi510A0CAB']],
    ['AWS::SNS::Topic', ['AlarmsTopic3A2DFEBA']],
  ])('keeps the logical ids of every %s', (type, logicalIds) => {
    expect(Object.keys(main.template.findResources(type)).sort()).toEqual([...logicalIds].sort());
  });
});
