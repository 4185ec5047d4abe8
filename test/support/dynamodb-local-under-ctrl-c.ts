// Starts DynamoDB Local as `npm start` does and, on Ctrl-C, stops it and prints whether anything still answers on its port.
import { canConnect, startDynamoDbLocal } from '../../scripts/dev-kit/dynamodb-local';

const dynamo = await startDynamoDbLocal();
process.once('SIGINT', () => {
  void (async () => {
    await dynamo.stop();
    // Asked at once, as a developer starting again after Ctrl-C would: the port must be free once stop() has returned.
    console.log(`still answering: ${await canConnect(dynamo.port)}`);
    process.exit(0);
  })();
});
console.log(`listening on ${dynamo.port}`);
