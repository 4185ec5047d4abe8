// A function's Lambda entry module loaded afresh with a test's environment, as a cold start reads it, and a context to call it with.
import { inject, vi } from 'vitest';
import { SIGNING_SECRET } from '../../scripts/dev-kit/stripe-events';
import type { InvocationContext } from '../../lambdas/shared/invocation-deadline';
import { testTableName } from './store';

export interface ColdStartSettings {
  /** The Stripe API key the function's secret holds. */
  readonly apiKey: string;
  /** The Stripe fake's URL, in place of Stripe's API. */
  readonly stripeApiBase: string;
  /** @default the test file's table */
  readonly tableName?: string;
  /** @default 'ERROR' */
  readonly logLevel?: 'ERROR' | 'SILENT';
  /** Whether the metrics are written (on stdout), for a test that reads them. @default false */
  readonly metrics?: boolean;
  /**
   * A Secrets Manager stand-in's endpoint: the secret (`apiKey` and `SIGNING_SECRET`) is then read from it over HTTP,
   * as in AWS, instead of from the environment. @default the environment
   */
  readonly secretsManager?: string;
}

/** The secret's id when it is read from Secrets Manager. */
export const STRIPE_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe';

/** The caller undoes the environment with `vi.unstubAllEnvs()`. */
export async function coldStart<T>(load: () => Promise<T>, settings: ColdStartSettings): Promise<T> {
  vi.resetModules();
  vi.stubEnv('TABLE_NAME', settings.tableName ?? testTableName());
  vi.stubEnv('DYNAMODB_ENDPOINT', inject('dynamoEndpoint'));
  vi.stubEnv('STRIPE_API_KEY', settings.apiKey);
  vi.stubEnv('STRIPE_WEBHOOK_SECRETS', SIGNING_SECRET);
  vi.stubEnv('STRIPE_API_BASE', settings.stripeApiBase);
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', settings.logLevel ?? 'ERROR');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', settings.metrics === true ? 'false' : 'true');
  if (settings.secretsManager !== undefined) {
    vi.stubEnv('STRIPE_SECRET_ARN', STRIPE_SECRET_ARN);
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', settings.secretsManager);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  }
  return load();
}

/** What Lambda's context says of the invocation's time: `ms` left as it begins. */
export function invocationWith(ms: number): InvocationContext {
  const endsAt = Date.now() + ms;
  return { getRemainingTimeInMillis: () => endsAt - Date.now() };
}
