// Serves Lambda handlers on localhost the way API Gateway's HTTP API (payload format 2.0) would call them.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** Content types API Gateway passes as text; every other body arrives base64-encoded. */
const TEXT_CONTENT = /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript)|[^;]*\+(json|xml))/i;
/** API Gateway's own limit on a request payload. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface ApiGatewayRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQueryString?: string;
  /** Header names as received; they are lower-cased, as HTTP APIs do. */
  readonly headers: Record<string, string>;
  /** The body as API Gateway hands it over: text, or base64 when `isBase64Encoded`. */
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly sourceIp?: string;
  readonly protocol?: string;
  /** The route matched, as API Gateway names it (`GET /trips/{tripId}`). @default `METHOD path` */
  readonly routeKey?: string;
  /** The values of the route's `{name}` segments, decoded. */
  readonly pathParameters?: Record<string, string>;
}

/** The query as API Gateway hands it over: repeated names joined with commas; absent when there is no query. */
function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  return parameters;
}

/** The one builder of payload-format-2.0 events: the local server and the tests both use it. */
export function buildApiGatewayEvent(request: ApiGatewayRequest): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
  const routeKey = request.routeKey ?? `${request.method} ${request.path}`;
  const queryStringParameters = queryParameters(request.rawQueryString ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: request.path,
    rawQueryString: request.rawQueryString ?? '',
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: request.method,
        path: request.path,
        protocol: request.protocol ?? 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(queryStringParameters && { queryStringParameters }),
    ...(request.pathParameters && { pathParameters: request.pathParameters }),
    ...(request.body !== undefined && { body: request.body }),
    isBase64Encoded: request.isBase64Encoded ?? false,
  };
}

/**
 * The request target's path and query exactly as sent: split at the first `?`, nothing resolved. A URL parser would
 * read `//host/trips/x` as a host and a path, and `/trips\x` as `/trips/x`, and route what API Gateway answers 404.
 */
export function requestTarget(url: string | undefined): { readonly path: string; readonly rawQueryString: string } {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return query === -1 ? { path: target, rawQueryString: '' } : { path: target.slice(0, query), rawQueryString: target.slice(query + 1) };
}

export function toApiGatewayEvent(
  request: IncomingMessage,
  body: Buffer,
  route?: { readonly routeKey: string; readonly pathParameters: Record<string, string> },
): APIGatewayProxyEventV2 {
  const { path, rawQueryString } = requestTarget(request.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const isText = TEXT_CONTENT.test(request.headers['content-type'] ?? '');
  return buildApiGatewayEvent({
    method: request.method ?? 'GET',
    path,
    rawQueryString,
    headers,
    ...(body.length > 0 && { body: isText ? body.toString('utf8') : body.toString('base64'), isBase64Encoded: !isText }),
    sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
    protocol: `HTTP/${request.httpVersion}`,
    ...(route && { routeKey: route.routeKey, pathParameters: route.pathParameters }),
  });
}

/**
 * The route a request takes, as API Gateway picks it: the exact key first, else a key whose `{name}` segments each
 * match one non-empty path segment (their values decoded).
 */
export function matchRoute<T>(
  routes: Record<string, T>,
  method: string,
  path: string,
): { readonly handler: T; readonly routeKey: string; readonly pathParameters: Record<string, string> } | undefined {
  const exact = routes[`${method} ${path}`];
  if (exact) return { handler: exact, routeKey: `${method} ${path}`, pathParameters: {} };
  const segments = path.split('/');
  for (const [routeKey, handler] of Object.entries(routes)) {
    const [routeMethod, template = ''] = routeKey.split(' ');
    const templateSegments = template.split('/');
    if (routeMethod !== method || templateSegments.length !== segments.length || !template.includes('{')) continue;
    const pathParameters: Record<string, string> = {};
    const matches = templateSegments.every((part, index) => {
      const segment = segments[index] ?? '';
      const name = /^\{([A-Za-z0-9_]+)\}$/.exec(part)?.[1];
      if (name === undefined) return part === segment;
      const value = decodedSegment(segment);
      if (value === undefined) return false;
      pathParameters[name] = value;
      return true;
    });
    if (matches) return { handler, routeKey, pathParameters };
  }
  return undefined;
}

function send(response: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body = result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  response.writeHead(result.statusCode ?? 200, { ...(result.headers as Record<string, string> | undefined) });
  response.end(body);
}

/** A path segment's value; undefined for an empty or malformed one (a lone `%`), which no route parameter takes. */
function decodedSegment(segment: string): string | undefined {
  try {
    return segment === '' ? undefined : decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** An HTTP server that routes `METHOD /path` (or `METHOD /path/{name}`) to its handler, answering 404 like API Gateway for anything else. */
export function serveRoutes(routes: Record<string, HttpHandler>, onRequest?: (routeKey: string, status: number, ms: number) => void): Server {
  return createServer((request, response) => {
    const started = Date.now();
    void (async () => {
      const body = await readBody(request);
      const method = request.method ?? 'GET';
      const { path } = requestTarget(request.url);
      const route = matchRoute(routes, method, path);
      let result: APIGatewayProxyStructuredResultV2;
      if (!body) result = { statusCode: 413, body: JSON.stringify({ message: 'Request Entity Too Large' }) };
      else {
        result = route
          ? await route
              .handler(toApiGatewayEvent(request, body, route))
              .catch(() => ({ statusCode: 500, body: JSON.stringify({ message: 'Internal Server Error' }) }))
          : { statusCode: 404, body: JSON.stringify({ message: 'Not Found' }) };
      }
      send(response, result);
      onRequest?.(`${method} ${path}`, result.statusCode ?? 200, Date.now() - started);
    })();
  });
}
