// Document clients that answer a transaction as AWS does where DynamoDB Local answers otherwise: an update meeting a
// stored value of the wrong type cancels the transaction with a ValidationError reason (TransactWriteItems: "a user
// error, such as an invalid data format"), where DynamoDB Local throws a ValidationException.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

function withSend(client: DynamoDBDocumentClient, send: (command: unknown) => Promise<unknown>): DynamoDBDocumentClient {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'send') return send;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `client`, a type error in a transaction's slot update answered as AWS answers it. */
export function cancellingAsAws(client: DynamoDBDocumentClient): DynamoDBDocumentClient {
  return withSend(client, async (command) => {
    try {
      return await client.send(command as never);
    } catch (error) {
      const { name, message } = error as { name?: string; message?: string };
      if (!(command instanceof TransactWriteCommand) || name !== 'ValidationException' || !message?.includes('incorrect data type')) throw error;
      throw new TransactionCanceledException({
        message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: (command.input.TransactItems ?? []).map((item) =>
          String(item.Update?.Key?.pk).startsWith('SLOT#') ? { Code: 'ValidationError', Message: message } : { Code: 'None' },
        ),
      });
    }
  });
}

/** `client`, every transaction cancelled with these reasons, item by item (`None` past them); `attempts` counts them. */
export function cancellingWith(
  client: DynamoDBDocumentClient,
  codes: readonly string[],
): { readonly client: DynamoDBDocumentClient; readonly attempts: () => number } {
  let attempts = 0;
  const cancelling = withSend(client, async (command) => {
    if (!(command instanceof TransactWriteCommand)) return client.send(command as never);
    attempts++;
    throw new TransactionCanceledException({
      message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
      $metadata: { httpStatusCode: 400 },
      CancellationReasons: (command.input.TransactItems ?? []).map((_, index) => ({ Code: codes[index] ?? 'None' })),
    });
  });
  return { client: cancelling, attempts: () => attempts };
}
