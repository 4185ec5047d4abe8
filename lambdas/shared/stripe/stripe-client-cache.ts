// One Stripe client per API key for a Lambda entry point: built on first use, rebuilt only when the secret's key is rolled.
import type Stripe from 'stripe';
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
    const { apiKey } = await secrets();
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
