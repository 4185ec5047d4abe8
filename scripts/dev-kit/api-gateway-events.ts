// API Gateway HTTP API (payload format 2.0) events for tests and the benchmark, from the builder the local server uses.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { TRIP_PATH } from '../../lambdas/checkout/checkout-contract';
import { buildApiGatewayEvent } from '../local/api-gateway-adapter';

export interface RequestShape {
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly isBase64Encoded?: boolean;
  readonly method?: string;
  readonly path?: string;
  readonly rawQueryString?: string;
  /** The route template a templated path matched (`GET /trips/{tripId}`), with its parameters. */
  readonly routeKey?: string;
  readonly pathParameters?: Record<string, string>;
}

/** A request as Stripe sends it to POST /webhooks/stripe, unless told otherwise. */
export function apiGatewayEvent(request: RequestShape = {}): APIGatewayProxyEventV2 {
  return buildApiGatewayEvent({
    method: request.method ?? 'POST',
    path: request.path ?? '/webhooks/stripe',
    headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', ...request.headers },
    ...(request.body !== undefined && { body: request.body }),
    isBase64Encoded: request.isBase64Encoded ?? false,
    ...(request.rawQueryString !== undefined && { rawQueryString: request.rawQueryString }),
    ...(request.routeKey !== undefined && { routeKey: request.routeKey }),
    ...(request.pathParameters !== undefined && { pathParameters: request.pathParameters }),
  });
}

/** GET /trips/{tripId} as an IAM caller naming the traveller, as API Gateway hands it to the route. */
export function tripRequest(tripId: string, userId: string): APIGatewayProxyEventV2 {
  return apiGatewayEvent({
    method: 'GET',
    path: `/trips/${encodeURIComponent(tripId)}`,
    routeKey: `GET ${TRIP_PATH}`,
    pathParameters: { tripId },
    rawQueryString: new URLSearchParams({ userId }).toString(),
  });
}
