// Structured logs and metrics for every entry point (Powertools), configured in one place.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from './observability-contract';

// Re-exported for the entry points and the local server, which know the names through this module.
export { METRIC, METRICS_NAMESPACE, SERVICE_NAME };

export function createLogger(): Logger {
  return new Logger({ serviceName: SERVICE_NAME });
}

export function createMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
}
