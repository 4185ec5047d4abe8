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
  /** While half-answering, a request gets the answer's headers and its first bytes, then nothing more (a stalled body). */
  halfAnswer(halfAnswer: boolean): void;
  /** From now on, answers with `secretString` (a rolled secret). */
  answer(secretString: string): void;
  /** From now on (until `answer`), answers every read with Secrets Manager's error `type`, as its API does. */
  refuse(type: string, status: number): void;
  /** Settles once `count` requests left unanswered have been given up by their caller (their connection closed). */
  givenUp(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Answers every GetSecretValue (awsJson1_1) with `secretString`, whatever the secret id. */
export async function startSecretsManagerStandIn(secretString: string): Promise<SecretsManagerStandIn> {
  let reads = 0;
  let silent = false;
  let halfAnswer = false;
  let answer = secretString;
  let refusal: { type: string; status: number } | undefined;
  let givenUp = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const oneGivenUp = (): void => {
    givenUp++;
    for (const waiter of waiting.filter((candidate) => candidate.count <= givenUp)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'InvalidRequestException' }));
        return;
      }
      reads++;
      if (silent) {
        response.on('close', oneGivenUp);
        return;
      }
      if (halfAnswer) {
        const body = JSON.stringify({ SecretString: answer });
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(body)) });
        response.write(body.slice(0, 10));
        response.on('close', oneGivenUp);
        return;
      }
      if (refusal) {
        response.writeHead(refusal.status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: refusal.type, message: `${refusal.type} (stand-in)` }));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify({ ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe', Name: 'stripe', SecretString: answer, VersionId: 'v1' }),
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
    halfAnswer: (value) => {
      halfAnswer = value;
    },
    answer: (value) => {
      answer = value;
      refusal = undefined;
    },
    refuse: (type, status) => {
      refusal = { type, status };
    },
    givenUp: (count) =>
      count <= givenUp
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiting.push({ count, resolve });
          }),
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
