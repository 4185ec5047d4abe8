// One Stripe client per API key for a Lambda entry point: built on first use, rebuilt only when the secret's key is rolled.
import type Stripe from 'stripe';
import { createStripeClient } from './stripe-gateway';
import type { StripeSecrets } from './stripe-secrets';

export function cachedStripeClient(secrets: () => Promise<StripeSecrets>, apiBase?: string): () => Promise<Stripe> {
  let cached: { apiKey: string; client: Stripe } | undefined;
  return async () => {
    const { apiKey } = await secrets();
    if (cached?.apiKey !== apiKey) cached = { apiKey, client: createStripeClient({ apiKey, ...(apiBase && { apiBase }) }) };
    return cached.client;
  };
}
