// One Stripe client per API key for a Lambda entry point: built on first use, rebuilt only when the secret's key is rolled.
import type Stripe from 'stripe';
import { PaymentGatewayUnavailableError } from '../domain/payment-gateway';
import { SecretUnavailableError } from '../secrets-manager';
import type { StripeKeyRejection } from './stripe-contract';
import type { StripeSecrets } from './stripe-secrets';

export interface StripeClientSettings {
  /** Another API origin (a local fake of Stripe's API); Stripe's own when absent. */
  readonly apiBase?: string | undefined;
  /** Told of every answer that refuses the key, whichever call made it. */
  readonly onKeyRejected?: (rejection: StripeKeyRejection) => void;
}

export function cachedStripeClient(secrets: () => Promise<StripeSecrets>, settings: StripeClientSettings = {}): () => Promise<Stripe> {
  let cached: { apiKey: string; client: Stripe } | undefined;
  return async () => {
    const { apiKey } = await secretsBeforeCalling(secrets);
    if (cached?.apiKey !== apiKey) {
      // Loaded here, on the first call to Stripe, so that a function which never calls it never parses the SDK.
      const { createStripeClient } = await import('./stripe-client');
      cached = {
        apiKey,
        client: createStripeClient({
          apiKey,
          ...(settings.apiBase && { apiBase: settings.apiBase }),
          ...(settings.onKeyRejected && { onKeyRejected: settings.onKeyRejected }),
        }),
      };
    }
    return cached.client;
  };
}

/**
 * The secret's API key. A secret that Secrets Manager did not give in time (or not now) is Stripe not asked: the
 * request answers as when Stripe does not answer, and is made again later (a redelivery, the same Idempotency-Key).
 */
async function secretsBeforeCalling(secrets: () => Promise<StripeSecrets>): Promise<StripeSecrets> {
  try {
    return await secrets();
  } catch (error) {
    if (error instanceof SecretUnavailableError && error.retryable) {
      throw new PaymentGatewayUnavailableError(`Stripe was not asked: its API key was not read (${error.message})`, { cause: error });
    }
    throw error;
  }
}
