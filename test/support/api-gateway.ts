// Builds API Gateway HTTP API (payload format 2.0) events as API Gateway would deliver them.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export interface RequestShape {
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly isBase64Encoded?: boolean;
  readonly method?: string;
  readonly path?: string;
}

export function apiGatewayEvent(request: RequestShape = {}): APIGatewayProxyEventV2 {
  const method = request.method ?? 'POST';
  const path = request.path ?? '/webhooks/stripe';
  const now = new Date();
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    // HTTP APIs lower-case every header name.
    headers: Object.fromEntries(Object.entries({ 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', ...request.headers }).map(([k, v]) => [k.toLowerCase(), v])),
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'local.execute-api.localhost',
      domainPrefix: 'local',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Stripe/1.0' },
      requestId: `req-${now.getTime()}-${Math.random().toString(36).slice(2)}`,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: request.body,
    isBase64Encoded: request.isBase64Encoded ?? false,
  } as APIGatewayProxyEventV2;
}
