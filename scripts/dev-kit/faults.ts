// Fault injection in front of the real DynamoDB Local: SDK middleware that counts every call and fails chosen ones before or after they reach the table.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export type Fault =
  /** Refused before sending, as DynamoDB does under load. */
  | 'throttle'
  /** The transaction is cancelled because another one touched the same item. */
  | 'conflict'
  /** The connection fails before the request leaves: nothing is written. */
  | 'network-before'
  /** The request is applied, then the response is lost: the caller cannot tell it committed. */
  | 'lost-response'
  /** A BatchGetItem answered with every key left unprocessed, as DynamoDB does under load. */
  | 'unprocessed';

/** A call paused before it is sent, so the other side of a race can run and commit meanwhile. */
export interface Hold {
  /** Resolves when the held call has arrived at the boundary (its caller read what it read, and is about to write). */
  readonly reached: Promise<void>;
  /** Lets the held call go on to the table. */
  release(): void;
}

export interface FaultInjector {
  /** Fails the next calls of `command` (e.g. `TransactWriteItemsCommand`) with these faults, in order. */
  queue(command: string, ...faults: Fault[]): void;
  /** Holds the next call of `command` at the SDK boundary until released. */
  hold(command: string): Hold;
  /** Queries of this index find nothing, as a global index that has not caught up yet. */
  lagIndex(indexName: string): void;
  /** Drops the faults still queued. */
  clear(): void;
  /** Calls of each command seen, faulted or not. */
  readonly calls: Map<string, number>;
  readonly injected: number;
}

function throttling(): Error {
  return Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
    name: 'ThrottlingException',
    $metadata: { httpStatusCode: 400 },
  });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { name: 'Error', code });
}

function conflict(size: number): Error {
  return new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: Array.from({ length: size }, (_, index) =>
      index === 0 ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' } : { Code: 'None' },
    ),
  });
}

export function injectFaults(documentClient: DynamoDBDocumentClient): FaultInjector {
  const pending = new Map<string, Fault[]>();
  const holds = new Map<string, { arrived: () => void; gate: Promise<void> }[]>();
  const laggingIndexes = new Set<string>();
  const calls = new Map<string, number>();
  let injected = 0;
  documentClient.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      calls.set(command, (calls.get(command) ?? 0) + 1);
      const held = holds.get(command)?.shift();
      if (held) {
        held.arrived();
        await held.gate;
      }
      const indexName = (args.input as { IndexName?: string }).IndexName;
      if (command === 'QueryCommand' && indexName !== undefined && laggingIndexes.has(indexName)) {
        return { output: { Items: [], Count: 0, $metadata: {} }, response: {} } as never;
      }
      const fault = pending.get(command)?.shift();
      if (!fault) return next(args);
      injected++;
      const input = args.input as { TransactItems?: unknown[] };
      switch (fault) {
        case 'throttle':
          throw throttling();
        case 'conflict':
          throw conflict(input.TransactItems?.length ?? 1);
        case 'network-before':
          throw networkError('ECONNREFUSED');
        case 'lost-response':
          await next(args);
          throw networkError('ECONNRESET');
        case 'unprocessed': {
          const requested = (args.input as { RequestItems?: Record<string, unknown> }).RequestItems ?? {};
          const responses = Object.fromEntries(Object.keys(requested).map((table) => [table, []]));
          return { output: { Responses: responses, UnprocessedKeys: requested, $metadata: {} }, response: {} } as never;
        }
      }
    },
    { step: 'initialize', name: 'injectFaults', override: true },
  );
  return {
    queue(command, ...faults) {
      pending.set(command, [...(pending.get(command) ?? []), ...faults]);
    },
    hold(command) {
      let arrived!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      holds.set(command, [...(holds.get(command) ?? []), { arrived, gate }]);
      return { reached, release };
    },
    lagIndex(indexName) {
      laggingIndexes.add(indexName);
    },
    clear() {
      pending.clear();
      holds.clear();
      laggingIndexes.clear();
    },
    calls,
    get injected() {
      return injected;
    },
  };
}
