// Tiny HTTP servers standing in for a Stripe that misbehaves in ways the Stripe fake does not: answers that trickle in, or that take their time.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MisbehavingStripe {
  readonly url: string;
  /** Each request received, as `METHOD /path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** A server whose every request, once read, is answered by `respond`; connections still open are cut on close. */
export async function misbehavingStripe(respond: (request: IncomingMessage, response: ServerResponse) => void): Promise<MisbehavingStripe> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests.push(`${request.method} ${request.url?.split('?')[0]}`);
      respond(request, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Answers 200 with its headers at once, then a space every `everyMs` until `forMs` have passed, then `json`: never idle
 * for long, so a timeout that only measures silence never fires, however long the whole answer takes.
 */
export function trickle(json: unknown, forMs: number, everyMs = 250) {
  return (_request: IncomingMessage, response: ServerResponse): void => {
    response.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_trickle' });
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started < forMs) {
        response.write(' ');
        return;
      }
      clearInterval(timer);
      response.end(JSON.stringify(json));
    }, everyMs);
    response.on('close', () => clearInterval(timer));
  };
}

/** Answers each request with `json(n)` (n from 1) after `afterMs`. */
export function slowly(afterMs: number, json: (n: number) => unknown) {
  let answered = 0;
  return (_request: IncomingMessage, response: ServerResponse): void => {
    const n = ++answered;
    const timer = setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_slow_${n}` });
      response.end(JSON.stringify(json(n)));
    }, afterMs);
    response.on('close', () => clearTimeout(timer));
  };
}
