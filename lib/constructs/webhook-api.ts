// The public HTTP API: POST /webhooks/stripe (Stripe-signed) here, POST /checkout added by CheckoutRoute; throttled and access-logged.
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, PayloadFormatVersion } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';

import { WEBHOOK_PATH } from '../../lambdas/stripe-webhook/webhook-contract';

export interface WebhookApiProps {
  readonly handler: IFunction;
  /**
   * Steady requests per second each route accepts (the webhook's and checkout's); Stripe retries whatever is
   * throttled (429).
   * @default 50
   */
  readonly rateLimit?: number;
  /**
   * Requests each route accepts in a burst (the size of API Gateway's token bucket) before throttling.
   * @default 100
   */
  readonly burstLimit?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * The API, its stage and its webhook route. The id `Api` is part of the stack's contract: a new one would replace the
 * API, and with it the URL Stripe calls and the checkout callers use.
 */
export class WebhookApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly webhookUrl: string;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', { description: 'Stripe webhooks and checkout of the booking service', createDefaultStage: false });
    const [webhookRoute] = this.api.addRoutes({
      path: WEBHOOK_PATH,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('StripeWebhook', props.handler, { payloadFormatVersion: PayloadFormatVersion.VERSION_2_0 }),
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      // Default route settings: every route of the API (the webhook and POST /checkout) gets these limits.
      throttle: { rateLimit: props.rateLimit ?? 50, burstLimit: props.burstLimit ?? 100 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            sourceIp: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    this.webhookUrl = `${this.stage.url.replace(/\/$/, '')}${WEBHOOK_PATH}`;
    // On the webhook route only: any other route without an authorizer is still reported.
    if (!webhookRoute) throw new Error(`No route was added for ${WEBHOOK_PATH}`);
    Validations.of(webhookRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Stripe cannot present AWS credentials or tokens; every request is authenticated by its Stripe-Signature HMAC in the function before anything is read or written.',
    });
  }
}
