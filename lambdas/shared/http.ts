// The HTTP responses of the API Gateway entry points, built in one place.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export function jsonResponse(statusCode: number, body: Record<string, unknown>): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A 503 the caller may retry after `seconds` (`Retry-After`). */
export function unavailable(body: Record<string, unknown>, seconds: number): APIGatewayProxyStructuredResultV2 {
  const response = jsonResponse(503, body);
  return { ...response, headers: { ...response.headers, 'retry-after': String(seconds) } };
}

/** The one body a 500 ever has: no error text, no stack, nothing of the request. */
export function internalError(): APIGatewayProxyStructuredResultV2 {
  return jsonResponse(500, { received: false, error: 'INTERNAL_ERROR' });
}
