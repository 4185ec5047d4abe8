// The HTTP contract of POST /webhooks/stripe: raw body, signature, schema, one use case, one status code.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { PaymentDeps } from '../shared/domain/collaborators';
import { handlePaymentEvent, RetryLaterError, type PaymentEventResult } from '../shared/domain/payment-events';
import { internalError, jsonResponse } from '../shared/http';
import { METRIC } from '../shared/observability';
import { recordUnusableEvent } from '../shared/domain/unusable-events';
import { STRIPE_API_VERSION, type StripeMode } from '../shared/stripe/stripe-contract';
import { verifyStripeSignature } from '../shared/stripe/webhook-signature';
import { parseStripeEvent } from './stripe-events';
import { MAX_BODY_BYTES, WEBHOOK_PATH } from './webhook-contract';

// Re-exported for the local server and the tests, which reach the handler's contract through the handler.
export { MAX_BODY_BYTES, WEBHOOK_PATH };

export interface StripeWebhookDeps extends PaymentDeps {
  /** The signing secrets accepted now (several while one is rolled). */
  readonly signingSecrets: () => Promise<readonly string[]>;
  readonly toleranceSeconds: number;
  /** The deployment's mode, from the Stripe API key that issues its refunds: events of the other mode are never acted on. */
  readonly mode: () => Promise<StripeMode>;
  readonly logger: Logger;
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

  function recordOutcome(result: PaymentEventResult): void {
    if (result.outcome === 'booked') metrics.addMetric(METRIC.confirmations, MetricUnit.Count, 1);
    if (result.outcome === 'duplicate') metrics.addMetric(METRIC.duplicates, MetricUnit.Count, 1);
    if (result.outcome === 'refunded') metrics.addMetric(METRIC.refunds, MetricUnit.Count, 1);
    if (result.setAside) metrics.addMetric(METRIC.paymentsSetAside, MetricUnit.Count, 1);
    if (result.outcome === 'needs_attention') metrics.addMetric(METRIC.paymentsNeedingAttention, MetricUnit.Count, 1);
  }

  async function handle(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    const body = rawBody(event);
    if (!body) {
      logger.warn('Refused an oversized webhook body', { bytes: event.body?.length });
      return jsonResponse(413, { received: false, error: 'PAYLOAD_TOO_LARGE', maxBytes: MAX_BODY_BYTES });
    }
    const secrets = await deps.signingSecrets();
    const verdict = verifyStripeSignature(body, header(event, 'stripe-signature'), secrets, deps.toleranceSeconds, deps.clock.now().getTime());
    if (!verdict.valid) {
      metrics.addMetric(METRIC.signatureFailures, MetricUnit.Count, 1);
      logger.warn('Refused a webhook with an invalid signature', { signatureProblem: verdict.reason });
      return jsonResponse(400, { received: false, error: 'INVALID_SIGNATURE' });
    }

    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return jsonResponse(400, { received: false, error: 'INVALID_JSON' });
    }
    const parsed = parseStripeEvent(json);
    if (parsed.kind === 'invalid') {
      logger.warn('Refused a signed body that is not a Stripe event', { problem: parsed.problem });
      return jsonResponse(400, { received: false, error: 'INVALID_EVENT', problem: parsed.problem });
    }
    if (parsed.kind === 'ignored') {
      if (parsed.why === 'thin_event') logger.info('Ignored a thin event: this endpoint needs snapshot events', { eventType: parsed.type });
      return jsonResponse(200, { received: true, ignored: parsed.type });
    }
    const mode = await deps.mode();
    const eventType = parsed.kind === 'handled' ? parsed.event.eventType : parsed.eventType;
    if (parsed.livemode !== undefined && parsed.livemode !== (mode === 'live')) {
      // A test event in a live deployment (or the reverse): a signing secret of the other mode is configured.
      metrics.addMetric(METRIC.modeMismatches, MetricUnit.Count, 1);
      logger.warn('Ignored an event of the other mode', { eventType, livemode: parsed.livemode, mode });
      return jsonResponse(200, { received: true, ignored: eventType, reason: 'mode_mismatch' });
    }
    if (parsed.kind === 'poison') {
      if (parsed.unmarked && !(parsed.unmarkedPaymentId && (await deps.store.getPaymentRecord(parsed.unmarkedPaymentId)))) {
        // Without our mark and of no payment we hold: another product's object, odd or not, is none of ours.
        return jsonResponse(200, { received: true, ignored: eventType });
      }
      const { recorded } = await recordUnusableEvent(deps, { eventId: parsed.eventId, eventType, problem: parsed.problem });
      if (recorded) metrics.addMetric(METRIC.unusableEvents, MetricUnit.Count, 1);
      logger.warn('Kept a signed event we cannot act on for a person', {
        stripeEventId: parsed.eventId,
        eventType,
        problem: parsed.problem,
        firstDelivery: recorded,
      });
      // 200: Stripe's three days of retries would bring the same bytes, and nothing in them would change.
      return jsonResponse(200, { received: true, outcome: 'needs_attention', reason: 'unusable_event', problem: parsed.problem });
    }
    if (parsed.apiVersion !== undefined && parsed.apiVersion !== STRIPE_API_VERSION) {
      logger.warn('An event of another API version: create the endpoint with the pinned one', { apiVersion: parsed.apiVersion, pinned: STRIPE_API_VERSION });
    }

    const paymentEvent = parsed.event;
    logger.appendKeys({
      stripeEventId: paymentEvent.eventId,
      eventType: paymentEvent.eventType,
      ...('tripId' in paymentEvent && { tripId: paymentEvent.tripId }),
    });
    const result = await handlePaymentEvent(deps, paymentEvent);
    logger.appendKeys({ outcome: result.outcome, ...(result.tripId && { tripId: result.tripId }) });
    recordOutcome(result);
    if (result.outcome === 'ignored') return jsonResponse(200, { received: true, ignored: paymentEvent.eventType });
    const log = result.outcome === 'needs_attention' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('Processed a Stripe event', { rule: result.rule, ...(result.reason && { reason: result.reason }), references: result.references });
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
      // Retryable or not, a 500 makes Stripe deliver again, and every step resumes from stored state.
      if (error instanceof RetryLaterError) {
        metrics.addMetric(METRIC.retryLater, MetricUnit.Count, 1);
        logger.warn('Answering 500 so Stripe retries', { error: describe(error) });
      } else {
        logger.error('Unexpected failure handling a Stripe webhook', { error: describe(error) });
      }
      return internalError();
    } finally {
      logger.resetKeys();
      // An event that counted nothing publishes nothing: Powertools would log a warning for every such event.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/** Names and messages only: stacks, bodies and secrets stay out of the logs. */
function describe(error: unknown): { name: string; message: string; cause?: { name: string; message: string } } {
  if (!(error instanceof Error)) return { name: typeof error, message: 'non-error thrown' };
  const cause = error.cause instanceof Error ? { name: error.cause.name, message: error.cause.message } : undefined;
  return { name: error.name, message: error.message, ...(cause && { cause }) };
}
