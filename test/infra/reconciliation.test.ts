// The Stripe reconciliation sweep in the template: its function and least privilege, its schedule and the role that alone
// may invoke it, the period setting, and the alarms on lost deliveries and on a run that stops.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOOKING_TABLE_LOGICAL_ID, ITEM_ACTIONS } from '../../lib/constructs/booking-table';
import { DEFAULT_RECONCILIATION_MINUTES, parseStackSettings } from '../../lib/settings';
import { actionsOf, functionOf, nagFailures, roleOf, statementsOf, synth, type Synthesized } from './stack-fixture';

let main: Synthesized;
beforeAll(() => {
  main = synth();
});

const TABLE_ARN = { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] };

/** The schedule that targets the reconciler, and the role it invokes with. */
function reconciliationSchedule(synthesized: Synthesized): { Properties: Record<string, unknown> } {
  const schedules = synthesized.template.findResources('AWS::Scheduler::Schedule', {
    Properties: { Target: { Arn: { 'Fn::GetAtt': [functionOf(synthesized, 'StripeReconciler').logicalId, 'Arn'] } } },
  });
  expect(Object.keys(schedules)).toHaveLength(1);
  return Object.values(schedules)[0] as { Properties: Record<string, unknown> };
}

describe('the reconciler function', () => {
  it('gets the table’s name and the secret’s ARN, runs up to 4 minutes, and is never retried by Lambda', () => {
    const { fn, logicalId } = functionOf(main, 'StripeReconciler');
    expect(fn.Properties.Handler).toBe('index.handler');
    expect(fn.Properties.Timeout).toBe(240);
    const variables = fn.Properties.Environment.Variables;
    expect(variables).toMatchObject({ TABLE_NAME: { Ref: BOOKING_TABLE_LOGICAL_ID }, STRIPE_SECRET_ARN: { Ref: expect.stringMatching(/^StripeSecret/) } });
    main.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: logicalId }, MaximumRetryAttempts: 0 });
  });

  it('may read and conditionally write the table’s items, query its payment index and read the Stripe secret — what the webhook’s processing needs, nothing more', () => {
    expect(statementsOf(main, roleOf(main, 'StripeReconciler'))).toEqual([
      {
        Sid: 'OwnLogGroup',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeReconcilerLogs/), 'Arn'] },
      },
      { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: TABLE_ARN },
      { Sid: 'TripOfPayment', Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [TABLE_ARN, '/index/gsi2']] } },
      { Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
    const actions = actionsOf(main, roleOf(main, 'StripeReconciler'));
    for (const action of ['dynamodb:Scan', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) expect(actions).not.toContain(action);
  });
});

describe('the reconciliation schedule', () => {
  it(`runs the reconciler every ${DEFAULT_RECONCILIATION_MINUTES} minutes by default, without retries of a missed run`, () => {
    expect(reconciliationSchedule(main).Properties).toMatchObject({
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^ReconciliationScheduleRole/), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 900 },
      },
    });
  });

  it('takes its period from reconciliationMinutes', () => {
    expect(reconciliationSchedule(synth({ reconciliationMinutes: '5' })).Properties).toMatchObject({ ScheduleExpression: 'rate(5 minutes)' });
    expect(reconciliationSchedule(synth({ reconciliationMinutes: 60 })).Properties).toMatchObject({ ScheduleExpression: 'rate(1 hour)' });
  });

  it('invokes with a role of its own that only EventBridge Scheduler of this account assumes, allowed to invoke the reconciler alone', () => {
    const roles = main.template.findResources('AWS::IAM::Role', {
      Properties: { Description: 'EventBridge Scheduler: invokes the Stripe reconciliation sweep' },
    });
    const [roleId] = Object.keys(roles);
    expect(Object.keys(roles)).toHaveLength(1);
    expect((roles[roleId as string] as { Properties: { AssumeRolePolicyDocument: unknown } }).Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: {
              'aws:SourceAccount': '123456789012',
              'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:eu-west-1:123456789012:schedule-group/default']] },
            },
          },
        },
      ],
    });
    expect(statementsOf(main, roleId as string)).toEqual([
      {
        Sid: 'InvokeStripeReconciler',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [functionOf(main, 'StripeReconciler').logicalId, 'Arn'] },
      },
    ]);
  });

  it('keeps cdk-nag clean', () => {
    expect(nagFailures(main)).toEqual([]);
  });
});

describe('the reconciliationMinutes setting', () => {
  it('is absent unless set (the stack applies 15), and takes the strings `cdk -c` passes', () => {
    expect(parseStackSettings({})).not.toHaveProperty('reconciliationMinutes');
    expect(parseStackSettings({ reconciliationMinutes: '30' })).toMatchObject({ reconciliationMinutes: 30 });
  });

  it.each([['4'], [1441], ['7.5'], ['fifteen'], [0]])('refuses %j, naming the key and the value', (value) => {
    expect(() => parseStackSettings({ reconciliationMinutes: value })).toThrow(
      `Context setting "reconciliationMinutes" must be whole minutes from 5 to 1440 (received ${JSON.stringify(value)})`,
    );
  });
});

describe('alarms of the reconciliation', () => {
  it('alarm on the first event the sweep found that no webhook delivery had processed, within the hour, and say where to look', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'MissedDeliveries',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('losing deliveries.*Webhooks'),
    });
  });

  it('alarm on a refund still unanswered by Stripe an hour after it was stored, within the hour, and say where to look', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OverdueRefunds',
      Namespace: 'PulauBookings',
      Dimensions: [{ Name: 'service', Value: 'booking-confirmation' }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      AlarmDescription: Match.stringLikeRegexp('unanswered by Stripe.*ops -- payments list --refund-due'),
    });
  });

  it('alarm on the first failed run (one that stopped at an event) and throttle of the reconciler', () => {
    for (const metricName of ['Errors', 'Throttles']) {
      main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionOf(main, 'StripeReconciler').logicalId } }],
        Threshold: 1,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      });
    }
  });
});
