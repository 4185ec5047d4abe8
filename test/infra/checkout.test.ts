// POST /checkout and the hold sweeper in the template: the route and its authorizer (JWT or IAM, never open), the
// functions' least privilege, the sweeper's schedule, their alarms, and the settings that shape them.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOOKING_TABLE_LOGICAL_ID, ITEM_ACTIONS } from '../../lib/constructs/booking-table';
import { parseStackSettings } from '../../lib/settings';
import { actionsOf, functionOf, nagFailures, roleOf, statementsOf, synth, type Synthesized } from './stack-fixture';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example';
const AUDIENCE = 'checkout-web-client';

let iam: Synthesized;
let jwt: Synthesized;
beforeAll(() => {
  iam = synth();
  jwt = synth({ checkoutJwtIssuer: ISSUER, checkoutJwtAudience: AUDIENCE, checkoutHoldMinutes: '90' });
});

const TABLE_ARN = { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] };
const indexArn = (indexName: string) => ({ 'Fn::Join': ['', [TABLE_ARN, `/index/${indexName}`]] });
const FORBIDDEN_TABLE_ACTIONS = ['dynamodb:Scan', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLUpdate', 'dynamodb:PartiQLDelete'];

describe('settings of POST /checkout', () => {
  it('take the JWT issuer and audience together, or neither', () => {
    expect(parseStackSettings({ checkoutJwtIssuer: ISSUER, checkoutJwtAudience: AUDIENCE })).toMatchObject({
      checkoutJwtIssuer: ISSUER,
      checkoutJwtAudience: AUDIENCE,
    });
    expect(parseStackSettings({})).not.toHaveProperty('checkoutJwtIssuer');
  });

  it.each([
    [{ checkoutJwtIssuer: ISSUER }, '"checkoutJwtIssuer" is set but "checkoutJwtAudience" is not'],
    [{ checkoutJwtAudience: AUDIENCE }, '"checkoutJwtAudience" is set but "checkoutJwtIssuer" is not'],
  ])('refuse %j: one JWT key without the other, naming both', (context, message) => {
    expect(() => parseStackSettings(context)).toThrow(message);
    expect(() => parseStackSettings(context)).toThrow('Context settings "checkoutJwtIssuer" and "checkoutJwtAudience" go together');
  });

  it.each([
    [
      { checkoutJwtIssuer: 'http://issuer.example.com', checkoutJwtAudience: AUDIENCE },
      'Context setting "checkoutJwtIssuer" must be the https URL of the token issuer',
    ],
    [{ checkoutJwtIssuer: 'cognito', checkoutJwtAudience: AUDIENCE }, 'Context setting "checkoutJwtIssuer" must be the https URL'],
    [{ checkoutJwtIssuer: ISSUER, checkoutJwtAudience: '' }, 'Context setting "checkoutJwtAudience" must not be empty'],
    [{ checkoutHoldMinutes: 29 }, 'Context setting "checkoutHoldMinutes" must be whole minutes from 30 to 1440'],
    [
      { checkoutHoldMinutes: '1441' },
      'Context setting "checkoutHoldMinutes" must be whole minutes from 30 to 1440 (a Stripe Checkout session lasts 30 minutes to 24 hours) (received "1441")',
    ],
    [{ checkoutHoldMinutes: 45.5 }, 'Context setting "checkoutHoldMinutes"'],
    [{ checkoutHoldMinutes: 'half an hour' }, 'Context setting "checkoutHoldMinutes"'],
  ])('refuse %j naming the key', (context, message) => {
    expect(() => parseStackSettings(context)).toThrow(message);
  });

  it('accept hold minutes from 30 to 1440, as numbers or `-c` strings', () => {
    expect(parseStackSettings({ checkoutHoldMinutes: 30 }).checkoutHoldMinutes).toBe(30);
    expect(parseStackSettings({ checkoutHoldMinutes: '1440' }).checkoutHoldMinutes).toBe(1440);
  });
});

describe('POST /checkout', () => {
  it('is a route of the webhook’s API, integrated with the checkout function in payload format 2.0', () => {
    for (const { template } of [iam, jwt]) {
      template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /checkout', ApiId: { Ref: Match.stringLikeRegexp('^WebhookApi') } });
      template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [functionOf(iam, 'Checkout').logicalId, 'Arn'] },
      });
    }
  });

  it('without JWT settings, takes IAM-signed requests only (AWS_IAM), and outputs the ARN to allow callers', () => {
    iam.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /checkout', AuthorizationType: 'AWS_IAM' });
    iam.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
    const outputs = iam.template.findOutputs('*') as Record<string, { Value: unknown; Description: string }>;
    expect(JSON.stringify(outputs.CheckoutUrl?.Value)).toContain('/checkout');
    expect(outputs.CheckoutUrl?.Description).toMatch(/AWS IAM: SigV4-signed/);
    expect(outputs.CheckoutInvokeArn?.Value).toEqual({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:eu-west-1:123456789012:', { Ref: expect.stringMatching(/^WebhookApi/) }, '/$default/POST/checkout'],
      ],
    });
  });

  it('with JWT settings, takes bearer tokens of that issuer for that audience (JWT authorizer)', () => {
    const authorizers = jwt.template.findResources('AWS::ApiGatewayV2::Authorizer');
    expect(Object.keys(authorizers)).toHaveLength(1);
    const [authorizerId] = Object.keys(authorizers);
    jwt.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: [AUDIENCE] },
    });
    jwt.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /checkout',
      AuthorizationType: 'JWT',
      AuthorizerId: { Ref: authorizerId },
    });
    const outputs = jwt.template.findOutputs('*') as Record<string, { Description: string }>;
    expect(outputs.CheckoutUrl?.Description).toContain(`JWT: "Authorization: Bearer <token>" issued by ${ISSUER} for audience ${AUDIENCE}`);
    expect(outputs).not.toHaveProperty('CheckoutInvokeArn');
  });

  it('never changes the webhook route, which stays without an authorizer (Stripe signs it)', () => {
    for (const { template } of [iam, jwt])
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhooks/stripe', AuthorizationType: 'NONE' });
  });

  it('is throttled by the stage’s default route settings, with no route overriding them', () => {
    const stages = Object.values(iam.template.findResources('AWS::ApiGatewayV2::Stage')) as { Properties: Record<string, unknown> }[];
    expect(stages).toHaveLength(1);
    expect(stages[0]?.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(stages[0]?.Properties.RouteSettings).toBeUndefined();
  });

  it('leaves cdk-nag nothing to report in either variant (the webhook’s APIG4 acknowledgement is on its route alone)', () => {
    expect(nagFailures(iam)).toEqual([]);
    expect(nagFailures(jwt)).toEqual([]);
  });
});

