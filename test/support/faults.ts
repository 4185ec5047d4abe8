// Fault injection in front of the real DynamoDB Local: SDK middleware that fails chosen calls before or after they reach the table.
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
  | 'lost-response';

export interface FaultInjector {
  /** Fails the next calls of `command` (e.g. `TransactWriteItemsCommand`) with these faults, in order. */
  queue(command: string, ...faults: Fault[]): void;
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
  const calls = new Map<string, number>();
  let injected = 0;
  documentClient.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      calls.set(command, (calls.get(command) ?? 0) + 1);
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
      }
    },
    { step: 'initialize', name: 'injectFaults', override: true },
  );
  return {
    queue(command, ...faults) {
      pending.set(command, [...(pending.get(command) ?? []), ...faults]);
    },
    clear() {
      pending.clear();
    },
    calls,
    get injected() {
      return injected;
    },
  };
}
