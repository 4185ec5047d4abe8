// GET /trips/{tripId} in the template: a route of the same API behind POST /checkout's own authorizer, served by the
// checkout function (no new permission), its outputs, and every id that existed before it unchanged.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOOKING_TABLE_LOGICAL_ID, ITEM_ACTIONS } from '../../lib/constructs/booking-table';
import { functionOf, nagFailures, roleOf, statementsOf, synth, type Synthesized } from './stack-fixture';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example';
const AUDIENCE = 'checkout-web-client';

let iam: Synthesized;
let jwt: Synthesized;
beforeAll(() => {
  iam = synth();
  jwt = synth({ checkoutJwtIssuer: ISSUER, checkoutJwtAudience: AUDIENCE });
});

interface RouteResource {
  Properties: { RouteKey: string; AuthorizationType: string; AuthorizerId?: unknown; Target: unknown; ApiId: unknown };
}

function route({ template }: Synthesized, routeKey: string): RouteResource['Properties'] {
  const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as RouteResource[];
  const found = routes.find((candidate) => candidate.Properties.RouteKey === routeKey);
  if (!found) throw new Error(`No route ${routeKey}`);
  return found.Properties;
}

describe('GET /trips/{tripId}', () => {
  it('is a route of the same API, integrated with POST /checkout’s integration (the checkout function, payload format 2.0)', () => {
    for (const synthesized of [iam, jwt]) {
      const trips = route(synthesized, 'GET /trips/{tripId}');
      const checkout = route(synthesized, 'POST /checkout');
      expect(trips.ApiId).toEqual({ Ref: expect.stringMatching(/^WebhookApi/) });
      expect(trips.Target).toEqual(checkout.Target);
      synthesized.template.resourceCountIs('AWS::ApiGatewayV2::Integration', 2);
    }
  });

  it('without JWT settings, takes IAM-signed requests only (AWS_IAM), and outputs the ARN to allow callers', () => {
    expect(route(iam, 'GET /trips/{tripId}')).toMatchObject({ AuthorizationType: 'AWS_IAM' });
    const outputs = iam.template.findOutputs('*') as Record<string, { Value: unknown; Description: string }>;
    expect(outputs.TripInvokeArn?.Value).toEqual({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:eu-west-1:123456789012:', { Ref: expect.stringMatching(/^WebhookApi/) }, '/$default/GET/trips/*'],
      ],
    });
    expect(JSON.stringify(outputs.TripUrl?.Value)).toContain('/trips/{tripId}');
    expect(outputs.TripUrl?.Description).toMatch(/AWS IAM: SigV4-signed/);
  });

  it('with JWT settings, shares POST /checkout’s one JWT authorizer, and outputs no invoke ARN', () => {
    jwt.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    const checkout = route(jwt, 'POST /checkout');
    expect(route(jwt, 'GET /trips/{tripId}')).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: checkout.AuthorizerId });
    const outputs = jwt.template.findOutputs('*') as Record<string, { Description: string }>;
    expect(outputs.TripUrl?.Description).toContain(`JWT: "Authorization: Bearer <token>" issued by ${ISSUER} for audience ${AUDIENCE}`);
    expect(outputs).not.toHaveProperty('TripInvokeArn');
  });

  it('lets API Gateway invoke the checkout function from this route only', () => {
    iam.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [functionOf(iam, 'Checkout').logicalId, 'Arn'] },
      SourceArn: { 'Fn::Join': ['', Match.arrayWith(['/*/*/trips/{tripId}'])] },
    });
  });

  it('adds no permission to the checkout function: items and the Stripe secret, no Query, Scan or DeleteItem', () => {
    expect(statementsOf(iam, roleOf(iam, 'Checkout')).map(({ Sid, Action, Resource }) => ({ Sid, Action, Resource }))).toEqual([
      { Sid: 'OwnLogGroup', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: expect.anything() },
      { Sid: 'BookingItems', Action: ITEM_ACTIONS, Resource: { 'Fn::GetAtt': [BOOKING_TABLE_LOGICAL_ID, 'Arn'] } },
      { Sid: 'StripeSecret', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
  });

  it('leaves cdk-nag nothing to report in either variant', () => {
    expect(nagFailures(iam)).toEqual([]);
    expect(nagFailures(jwt)).toEqual([]);
  });
});

describe('ids that existed before GET /trips/{tripId}', () => {
  // A new logical id makes CloudFormation replace the resource: POST /checkout's route, integration, permission and
  // authorizer keep theirs, so adding the trip route only adds.
  it.each([
    ['AWS::ApiGatewayV2::Route', 'iam', ['WebhookApiPOSTcheckoutEABEBB4B', 'WebhookApiPOSTwebhooksstripeA002AAFF']],
    ['AWS::ApiGatewayV2::Integration', 'iam', ['WebhookApiPOSTcheckoutCheckout89A983C6', 'WebhookApiPOSTwebhooksstripeStripeWebhookEE03676A']],
    ['AWS::Lambda::Permission', 'iam', ['WebhookApiPOSTcheckoutCheckoutPermission95D890B3', 'WebhookApiPOSTwebhooksstripeStripeWebhookPermission6E1F4AE9']],
    ['AWS::ApiGatewayV2::Authorizer', 'jwt', ['WebhookApiCheckoutJwtFC112C0B']],
  ] as const)('keeps the logical ids of %s (%s variant)', (type, variant, logicalIds) => {
    const { template } = variant === 'iam' ? iam : jwt;
    expect(Object.keys(template.findResources(type))).toEqual(expect.arrayContaining([...logicalIds]));
  });

  it('alarms on the checkout function’s errors and throttles under their old ids, which now cover both routes', () => {
    expect(Object.keys(iam.template.findResources('AWS::CloudWatch::Alarm'))).toEqual(
      expect.arrayContaining(['AlarmsCheckoutErrors36FB84A7', 'AlarmsCheckoutThrottlesCB0AEB22', 'AlarmsWebhook5xxRate2C0C0929']),
    );
  });
});
