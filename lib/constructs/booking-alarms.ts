// Alarms on what needs a person: function errors and throttles, API 5xx, refunds, payments set aside or needing attention,
// a Stripe key refused or a Stripe secret not read again, trips that no longer read, deliveries the webhook missed, sent to
// one SNS topic; the error lines no function counts itself are counted from its logs.
import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, MetricFilter, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { type CountedLogLine, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/shared/observability-contract';

/** A log group whose function writes a counted error line, and the id of the metric filter that counts it there. */
export interface CountedLogLineSource {
  /** Part of the stack's contract, as an alarm's id is: a new id replaces the filter. */
  readonly id: string;
  readonly logGroup: ILogGroup;
  readonly line: CountedLogLine;
}

export interface BookingAlarmsProps {
  /**
   * The functions to watch, by name. The names are part of the stack's contract: they make the ids of the functions'
   * alarms (`<name>Errors`, `<name>Throttles`), and a new id would replace the alarm.
   */
  readonly functions: Record<string, IFunction>;
  /**
   * Where the error lines no function counts itself (COUNTED_LOG_LINES) are written: each is counted there into the metric
   * its alarm watches.
   * @default - none
   */
  readonly countedLogLines?: readonly CountedLogLineSource[];
  readonly api: HttpApi;
  /**
   * Subscribed to the topic when given; more subscribers can be added to the topic later.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Refunds of paid-but-unbookable trips in one hour that deserve a look (a sold-out storm, a blocked
   * experience still on sale).
   * @default 5
   */
  readonly refundsPerHourThreshold?: number;
  /**
   * 5xx answers of the whole API (webhook, checkout and trips), in percent of its requests in 5 minutes.
   * @default 5
   */
  readonly api5xxPercentThreshold?: number;
}

export class BookingAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: BookingAlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', { displayName: 'Booking service alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    for (const { id, logGroup, line } of props.countedLogLines ?? []) {
      new MetricFilter(this, id, {
        logGroup,
        filterPattern: FilterPattern.stringValue('$.message', '=', line.message),
        metricNamespace: METRICS_NAMESPACE,
        metricName: line.metric,
        metricValue: '1',
        // The line's own `service` (Powertools writes it on every line): the dimension the published metrics carry.
        dimensions: { service: '$.service' },
      });
    }

    const fiveMinutes = Duration.minutes(5);
    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarmOn(
        `${name}Errors`,
        fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        1,
        `${name} failed (an unhandled error, not a business refusal): its log group's ERROR lines say what and where (\`npm run map-stack-trace\` maps a stack to the sources). Nothing is half-written (each change is one transaction): Stripe redelivers a webhook, a scheduled run is the next run's, an API caller got a 5xx to retry.`,
      );
      this.alarmOn(
        `${name}Throttles`,
        fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
        1,
        `${name} was throttled by Lambda (the account's or its own concurrency used up): requests were refused before it ran (Stripe redelivers, an API caller got a 5xx). Raise the account's concurrency quota, or look for what floods it.`,
      );
    }
    const api5xxPercent = new MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: {
        errors: props.api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
        requests: props.api.metricCount({ period: fiveMinutes, statistic: 'Sum' }),
      },
      label: 'API 5xx % (webhook, checkout and trips)',
      period: fiveMinutes,
    });
    // The id predates POST /checkout and GET /trips/{tripId}: kept so the alarm is not replaced. The API's metrics cover every route.
    this.alarmOn(
      'Webhook5xxRate',
      api5xxPercent,
      props.api5xxPercentThreshold ?? 5,
      "The API answers 5xx (the webhook: Stripe is retrying; POST /checkout: 503 STRIPE_UNAVAILABLE or a failure; GET /trips/{tripId}: 503 STORE_UNAVAILABLE or a failure, never Stripe's): the access logs' routeKey says which route; check DynamoDB, Stripe API reachability and the secret.",
    );
    this.alarmOn(
      'Refunds',
      serviceMetric(METRIC.refunds, Duration.hours(1)),
      props.refundsPerHourThreshold ?? 5,
      'Paid trips are being refunded because they could not be booked (their slot blocked, short or gone between checkout and payment): `npm run ops -- payments list --status refunded --since <today>` lists them and `trips show TRIP_ID` the code each got (SLOT_BLOCKED, INSUFFICIENT_AVAILABILITY, SLOT_NOT_FOUND). Check who blocks slots or lowers capacity while checkouts hold seats.',
    );
    this.alarmOn(
      'PaymentsSetAside',
      serviceMetric(METRIC.paymentsSetAside, fiveMinutes),
      1,
      'A payment did not match its trip (or named none) and was refunded: `npm run ops -- payments list --set-aside --since <today>` lists them, `payments show PI` says why (its payment.set_aside audit entry).',
    );
    this.alarmOn(
      'PaymentsNeedingAttention',
      serviceMetric(METRIC.paymentsNeedingAttention, fiveMinutes),
      1,
      'A payment needs a person (Stripe refused a refund for good, a refund failed later, or stored data is unusable): run `npm run ops -- attention list`, then `payments show|retry-refund|resolve`.',
    );
    this.alarmOn(
      'UnusableEvents',
      serviceMetric(METRIC.unusableEvents, fiveMinutes),
      1,
      'Stripe sent a signed event of a type we handle in a shape we cannot act on (acknowledged, not acted on): run `npm run ops -- attention list`, then `attention resolve EVT --note`.',
    );
    this.alarmOn(
      'ModeMismatches',
      serviceMetric(METRIC.modeMismatches, fiveMinutes),
      1,
      'Events of the other Stripe mode reach this stack and are ignored: a live endpoint whose secret holds a test key books nothing. Check the API key and signing secrets in the Stripe secret.',
    );
    this.alarmOn(
      'StripeKeyRejected',
      serviceMetric(METRIC.stripeKeyRejected, fiveMinutes),
      1,
      'Stripe refused the API key in the Stripe secret (401: rolled, deleted or mistyped; 403: a restricted key without a permission this stack needs, named in the log line "Stripe refused the API key"). Refunds wait as requested (the sweep asks again every run), POST /checkout answers 503 and the sweep cannot list events until a working key is in the secret (README: Store the secrets); functions read it again within 5 minutes.',
    );
    this.alarmOn(
      'StripeSecretNotReplaced',
      serviceMetric(METRIC.stripeSecretNotReplaced, fiveMinutes),
      1,
      'A function could not read the Stripe secret again and goes on with the value it read before, so a rolled API key or signing secret is not reaching it. Its log line "The Stripe secret could not be read again" says why: a malformed value pasted in (README: Store the secrets), the function\'s role denied secretsmanager:GetSecretValue, or Secrets Manager failing. The next request 30 s later or more reads it again.',
    );
    this.alarmOn(
      'UnreadableTrips',
      serviceMetric(METRIC.unreadableTrips, fiveMinutes),
      1,
      'A stored trip no longer reads as one (a field lost, or of the wrong type): GET /trips/{tripId} answered its traveller 404, as for a missing trip, or the hold sweeper released its expired hold and left the trip as it is (waiting for a payment). The log line "A stored trip no longer reads" of the Checkout or HoldSweeper function names the trip and the field (`npm run ops -- trips show TRIP_ID` fails with the same problem). Repair the item in the table.',
    );
    this.alarmOn(
      'UnusableSlots',
      serviceMetric(METRIC.unusableSlots, fiveMinutes),
      1,
      'The hold sweeper found a slot that no longer reads as one (a count of the wrong type) and left the expired holds on it held; it releases the others. Its log line "A slot no longer reads" names the trip, the slots of its hold (one of them no longer reads: `npm run ops -- slots list` names it) and the problem. Repair the slot in the table: the next run gives the seats back.',
    );
    this.alarmOn(
      'MissedDeliveries',
      // An hour: the sweep runs every 15 minutes by default, and a webhook losing deliveries keeps the alarm on between runs.
      serviceMetric(METRIC.missedDeliveries, Duration.hours(1)),
      1,
      'The reconciliation sweep processed Stripe events that no webhook delivery had processed (booked, refunded or recorded late; its log names each): the webhook is losing deliveries. Check the endpoint in Stripe (Developers → Webhooks: disabled, failing, or not subscribed to every event of the StripeEvents output?), the signing secrets in the Stripe secret, and the Webhook5xxRate alarm.',
    );
    this.alarmOn(
      'EventsBeyondReach',
      serviceMetric(METRIC.eventsBeyondReach, Duration.hours(1)),
      1,
      'The reconciliation sweep found its cursor older than the 30 days of events Stripe keeps (its schedule off, or failing, that long): events created in the span its log line "The cursor was older than the events Stripe still lists" names can no longer be reconciled. Look in the Stripe Dashboard for payments of that span without a booking or a refund here (`npm run ops -- payments show PI`).',
    );
    this.alarmOn(
      'OverdueRefunds',
      // Counted anew by every run of the sweep: an hour keeps the alarm on between runs while one stays unanswered.
      serviceMetric(METRIC.overdueRefunds, Duration.hours(1)),
      1,
      'Refunds stored as requested are still unanswered by Stripe over an hour later (the reconciliation sweep asks again every run; its log names each payment): check Stripe API reachability and the API key in the Stripe secret; `npm run ops -- payments list --refund-due` lists them, and `payments retry-refund PI` asks Stripe now.',
    );
  }

  private alarmOn(id: string, metric: IMetric, threshold: number, description: string): void {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}

/**
 * A metric the functions publish in EMF, under the Powertools `service` dimension: a payment's outcome (refunded, set
 * aside, needing attention) is counted by whichever carried it out, the webhook or a traveller's return (GET /trips/{tripId}).
 */
function serviceMetric(metricName: string, period: Duration): Metric {
  return new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAME }, statistic: 'Sum', period });
}
