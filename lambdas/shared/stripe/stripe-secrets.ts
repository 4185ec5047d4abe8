// Where the Stripe API key and webhook signing secrets come from: Secrets Manager in AWS (cached), the environment locally.
import * as z from '../zod';
import type { StripeSecretSource } from '../config';
import { settledBefore, type CallDeadline } from '../invocation-deadline';
import { ANSWER_RESERVE_MS } from './stripe-call-time';
import { stripeModeOf, type StripeMode } from './stripe-contract';

export interface StripeSecrets {
  readonly apiKey: string;
  /** Every secret currently accepted: more than one while a signing secret is being rolled. */
  readonly webhookSigningSecrets: readonly string[];
}

/**
 * Whitespace around a key is a paste's, never the key's (Stripe's keys and secrets have none): trimmed here, the one
 * place every user of the secret reads it from, so the client, the mode check and the signature check see one key.
 * Left in, a newline after the API key made every Stripe call fail as if Stripe were unreachable while the mode read fine.
 */
const keySchema = z.string().check(z.trim(), z.minLength(1));
const secretValueSchema = z.object({
  apiKey: keySchema,
  webhookSigningSecrets: z.array(keySchema).check(z.minLength(1)),
});

/** A rolled secret reaches warm functions within this long; meanwhile nothing is fetched per request. */
const SECRET_CACHE_SECONDS = 300;

export class SecretUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SecretUnavailableError';
  }
}

/**
 * With a `deadline`, a read of Secrets Manager (a cold start's, or once the cache is stale) ends in time for the
 * invocation to answer, as a call to Stripe does: a Secrets Manager that does not answer fails the request, not the
 * invocation. The read itself is left to finish, and fills the cache if it does.
 */
export function stripeSecretsFrom(source: StripeSecretSource, deadline?: CallDeadline): () => Promise<StripeSecrets> {
  if (source.kind === 'environment') {
    const secrets = readSecretValue({ apiKey: source.apiKey, webhookSigningSecrets: source.webhookSigningSecrets });
    return () => Promise.resolve(secrets);
  }
  return async () => {
    let value: unknown;
    try {
      // Loaded on the first read (the first delivery of a cold start in AWS), not at import: locally, the tests and the
      // bench take the secrets from the environment and never need the Secrets Manager client.
      const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
      value = await settledBefore(
        getSecret(source.secretArn, { maxAge: SECRET_CACHE_SECONDS, transform: 'json' }),
        deadline,
        ANSWER_RESERVE_MS,
        'Reading the Stripe secret',
      );
    } catch (error) {
      throw new SecretUnavailableError('The Stripe secret could not be read', { cause: error });
    }
    return readSecretValue(value);
  };
}

/** The secret's JSON value, its keys trimmed; SecretUnavailableError naming the field (never the value) when unusable. */
export function readSecretValue(value: unknown): StripeSecrets {
  const parsed = secretValueSchema.safeParse(value);
  if (!parsed.success) throw new SecretUnavailableError(`The Stripe secret is malformed at ${parsed.error.issues[0]?.path.join('.')}`);
  return parsed.data;
}

/** The deployment's mode: its API key's (stripeModeOf), read from the secret as every other use of it is. */
export function stripeModeFrom(secrets: () => Promise<StripeSecrets>): () => Promise<StripeMode> {
  return async () => stripeModeOf((await secrets()).apiKey);
}
