// Configuration is parsed once, and a missing variable fails with its name; the Stripe secret is read and trimmed in one place.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadTableConfig } from '../../lambdas/shared/config';
import { SecretUnavailableError } from '../../lambdas/shared/secrets-manager';
import { readSecretValue, stripeSecretsFrom } from '../../lambdas/shared/stripe/stripe-secrets';
import { localSettings } from '../../scripts/local/local-settings';

describe('loadConfig', () => {
  it('reads the secret ARN in AWS, the tolerance default and the hold default', () => {
    expect(loadConfig({ TABLE_NAME: 't', STRIPE_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:s' })).toEqual({
      tableName: 't',
      stripeSecrets: { kind: 'secrets-manager', secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:s' },
      signatureToleranceSeconds: 300,
      holdMinutes: 30,
    });
  });

  it.each(['29', '1441', '45.5', 'soon'])('refuses CHECKOUT_HOLD_MINUTES=%s, naming the variable', (value) => {
    expect(() => loadConfig({ TABLE_NAME: 't', STRIPE_SECRET_ARN: 'arn', CHECKOUT_HOLD_MINUTES: value })).toThrow(/CHECKOUT_HOLD_MINUTES is invalid/);
  });

  it('reads plain secrets locally, several signing secrets separated by commas', () => {
    const config = loadConfig({
      TABLE_NAME: 't',
      STRIPE_API_KEY: 'sk_test_1',
      STRIPE_WEBHOOK_SECRETS: 'whsec_a, whsec_b',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
    });
    expect(config.stripeSecrets).toEqual({ kind: 'environment', apiKey: 'sk_test_1', webhookSigningSecrets: ['whsec_a', 'whsec_b'] });
    expect(config.dynamoDbEndpoint).toBe('http://127.0.0.1:8000');
  });

  it.each([
    [{}, 'Environment variable TABLE_NAME is missing'],
    [{ TABLE_NAME: 't' }, 'Environment variable STRIPE_SECRET_ARN is missing'],
    [{ TABLE_NAME: 't', STRIPE_SECRET_ARN: 'a', DYNAMODB_ENDPOINT: 'not a url' }, 'Environment variable DYNAMODB_ENDPOINT is invalid'],
    [{ TABLE_NAME: 't', STRIPE_SECRET_ARN: 'a', STRIPE_WEBHOOK_TOLERANCE_SECONDS: '-5' }, 'Environment variable STRIPE_WEBHOOK_TOLERANCE_SECONDS is invalid'],
  ])('fails on %j naming the variable', (environment, message) => {
    expect(() => loadConfig(environment)).toThrow(message);
  });

  it('needs only the table for entry points that never call Stripe', () => {
    expect(loadTableConfig({ TABLE_NAME: 't' })).toEqual({ tableName: 't' });
  });
});

describe('loadConfig errors', () => {
  it('says "invalid", not "missing", for a variable that is set to something unusable', () => {
    expect(() => loadConfig({ TABLE_NAME: 't', STRIPE_SECRET_ARN: 'a', STRIPE_WEBHOOK_TOLERANCE_SECONDS: 'soon' })).toThrow(
      'Environment variable STRIPE_WEBHOOK_TOLERANCE_SECONDS is invalid',
    );
  });
});

describe('the Stripe secret', () => {
  it('trims the whitespace a paste leaves around its keys, so the client, the mode and the signatures read one key', async () => {
    expect(readSecretValue({ apiKey: ' sk_live_1\n', webhookSigningSecrets: ['whsec_a\r\n', '\twhsec_b'] })).toEqual({
      apiKey: 'sk_live_1',
      webhookSigningSecrets: ['whsec_a', 'whsec_b'],
    });
    const local = stripeSecretsFrom({ kind: 'environment', apiKey: 'sk_test_1 \n', webhookSigningSecrets: ['whsec_a'] });
    expect((await local()).apiKey).toBe('sk_test_1');
  });

  it.each([
    [{ apiKey: ' \n', webhookSigningSecrets: ['whsec_a'] }, 'apiKey'],
    [{ apiKey: 'sk_test_1', webhookSigningSecrets: [] }, 'webhookSigningSecrets'],
    [{ apiKey: 'sk_test_1', webhookSigningSecrets: ['whsec_a', '  '] }, 'webhookSigningSecrets.1'],
  ])('refuses %j, naming the field and never the value', (value, field) => {
    expect(() => readSecretValue(value)).toThrow(new SecretUnavailableError(`The Stripe secret is malformed at ${field}`, { retryable: false }));
  });
});

describe('Stripe keys from the environment', () => {
  it.each([
    [{ STRIPE_WEBHOOK_SECRETS: ' , ' }, 'Environment variable STRIPE_WEBHOOK_SECRETS is invalid: it names no signing secret'],
    [{ STRIPE_API_KEY: ' \n' }, 'Environment variable STRIPE_API_KEY is invalid: it is blank'],
  ])('refuses %j at configuration, naming the variable', (variables, message) => {
    const environment = { TABLE_NAME: 't', STRIPE_API_KEY: 'sk_test_1', STRIPE_WEBHOOK_SECRETS: 'whsec_a', ...variables };
    expect(() => loadConfig(environment)).toThrow(new ConfigError(message));
  });

  it('trims the key npm start is given, and takes a blank one for none (the local stand-in then answers)', () => {
    expect(localSettings({ STRIPE_API_KEY: 'sk_test_1\n' }).stripeApiKey).toBe('sk_test_1');
    expect(localSettings({ STRIPE_API_KEY: '  ' })).not.toHaveProperty('stripeApiKey');
  });
});
