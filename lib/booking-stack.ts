// The booking-confirmation stack: composes the table, the two functions, the webhook API, the secret and the alarms.
import { CfnOutput, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { ArnPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { GLOBAL_INDEXES } from '../lambdas/shared/dynamodb/table-definition';
import { HANDLED_EVENT_TYPES } from '../lambdas/stripe-webhook/stripe-events';
import { BookingAlarms } from './constructs/booking-alarms';
import { BookingFunction } from './constructs/booking-function';
import { BookingTable } from './constructs/booking-table';
import { WebhookApi } from './constructs/webhook-api';
import type { StackSettings } from './settings';

export interface BookingStackProps extends StackProps {
  readonly settings: StackSettings;
}

/** What both functions do to items: reads, conditional writes, and the per-item actions a transaction is authorised by. */
export const ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'];

export class BookingStack extends Stack {
  constructor(scope: Construct, id: string, props: BookingStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const logRetention = settings.logRetentionDays as RetentionDays;

    const bookings = new BookingTable(this, 'Bookings', { retainData: settings.retainData });

    const stripeSecret = new Secret(this, 'StripeSecret', {
      description: 'Stripe API key and webhook signing secret(s), as {"apiKey":"sk_...","webhookSigningSecrets":["whsec_..."]}',
      removalPolicy: settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(stripeSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Stripe keys and signing secrets are issued and rolled in the Stripe dashboard, not by a rotation Lambda; the README explains the roll.',
    });

    const webhook = new BookingFunction(this, 'StripeWebhook', {
      entry: 'lambdas/stripe-webhook/handler.ts',
      description: 'Verifies Stripe webhooks and confirms, refunds or releases trips',
      // Only the secret's ARN: the values are read from Secrets Manager at cold start and cached.
      environment: { TABLE_NAME: bookings.table.tableName, STRIPE_SECRET_ARN: stripeSecret.secretArn },
      logRetention,
    });
    webhook.role.addToPolicy(new PolicyStatement({ sid: 'BookingItems', actions: ITEM_ACTIONS, resources: [bookings.table.tableArn] }));
    webhook.role.addToPolicy(
      new PolicyStatement({
        sid: 'TripOfPayment',
        actions: ['dynamodb:Query'],
        resources: [bookings.indexArn(GLOBAL_INDEXES.bySlotOrPayment.indexName)],
      }),
    );
    webhook.role.addToPolicy(new PolicyStatement({ sid: 'StripeSecret', actions: ['secretsmanager:GetSecretValue'], resources: [stripeSecret.secretArn] }));

    const createBooking = new BookingFunction(this, 'CreateBooking', {
      entry: 'lambdas/create-booking/handler.ts',
      description: 'Confirms a paid trip for a service caller (IAM-invoked, no public route)',
      environment: { TABLE_NAME: bookings.table.tableName },
      logRetention,
    });
    createBooking.role.addToPolicy(new PolicyStatement({ sid: 'BookingItems', actions: ITEM_ACTIONS, resources: [bookings.table.tableArn] }));
    if (settings.createBookingInvokerRoleArn) {
      // A resource-based permission: it works whether the caller's role lives in this account or another.
      createBooking.function.addPermission('InvokedByCaller', {
        principal: new ArnPrincipal(settings.createBookingInvokerRoleArn),
        action: 'lambda:InvokeFunction',
      });
    }

    const api = new WebhookApi(this, 'WebhookApi', {
      handler: webhook.function,
      rateLimit: settings.webhookRateLimit,
      burstLimit: settings.webhookBurstLimit,
      logRetention,
    });

    const alarms = new BookingAlarms(this, 'Alarms', {
      functions: { StripeWebhook: webhook.function, CreateBooking: createBooking.function },
      api: api.api,
      ...(settings.alarmEmail && { alarmEmail: settings.alarmEmail }),
    });

    new CfnOutput(this, 'WebhookUrl', {
      value: api.webhookUrl,
      description: `Paste into Stripe: Developers → Webhooks → Add endpoint, subscribed to exactly: ${HANDLED_EVENT_TYPES.join(', ')}`,
    });
    new CfnOutput(this, 'StripeEvents', { value: HANDLED_EVENT_TYPES.join(','), description: 'Subscribe the Stripe webhook endpoint to exactly these events' });
    new CfnOutput(this, 'TableName', { value: bookings.table.tableName });
    new CfnOutput(this, 'StripeSecretArn', { value: stripeSecret.secretArn, description: 'Put {"apiKey","webhookSigningSecrets"} here' });
    new CfnOutput(this, 'CreateBookingFunctionArn', { value: createBooking.function.functionArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarms.topic.topicArn });
  }
}
