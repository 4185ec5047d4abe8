// The local API Gateway's routing and events: templated routes (`GET /trips/{tripId}`) and the query, as an HTTP API hands them over.
import { describe, expect, it } from 'vitest';
import { buildApiGatewayEvent, matchRoute, requestTarget } from '../../scripts/local/api-gateway-adapter';

const routes = { 'POST /checkout': 'checkout', 'GET /trips/{tripId}': 'trip', 'POST /webhooks/stripe': 'webhook' };

describe('matchRoute', () => {
  it('takes an exact route as it is, with no parameters', () => {
    expect(matchRoute(routes, 'POST', '/checkout')).toEqual({ handler: 'checkout', routeKey: 'POST /checkout', pathParameters: {} });
  });

  it('fills a route’s {name} segments from the path, decoded, and names the route by its template', () => {
    expect(matchRoute(routes, 'GET', '/trips/trip-1%3Ax')).toEqual({
      handler: 'trip',
      routeKey: 'GET /trips/{tripId}',
      pathParameters: { tripId: 'trip-1:x' },
    });
  });

  it.each([
    ['another method', 'POST', '/trips/trip-1'],
    ['an empty segment', 'GET', '/trips/'],
    ['more segments', 'GET', '/trips/trip-1/bookings'],
    ['a malformed escape', 'GET', '/trips/%E0%A4%A'],
    ['another path', 'GET', '/admin'],
  ])('matches nothing for %s', (_name, method, path) => {
    expect(matchRoute(routes, method, path)).toBeUndefined();
  });
});

describe('requestTarget', () => {
  it.each([
    ['a path and a query', '/trips/trip-1?userId=u&x=%2F', { path: '/trips/trip-1', rawQueryString: 'userId=u&x=%2F' }],
    ['no query', '/checkout', { path: '/checkout', rawQueryString: '' }],
    ['an empty query', '/checkout?', { path: '/checkout', rawQueryString: '' }],
    ['a second ? inside the query', '/trips/t?a=b?c', { path: '/trips/t', rawQueryString: 'a=b?c' }],
    // What a URL parser would resolve (a host, a backslash, dot segments) stays as sent, so no route takes it.
    ['an empty first segment', '//evil.example/trips/t?userId=u', { path: '//evil.example/trips/t', rawQueryString: 'userId=u' }],
    ['a backslash', '/trips\\t', { path: '/trips\\t', rawQueryString: '' }],
    ['dot segments', '/x/../trips/t', { path: '/x/../trips/t', rawQueryString: '' }],
  ])('takes the path up to the first ? as sent, for %s', (_name, target, expected) => {
    expect(requestTarget(target)).toEqual(expected);
  });

  it.each(['//evil.example/trips/t', '/trips\\t', '/x/../trips/t'])('leaves %s to no route', (target) => {
    expect(matchRoute(routes, 'GET', requestTarget(target).path)).toBeUndefined();
  });
});

describe('buildApiGatewayEvent', () => {
  it('gives the query as queryStringParameters, repeated names joined with commas, and the route’s parameters', () => {
    const event = buildApiGatewayEvent({
      method: 'GET',
      path: '/trips/trip-1',
      rawQueryString: 'userId=user%2B1&tag=a&tag=b',
      headers: {},
      routeKey: 'GET /trips/{tripId}',
      pathParameters: { tripId: 'trip-1' },
    });
    expect(event).toMatchObject({
      routeKey: 'GET /trips/{tripId}',
      rawPath: '/trips/trip-1',
      rawQueryString: 'userId=user%2B1&tag=a&tag=b',
      queryStringParameters: { userId: 'user+1', tag: 'a,b' },
      pathParameters: { tripId: 'trip-1' },
      requestContext: { routeKey: 'GET /trips/{tripId}', http: { method: 'GET', path: '/trips/trip-1' } },
    });
  });

  it('leaves queryStringParameters and pathParameters out when there are none, as API Gateway does', () => {
    const event = buildApiGatewayEvent({ method: 'POST', path: '/checkout', headers: {} });
    expect(event.routeKey).toBe('POST /checkout');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event).not.toHaveProperty('pathParameters');
  });
});
