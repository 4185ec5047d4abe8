// Structured logs and metrics for every entry point (Powertools), configured in one place.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { COUNTED_LOG_LINES, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from './observability-contract';
import type { StripeKeyRejection } from './stripe/stripe-contract';

// Re-exported for the entry points and the local server, which know the names through this module.
export { COUNTED_LOG_LINES, METRIC, METRICS_NAMESPACE, SERVICE_NAME };

export function createLogger(): Logger {
  return new Logger({ serviceName: SERVICE_NAME });
}

export function createMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
}

/**
 * What an entry point does when the Stripe secret, read again after 5 minutes, could not be read (or was unusable): the
 * secret read before goes on being used and every request succeeds, so this error line is what says that a rolled
 * secret is not reaching the function (a malformed value pasted in, access taken away, Secrets Manager failing). The
 * stack counts the line as `StripeSecretNotReplaced` (alarmed).
 */
export function secretNotReplacedReporter(logger: Logger): (error: unknown) => void {
  return (error) => {
    logger.error(COUNTED_LOG_LINES.stripeSecretNotReplaced.message, { error: describeError(error) });
  };
}

/**
 * What an entry point does when Stripe refuses its API key: an error line naming the request, and `StripeKeyRejected`
 * (alarmed) published at once on metrics of its own. The call that met the refusal goes on as after any outage (a 500
 * Stripe redelivers, a 503, a refund left requested for the sweep), so only this says that a person must act.
 */
export function stripeKeyRejectionReporter(logger: Logger, metrics: Metrics = createMetrics()): (rejection: StripeKeyRejection) => void {
  return (rejection) => {
    logger.error('Stripe refused the API key of the Stripe secret: put a working key in the secret', { stripeKeyRejection: rejection });
    metrics.addMetric(METRIC.stripeKeyRejected, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  };
}

/** Names and messages only: stacks, bodies and secrets stay out of the logs. */
export function describeError(error: unknown): { name: string; message: string; cause?: { name: string; message: string } } {
  if (!(error instanceof Error)) return { name: typeof error, message: 'non-error thrown' };
  const cause = error.cause instanceof Error ? { name: error.cause.name, message: error.cause.message } : undefined;
  return { name: error.name, message: error.message, ...(cause && { cause }) };
}
