// Where the Stripe API key and webhook signing secrets come from: Secrets Manager in AWS (kept a while), the environment locally.
import * as z from '../zod';
import type { StripeSecretSource } from '../config';
import type { CallDeadline } from '../invocation-deadline';
import { SecretUnavailableError, secretsManagerSecret } from '../secrets-manager';
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

/**
 * In AWS the secret is read from Secrets Manager (see secretsManagerSecret: kept 5 minutes, one read at a time, each
 * invocation waiting for a first read until only the time kept for answering is left, as a call to Stripe does).
 */
export function stripeSecretsFrom(
  source: StripeSecretSource,
  deadline?: CallDeadline,
  onKeptValueNotReplaced?: (error: unknown) => void,
): () => Promise<StripeSecrets> {
  if (source.kind === 'environment') {
    const secrets = readSecretValue({ apiKey: source.apiKey, webhookSigningSecrets: source.webhookSigningSecrets });
    return () => Promise.resolve(secrets);
  }
  return secretsManagerSecret(source.secretArn, (secretString) => readSecretValue(parsedJson(secretString)), {
    ...(deadline !== undefined && { deadline }),
    ...(onKeptValueNotReplaced !== undefined && { onKeptValueNotReplaced }),
    reserveMs: ANSWER_RESERVE_MS,
  });
}

function parsedJson(secretString: string): unknown {
  try {
    return JSON.parse(secretString);
  } catch {
    throw new SecretUnavailableError('The Stripe secret is not JSON', { retryable: false });
  }
}

/** The secret's JSON value, its keys trimmed; SecretUnavailableError naming the field (never the value) when unusable. */
export function readSecretValue(value: unknown): StripeSecrets {
  const parsed = secretValueSchema.safeParse(value);
  if (!parsed.success) throw new SecretUnavailableError(`The Stripe secret is malformed at ${parsed.error.issues[0]?.path.join('.')}`, { retryable: false });
  return parsed.data;
}

/** The deployment's mode: its API key's (stripeModeOf), read from the secret as every other use of it is. */
export function stripeModeFrom(secrets: () => Promise<StripeSecrets>): () => Promise<StripeMode> {
  return async () => stripeModeOf((await secrets()).apiKey);
}
