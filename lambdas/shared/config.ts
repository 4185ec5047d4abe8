// Configuration of the Lambda entry points, parsed from the environment once at cold start.
import * as z from './zod';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Stripe's own default: an event signed more than 5 minutes away from now is refused as a possible replay. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

const nonEmpty = z.string().check(z.minLength(1));

const environmentSchema = z.object({
  TABLE_NAME: nonEmpty,
  /** DynamoDB Local; absent in AWS. */
  DYNAMODB_ENDPOINT: z.optional(z.url()),
  /** In AWS: a Secrets Manager secret holding `{ apiKey, webhookSigningSecrets: [...] }`. */
  STRIPE_SECRET_ARN: z.optional(nonEmpty),
  /** Locally, instead of the secret: the API key and comma-separated signing secrets. */
  STRIPE_API_KEY: z.optional(nonEmpty),
  STRIPE_WEBHOOK_SECRETS: z.optional(nonEmpty),
  /** A local fake of Stripe's API; Stripe's own when absent. */
  STRIPE_API_BASE: z.optional(z.url()),
  /** How long checkout holds seats for a payment, in minutes (Stripe allows a session 30 minutes to 24 hours). */
  CHECKOUT_HOLD_MINUTES: z._default(
    z.coerce.number().check(z.refine((minutes) => Number.isInteger(minutes) && minutes >= 30 && minutes <= 1440, 'must be whole minutes from 30 to 1440')),
    30,
  ),
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z._default(
    z.coerce.number().check(z.refine((seconds) => Number.isInteger(seconds) && seconds > 0, 'must be a whole number of seconds above 0')),
    DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  ),
});

export type StripeSecretSource =
  | { readonly kind: 'secrets-manager'; readonly secretArn: string }
  | { readonly kind: 'environment'; readonly apiKey: string; readonly webhookSigningSecrets: readonly string[] };

export interface AppConfig {
  readonly tableName: string;
  readonly dynamoDbEndpoint?: string;
  readonly stripeSecrets: StripeSecretSource;
  readonly stripeApiBase?: string;
  readonly signatureToleranceSeconds: number;
  readonly holdMinutes: number;
}

function parseEnvironment<T extends z.ZodMiniType>(schema: T, environment: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(environment);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = String(issue?.path[0]);
  throw new ConfigError(`Environment variable ${name} ${environment[name] === undefined ? 'is missing' : `is invalid: ${issue?.message}`}`);
}

/** The table alone, for entry points that never talk to Stripe. */
export function loadTableConfig(environment: NodeJS.ProcessEnv = process.env): Pick<AppConfig, 'tableName' | 'dynamoDbEndpoint'> {
  const env = parseEnvironment(z.pick(environmentSchema, { TABLE_NAME: true, DYNAMODB_ENDPOINT: true }), environment);
  return { tableName: env.TABLE_NAME, ...(env.DYNAMODB_ENDPOINT !== undefined && { dynamoDbEndpoint: env.DYNAMODB_ENDPOINT }) };
}

/** Parses the environment; a missing or malformed variable fails with its name. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): AppConfig {
  const env = parseEnvironment(environmentSchema, environment);
  let stripeSecrets: StripeSecretSource;
  if (env.STRIPE_SECRET_ARN) {
    stripeSecrets = { kind: 'secrets-manager', secretArn: env.STRIPE_SECRET_ARN };
  } else if (env.STRIPE_API_KEY && env.STRIPE_WEBHOOK_SECRETS) {
    const webhookSigningSecrets = env.STRIPE_WEBHOOK_SECRETS.split(',')
      .map((secret) => secret.trim())
      .filter(Boolean);
    if (webhookSigningSecrets.length === 0) throw new ConfigError('Environment variable STRIPE_WEBHOOK_SECRETS is invalid: it names no signing secret');
    const apiKey = env.STRIPE_API_KEY.trim();
    if (!apiKey) throw new ConfigError('Environment variable STRIPE_API_KEY is invalid: it is blank');
    stripeSecrets = { kind: 'environment', apiKey, webhookSigningSecrets };
  } else {
    throw new ConfigError('Environment variable STRIPE_SECRET_ARN is missing (or, locally, STRIPE_API_KEY and STRIPE_WEBHOOK_SECRETS)');
  }
  return {
    tableName: env.TABLE_NAME,
    stripeSecrets,
    signatureToleranceSeconds: env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    holdMinutes: env.CHECKOUT_HOLD_MINUTES,
    ...(env.DYNAMODB_ENDPOINT !== undefined && { dynamoDbEndpoint: env.DYNAMODB_ENDPOINT }),
    ...(env.STRIPE_API_BASE !== undefined && { stripeApiBase: env.STRIPE_API_BASE }),
  };
}
