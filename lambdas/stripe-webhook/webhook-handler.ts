// The HTTP contract of POST /webhooks/stripe: raw body, signature, schema, one use case, one status code.
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { RetryLaterError, type PaymentEventResult } from '../shared/domain/payment-events';
import { internalError, jsonResponse } from '../shared/http';
import { SecretUnavailableError } from '../shared/secrets-manager';
import { describeError, METRIC } from '../shared/observability';
import { verifyStripeSignature } from '../shared/stripe/webhook-signature';
import { countOutcome, processStripeEvent, type EventProcessingDeps, type MetricName } from './event-processing';
import { MAX_BODY_BYTES, WEBHOOK_PATH } from './webhook-contract';

// Re-exported for the local server and the tests, which reach the handler's contract through the handler.
export { MAX_BODY_BYTES, WEBHOOK_PATH };

export interface StripeWebhookDeps extends Omit<EventProcessingDeps, 'count'> {
  /** The signing secrets accepted now (several while one is rolled). */
  readonly signingSecrets: () => Promise<readonly string[]>;
  readonly toleranceSeconds: number;
  readonly metrics: Metrics;
}

export type StripeWebhookHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The exact bytes Stripe signed: base64-decoded when API Gateway encoded them, undefined when too large. */
function rawBody(event: APIGatewayProxyEventV2): Buffer | undefined {
  const body = event.body ?? '';
  // A base64 text is 4/3 of its bytes: measure before decoding anything.
  const encodedLimit = event.isBase64Encoded ? Math.ceil(MAX_BODY_BYTES / 3) * 4 : MAX_BODY_BYTES;
  if (body.length > encodedLimit) return undefined;
  const bytes = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  return bytes.length > MAX_BODY_BYTES ? undefined : bytes;
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  // HTTP APIs lower-case header names; a local caller might not.
  return event.headers?.[name] ?? Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
}

export function createStripeWebhookHandler(deps: StripeWebhookDeps): StripeWebhookHandler {
  const { logger, metrics } = deps;
  const count = (metric: MetricName): void => {
    metrics.addMetric(metric, MetricUnit.Count, 1);
  };

  async function handle(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    const body = rawBody(event);
    if (!body) {
      logger.warn('Refused an oversized webhook body', { bytes: event.body?.length });
      return jsonResponse(413, { received: false, error: 'PAYLOAD_TOO_LARGE', maxBytes: MAX_BODY_BYTES });
    }
    const secrets = await deps.signingSecrets();
    const verdict = verifyStripeSignature(body, header(event, 'stripe-signature'), secrets, deps.toleranceSeconds, deps.clock.now().getTime());
    if (!verdict.valid) {
      count(METRIC.signatureFailures);
      logger.warn('Refused a webhook with an invalid signature', { signatureProblem: verdict.reason });
      return jsonResponse(400, { received: false, error: 'INVALID_SIGNATURE' });
    }

    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return jsonResponse(400, { received: false, error: 'INVALID_JSON' });
    }
    const processed = await processStripeEvent({ ...deps, count }, json);
    switch (processed.kind) {
      case 'invalid':
        return jsonResponse(400, { received: false, error: 'INVALID_EVENT', problem: processed.problem });
      case 'ignored':
        return jsonResponse(200, { received: true, ignored: processed.eventType, ...(processed.reason && { reason: processed.reason }) });
      case 'unusable':
        // 200: Stripe's three days of retries would bring the same bytes, and nothing in them would change.
        return jsonResponse(200, { received: true, outcome: 'needs_attention', reason: 'unusable_event', problem: processed.problem });
      case 'handled':
        return answerFor(processed.eventType, processed.result);
    }
  }

  function answerFor(eventType: string, result: PaymentEventResult): APIGatewayProxyStructuredResultV2 {
    countOutcome(count, result);
    if (result.outcome === 'ignored') return jsonResponse(200, { received: true, ignored: eventType });
    return jsonResponse(200, {
      received: true,
      outcome: result.outcome,
      ...(result.tripId && { tripId: result.tripId }),
      ...(result.references && { references: result.references }),
      ...(result.reason && { reason: result.reason }),
      ...(result.setAside && { setAside: true }),
    });
  }

  return async (event) => {
    try {
      return await handle(event);
    } catch (error) {
      // Retryable or not, a 500 makes Stripe deliver again, and every step resumes from stored state. A signing secret
      // Secrets Manager did not give in time is as retryable as Stripe not answering.
      if (error instanceof RetryLaterError || (error instanceof SecretUnavailableError && error.retryable)) {
        count(METRIC.retryLater);
        logger.warn('Answering 500 so Stripe retries', { error: describeError(error) });
      } else {
        logger.error('Unexpected failure handling a Stripe webhook', { error: describeError(error) });
      }
      return internalError();
    } finally {
      logger.resetKeys();
      // An event that counted nothing publishes nothing: Powertools would log a warning for every such event.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
