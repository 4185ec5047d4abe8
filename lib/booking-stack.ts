// The booking stack: composes the table, the functions (webhook, create-booking, checkout, hold sweeper, Stripe
// reconciliation), the API, the schedules, the secret and the alarms.
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { ArnPrincipal, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';
import { COUNTED_LOG_LINES } from '../lambdas/shared/observability-contract';
import { HANDLED_EVENT_TYPES } from '../lambdas/stripe-webhook/webhook-contract';
import { BookingAlarms } from './constructs/booking-alarms';
import { BookingFunction, ONE_VCPU_MB } from './constructs/booking-function';
import { BookingTable } from './constructs/booking-table';
import { CheckoutRoute } from './constructs/checkout-route';
import { StripeSecret } from './constructs/stripe-secret';
import { WebhookApi } from './constructs/webhook-api';
import { checkoutJwtOf, DEFAULT_CHECKOUT_HOLD_MINUTES, DEFAULT_RECONCILIATION_MINUTES, type StackSettings } from './settings';

export interface BookingStackProps extends StackProps {
  readonly settings: StackSettings;
}

/**
 * The construct ids below are part of the stack's contract: logical ids derive from them, and a new one makes
 * CloudFormation replace the resource (the secret's values, a function's ARN, the API's URL, an alarm's history), except
 * the table's, pinned to BOOKING_TABLE_LOGICAL_ID. The outputs' ids are the names the README and operators use.
 */
export class BookingStack extends Stack {
  constructor(scope: Construct, id: string, props: BookingStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const logRetention = settings.logRetentionDays as RetentionDays;

    const bookings = new BookingTable(this, 'Bookings', { retainData: settings.retainData });
    const stripeSecret = new StripeSecret(this, 'StripeSecret', { retainData: settings.retainData });

    const webhook = new BookingFunction(this, 'StripeWebhook', {
      entry: 'lambdas/stripe-webhook/handler.ts',
      description: 'Verifies Stripe webhooks and confirms, refunds or releases trips',
      table: { table: bookings, access: ['bookingWrites', 'tripOfPaymentQuery'] },
      stripeSecret,
      // One full vCPU: most deliveries meet a cold function, and its init and first confirmation are CPU-bound, so
      // below this size each costs about as much and takes longer (bench/README.md, "Memory size").
      memorySize: ONE_VCPU_MB,
      logRetention,
    });

    const createBooking = new BookingFunction(this, 'CreateBooking', {
      entry: 'lambdas/create-booking/handler.ts',
      description: 'Confirms a paid trip for a service caller (IAM-invoked, no public route)',
      table: { table: bookings, access: ['bookingWrites'] },
      logRetention,
    });
    if (settings.createBookingInvokerRoleArn) {
      // A resource-based permission: it works whether the caller's role lives in this account or another.
      createBooking.function.addPermission('InvokedByCaller', {
        principal: new ArnPrincipal(settings.createBookingInvokerRoleArn),
        action: 'lambda:InvokeFunction',
      });
    }

    const checkout = new BookingFunction(this, 'Checkout', {
      entry: 'lambdas/checkout/handler.ts',
      description: 'POST /checkout holds the seats of a new trip and opens its Stripe Checkout session; GET /trips/{tripId} shows it, booked if paid',
      // Trips (GetItem), slots and bookings (BatchGetItem), and one transaction of Put/Update/ConditionCheck items: no
      // Query, no Scan, no DeleteItem. GET /trips/{tripId} books (or refunds) a paid trip with the webhook's use case, whose
      // confirmation needs no more than that; the Stripe secret reads sessions back and issues refunds.
      // One function for both routes: the same permissions exactly, and a traveller back from the payment page (seconds
      // to minutes after POST /checkout) usually finds the instance that checkout warmed instead of a cold start.
      table: { table: bookings, access: ['bookingWrites'] },
      stripeSecret,
      environment: { CHECKOUT_HOLD_MINUTES: String(settings.checkoutHoldMinutes ?? DEFAULT_CHECKOUT_HOLD_MINUTES) },
      logRetention,
    });

    const holdSweeper = new BookingFunction(this, 'HoldSweeper', {
      entry: 'lambdas/hold-sweeper/handler.ts',
      description: 'Every minute: gives the seats of expired checkout holds back to sale',
      // Finds expired holds on the holds index, and may write holds, slots' seat counters and trips' audit entries only.
      table: { table: bookings, access: ['expiredHoldsQuery', 'holdReleases'] },
      // A backlog of up to 1,000 holds, one transaction each, fits; still under the 1-minute rate, so runs rarely overlap (and may: each release is conditional).
      timeout: Duration.seconds(50),
      // A failed run is not retried by Lambda either (twice, by default, beside the next runs): the next minute's run is its retry.
      retryAttempts: 0,
      logRetention,
    });
    // Our own role, allowed to invoke exactly this function; passed immutable so the target adds no `function:*` grant of its own.
    const sweepScheduleRole = new Role(this, 'HoldSweepScheduleRole', {
      description: 'EventBridge Scheduler: invokes the hold sweeper',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': this.account,
            'aws:SourceArn': this.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
          },
        },
      }),
    });
    sweepScheduleRole.addToPolicy(
      new PolicyStatement({ sid: 'InvokeHoldSweeper', actions: ['lambda:InvokeFunction'], resources: [holdSweeper.function.functionArn] }),
    );
    new Schedule(this, 'HoldSweep', {
      description: 'Runs the hold sweeper every minute',
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      // A missed run is not retried: the next minute's run does the same work.
      target: new LambdaInvoke(holdSweeper.function, { role: sweepScheduleRole.withoutPolicyUpdates(), retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
    });

    const reconciliationMinutes = settings.reconciliationMinutes ?? DEFAULT_RECONCILIATION_MINUTES;
    const reconciler = new BookingFunction(this, 'StripeReconciler', {
      entry: 'lambdas/stripe-reconciler/handler.ts',
      description: "On a schedule: processes the Stripe events no webhook delivery processed, from Stripe's list of events",
      // What the webhook's processing does to the table (the same use case), the cursor and its place in the refunds due
      // (items it reads and puts), and the refunds due, listed on the index that also finds the trip of a payment.
      table: { table: bookings, access: ['bookingWrites', 'tripOfPaymentQuery'] },
      stripeSecret,
      // A first run, or a backlog, works until 30 s before this and goes on next time; under the 5-minute shortest period.
      timeout: Duration.minutes(4),
      // A failed run (it stopped at an event) is not retried by Lambda: the next scheduled run starts at that event again.
      retryAttempts: 0,
      logRetention,
    });
    const reconciliationScheduleRole = new Role(this, 'ReconciliationScheduleRole', {
      description: 'EventBridge Scheduler: invokes the Stripe reconciliation sweep',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': this.account,
            'aws:SourceArn': this.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
          },
        },
      }),
    });
    reconciliationScheduleRole.addToPolicy(
      new PolicyStatement({ sid: 'InvokeStripeReconciler', actions: ['lambda:InvokeFunction'], resources: [reconciler.function.functionArn] }),
    );
    new Schedule(this, 'Reconciliation', {
      description: `Runs the Stripe reconciliation sweep every ${reconciliationMinutes} minutes`,
      schedule: ScheduleExpression.rate(Duration.minutes(reconciliationMinutes)),
      // A missed run is not retried: the next one sweeps from the same cursor.
      target: new LambdaInvoke(reconciler.function, {
        role: reconciliationScheduleRole.withoutPolicyUpdates(),
        retryAttempts: 0,
        maxEventAge: Duration.minutes(reconciliationMinutes),
      }),
    });

    const api = new WebhookApi(this, 'WebhookApi', {
      handler: webhook.function,
      rateLimit: settings.webhookRateLimit,
      burstLimit: settings.webhookBurstLimit,
      logRetention,
    });
    const jwt = checkoutJwtOf(settings);
    const checkoutRoute = new CheckoutRoute(this, 'CheckoutRoute', { api: api.api, stage: api.stage, handler: checkout.function, ...(jwt && { jwt }) });

    const functions = { StripeWebhook: webhook, CreateBooking: createBooking, Checkout: checkout, HoldSweeper: holdSweeper, StripeReconciler: reconciler };
    const alarms = new BookingAlarms(this, 'Alarms', {
      functions: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, fn.function])),
      countedLogLines: [
        { id: 'HoldSweeperUnreadableTrips', logGroup: holdSweeper.logGroup, line: COUNTED_LOG_LINES.sweptUnreadableTrip },
        { id: 'HoldSweeperUnusableSlots', logGroup: holdSweeper.logGroup, line: COUNTED_LOG_LINES.sweptHoldOnUnusableSlot },
        ...Object.entries(functions)
          .filter(([, fn]) => fn.readsStripeSecret)
          .map(([name, fn]) => ({ id: `${name}StripeSecretNotReplaced`, logGroup: fn.logGroup, line: COUNTED_LOG_LINES.stripeSecretNotReplaced })),
      ],
      api: api.api,
      ...(settings.alarmEmail && { alarmEmail: settings.alarmEmail }),
    });

    new CfnOutput(this, 'WebhookUrl', {
      value: api.webhookUrl,
      description: `Paste into Stripe: Developers → Webhooks → Add endpoint, subscribed to exactly: ${HANDLED_EVENT_TYPES.join(', ')}`,
    });
    new CfnOutput(this, 'CheckoutUrl', { value: checkoutRoute.url, description: `POST a checkout here. Authorised by ${checkoutRoute.authorization}` });
    if (!jwt) {
      new CfnOutput(this, 'CheckoutInvokeArn', {
        value: checkoutRoute.invokeArn,
        description: 'Allow execute-api:Invoke on this ARN in the IAM policy of each service that calls POST /checkout (same account)',
      });
    }
    new CfnOutput(this, 'TripUrl', {
      value: checkoutRoute.tripUrl,
      description: `GET a traveller's trip here (books it if Stripe says it is paid). Authorised as POST /checkout: ${checkoutRoute.authorization}`,
    });
    if (!jwt) {
      new CfnOutput(this, 'TripInvokeArn', {
        value: checkoutRoute.tripInvokeArn,
        description: 'Allow execute-api:Invoke on this ARN in the IAM policy of each service that calls GET /trips/{tripId} (same account)',
      });
    }
    new CfnOutput(this, 'StripeEvents', { value: HANDLED_EVENT_TYPES.join(','), description: 'Subscribe the Stripe webhook endpoint to exactly these events' });
    new CfnOutput(this, 'TableName', { value: bookings.tableName });
    new CfnOutput(this, 'StripeSecretArn', { value: stripeSecret.secretArn, description: 'Put {"apiKey","webhookSigningSecrets"} here' });
    new CfnOutput(this, 'CreateBookingFunctionArn', { value: createBooking.function.functionArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarms.topic.topicArn });
  }
}
