// Builds the real webhook handler over DynamoDB Local and the Stripe fake, and sends it API Gateway events.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Clock } from '../../lambdas/shared/domain/collaborators';
import type { CallDeadline } from '../../lambdas/shared/invocation-deadline';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { createLocalWebhookHandler } from '../../scripts/dev-kit/local-webhook-handler';
import { SIGNING_SECRET } from '../../scripts/dev-kit/stripe-events';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { tableOf, testStore, type TestStore } from './store';

export interface WebhookResponse {
  readonly status: number;
  readonly body: Record<string, unknown> & { outcome?: string; references?: string[]; error?: string };
}

export interface HarnessOptions {
  readonly store?: TestStore;
  readonly secrets?: readonly string[];
  readonly clock?: Clock;
  readonly logLevel?: 'SILENT' | 'DEBUG';
  /** The deployment's mode. @default 'test' */
  readonly mode?: StripeMode;
  /** When each delivery's invocation ends; unbounded without one. */
  readonly deadline?: CallDeadline;
}

export function webhookHarness(fake: StripeFake, options: HarnessOptions = {}) {
  const store = options.store ?? testStore();
  let secretReads = 0;
  const metrics = new Metrics({ namespace: 'test', serviceName: 'test', singleMetric: false });
  const handler = createLocalWebhookHandler({
    store,
    stripeClient: () => fake.client(),
    ...(options.clock && { clock: options.clock }),
    ...(options.deadline && { deadline: options.deadline }),
    signingSecrets: async () => {
      secretReads++;
      return options.secrets ?? [SIGNING_SECRET];
    },
    mode: options.mode ?? 'test',
    table: tableOf(store),
    logger: new Logger({ serviceName: 'test', logLevel: options.logLevel ?? 'SILENT' }),
    metrics,
  });
  return {
    store,
    metrics,
    get secretReads() {
      return secretReads;
    },
    async send(event: APIGatewayProxyEventV2): Promise<WebhookResponse> {
      const response = await handler(event);
      return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? '{}') as WebhookResponse['body'] };
    },
  };
}
