// Structured logs and metrics for every entry point (Powertools), configured in one place.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const SERVICE_NAME = 'booking-confirmation';
export const METRICS_NAMESPACE = 'PulauBookings';

/** Metric names, as the stack's alarms refer to them. */
export const METRIC = {
  confirmations: 'Confirmations',
  refunds: 'Refunds',
  paymentsSetAside: 'PaymentsSetAside',
  duplicates: 'DuplicateDeliveries',
  signatureFailures: 'SignatureFailures',
  retryLater: 'RetryLater',
  paymentsNeedingAttention: 'PaymentsNeedingAttention',
  unusableEvents: 'UnusableEvents',
  modeMismatches: 'ModeMismatches',
} as const;

export function createLogger(): Logger {
  return new Logger({ serviceName: SERVICE_NAME });
}

export function createMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
}
