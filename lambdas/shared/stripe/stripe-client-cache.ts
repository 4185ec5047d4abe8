// One Stripe client per API key for a Lambda entry point: built on first use, rebuilt only when the secret's key is rolled.
import type Stripe from 'stripe';
import type { StripeSecrets } from './stripe-secrets';

export function cachedStripeClient(secrets: () => Promise<StripeSecrets>, apiBase?: string): () => Promise<Stripe> {
  let cached: { apiKey: string; client: Stripe } | undefined;
  return async () => {
    const { apiKey } = await secrets();
    if (cached?.apiKey !== apiKey) {
      // Loaded here, on the first call to Stripe, so that a function which never calls it never parses the SDK.
      const { createStripeClient } = await import('./stripe-client');
      cached = { apiKey, client: createStripeClient({ apiKey, ...(apiBase && { apiBase }) }) };
    }
    return cached.client;
  };
}
