// The HTTP contract of POST /checkout: who is paying, the items, one use case, one status code.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { BookingErrorCode } from '../shared/domain/errors';
import { StoreUnavailableError } from '../shared/domain/errors';
import { PaymentGatewayUnavailableError } from '../shared/domain/payment-gateway';
import { startCheckout, startCheckoutInputSchema, type StartCheckoutDeps } from '../shared/domain/start-checkout';
import { parseInput } from '../shared/domain/trip-input';
import { internalError, jsonResponse, unavailable } from '../shared/http';
import { callerUser } from './caller';
import { CHECKOUT_PATH, MAX_BODY_BYTES } from './checkout-contract';

// Re-exported for the local server and the tests, which reach the handler's contract through the handler.
export { CHECKOUT_PATH };

export interface CheckoutHandlerDeps extends StartCheckoutDeps {
  readonly logger: Logger;
}

export type CheckoutHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** Every business code the use case can answer, and its status: the one place they are mapped. */
const STATUS_OF: Partial<Record<BookingErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  TRIP_TOO_LARGE: 400,
  SLOT_NOT_FOUND: 409,
  SLOT_BLOCKED: 409,
  INSUFFICIENT_AVAILABILITY: 409,
  TRANSACTION_FAILED: 503,
  IDEMPOTENCY_KEY_REUSED: 422,
  TRIP_NOT_PENDING: 409,
  CHECKOUT_PAID: 409,
  CHECKOUT_REFUSED: 502,
};

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  return event.headers?.[name] ?? Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
}

/** `application/json`, in any case, with or without parameters (`; charset=utf-8`). */
function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

export function createCheckoutHandler(deps: CheckoutHandlerDeps): CheckoutHandler {
  const { logger } = deps;
  return async (event) => {
    try {
      // Only JSON: a page in a browser can send text/plain or a form to any address without asking first (no CORS
      // preflight), so accepting those would let any web page a traveller or developer opens start checkouts.
      if (!isJson(header(event, 'content-type'))) {
        return jsonResponse(415, { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'the body must be sent as content-type: application/json' });
      }
      const raw = event.body ?? '';
      const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
      if (Buffer.byteLength(text) > MAX_BODY_BYTES) return jsonResponse(413, { error: 'PAYLOAD_TOO_LARGE', maxBytes: MAX_BODY_BYTES });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return jsonResponse(400, { error: 'INVALID_JSON' });
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return jsonResponse(400, { error: 'VALIDATION_FAILED', field: '(input)', message: 'the body must be a JSON object' });
      const user = callerUser(event, (body as Record<string, unknown>).userId);
      if (!user.ok) return jsonResponse(403, { error: user.error, message: user.message });
      const idempotencyKey = header(event, 'idempotency-key');
      const input = parseInput(startCheckoutInputSchema, {
        ...(body as Record<string, unknown>),
        userId: user.userId,
        ...(idempotencyKey !== undefined && { idempotencyKey }),
      });
      const result = input.ok ? await startCheckout(deps, input.value) : input;
      if (result.ok) {
        logger.info('Started a checkout', { tripId: result.tripId, replayed: result.replayed });
        const { ok: _ok, replayed, ...answer } = result;
        return jsonResponse(replayed ? 200 : 201, answer);
      }
      const status = STATUS_OF[result.errorCode] ?? 500;
      // Stripe's own words of a refusal (a currency it does not take, an amount below its minimum) are the operator's to see.
      if (result.detail !== undefined) logger.warn('Refused a checkout', { errorCode: result.errorCode, detail: result.detail });
      else logger.info('Refused a checkout', { errorCode: result.errorCode });
      return jsonResponse(status, {
        error: result.errorCode,
        message: result.message,
        ...(result.field !== undefined && { field: result.field }),
        ...(result.slots && { slots: result.slots }),
      });
    } catch (error) {
      if (error instanceof PaymentGatewayUnavailableError) {
        // The trip and its hold are stored: the same request (same Idempotency-Key) continues where this one stopped.
        logger.warn('Stripe did not create the checkout session', { error: error.message });
        const retry = header(event, 'idempotency-key') === undefined ? 'nothing is held; try again' : 'retry with the same Idempotency-Key';
        return unavailable({ error: 'STRIPE_UNAVAILABLE', message: `The payment provider did not answer; ${retry}.` }, 5);
      }
      if (error instanceof StoreUnavailableError) {
        // A read the table did not answer (a throttled or unprocessed batch): nothing was written by this request.
        logger.warn('The table did not answer a checkout’s read', { error: error.message });
        return unavailable({ error: 'TRANSACTION_FAILED', message: 'The booking table gave no answer; try again.' }, 2);
      }
      logger.error('Unexpected failure starting a checkout', { error: error instanceof Error ? { name: error.name, message: error.message } : 'non-error' });
      return internalError();
    }
  };
}