describe('checkout function', () => {
  it('gets the table, the secret’s ARN and the hold minutes (30 by default)', () => {
    expect(functionOf(iam, 'Checkout').fn.Properties.Environment.Variables).toMatchObject({
      TABLE_NAME: { Ref: BOOKING_TABLE_LOGICAL_ID },
      STRIPE_SECRET_ARN: { Ref: expect.stringMatching(/^StripeSecret/) },
      CHECKOUT_HOLD_MINUTES: '30',
    });
    expect(functionOf(jwt, 'Checkout').fn.Properties.Environment.Variables.CHECKOUT_HOLD_MINUTES).toBe('90');
  });

  it('may read and transactionally write items, and read the Stripe secret — no Query, Scan or DeleteItem', () => {
    const role = roleOf(iam, 'Checkout');
    expect(statementsOf(iam, role)).toEqual([
      {
        Sid: 'OwnLogGroup',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^CheckoutLogs/), 'Arn'] },
      },
      { Sid: 'BookingItems', Effect: 'Allow', Action: ITEM_ACTIONS, Resource: TABLE_ARN },
      { Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
    expect([...ITEM_ACTIONS].sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    const actions = actionsOf(iam, role);
    for (const action of [...FORBIDDEN_TABLE_ACTIONS, 'dynamodb:Query']) expect(actions).not.toContain(action);
  });
});

describe('hold sweeper', () => {
  it('gets the table’s name only: no Stripe secret', () => {
    const variables = functionOf(iam, 'HoldSweeper').fn.Properties.Environment.Variables;
    expect(variables.TABLE_NAME).toEqual({ Ref: BOOKING_TABLE_LOGICAL_ID });
    expect(Object.keys(variables).filter((name) => !name.startsWith('POWERTOOLS_') && name !== 'NODE_OPTIONS')).toEqual(['TABLE_NAME']);
  });

  it('may query the holds index and write holds, slots and trip audit entries only', () => {
    expect(statementsOf(iam, roleOf(iam, 'HoldSweeper'))).toEqual([
      {
        Sid: 'OwnLogGroup',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^HoldSweeperLogs/), 'Arn'] },
      },
      { Sid: 'ExpiredHolds', Effect: 'Allow', Action: 'dynamodb:Query', Resource: indexArn('gsi1') },
      {
        Sid: 'ReleaseHolds',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: TABLE_ARN,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['HOLD#*', 'SLOT#*', 'AUDIT#trip#*'] } },
      },
    ]);
  });

  it('can read no item, delete nothing, scan nothing and touch no secret', () => {
    const actions = actionsOf(iam, roleOf(iam, 'HoldSweeper'));
    for (const action of [
      ...FORBIDDEN_TABLE_ACTIONS,
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'secretsmanager:GetSecretValue',
    ]) {
      expect(actions).not.toContain(action);
    }
  });

  it('runs every minute from an EventBridge Scheduler schedule, without retries of a missed run, nor Lambda’s of a failed one', () => {
    iam.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionOf(iam, 'HoldSweeper').logicalId },
      MaximumRetryAttempts: 0,
    });
    const schedules = Object.values(
      iam.template.findResources('AWS::Scheduler::Schedule', {
        Properties: { Target: { Arn: { 'Fn::GetAtt': [functionOf(iam, 'HoldSweeper').logicalId, 'Arn'] } } },
      }),
    ) as { Properties: Record<string, unknown> }[];
    expect(schedules).toHaveLength(1);
    expect(schedules[0]?.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [functionOf(iam, 'HoldSweeper').logicalId, 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^HoldSweepScheduleRole/), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });

  it('is invoked by a role that only EventBridge Scheduler of this account assumes, allowed to invoke the sweeper alone', () => {
    const roles = iam.template.findResources('AWS::IAM::Role', {
      Properties: {
        Description: 'EventBridge Scheduler: invokes the hold sweeper',
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })] },
      },
    });
    const [roleId] = Object.keys(roles);
    expect(Object.keys(roles)).toHaveLength(1);
    iam.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
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
      },
    });
    expect(statementsOf(iam, roleId!)).toEqual([
      {
        Sid: 'InvokeHoldSweeper',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [functionOf(iam, 'HoldSweeper').logicalId, 'Arn'] },
      },
    ]);
  });
});

describe('alarms of the new functions', () => {
  it.each(['Checkout', 'HoldSweeper'])('alarm on the first error and throttle of %s, to the alarm topic', (id) => {
    for (const metricName of ['Errors', 'Throttles']) {
      iam.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionOf(iam, id).logicalId } }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmsTopic') }],
      });
    }
  });
});
