// A local stand-in of Secrets Manager's GetSecretValue, so that a function reads the Stripe secret over HTTP as in AWS.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SecretsManagerStandIn {
  /** For AWS_ENDPOINT_URL_SECRETS_MANAGER: the SDK sends its requests here instead of to AWS. */
  readonly endpoint: string;
  /** GetSecretValue requests received, answered or not. */
  readonly reads: () => number;
  /** While silent, a request is read and never answered, as by a service that hangs; the connection is cut on close. */
  silent(silent: boolean): void;
  close(): Promise<void>;
}

/** Answers every GetSecretValue (awsJson1_1) with `secretString`, whatever the secret id. */
export async function startSecretsManagerStandIn(secretString: string): Promise<SecretsManagerStandIn> {
  let reads = 0;
  let silent = false;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'InvalidRequestException' }));
        return;
      }
      reads++;
      if (silent) return;
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify({ ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe', Name: 'stripe', SecretString: secretString, VersionId: 'v1' }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads: () => reads,
    silent: (value) => {
      silent = value;
    },
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
